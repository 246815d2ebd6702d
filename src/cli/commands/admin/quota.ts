/**
 * `cinebox admin quota NAME SIZE`: set an admin's storage quota (500M, 2G, `unlimited`, or
 * `default` for the server's --admin-quota). A subcommand of `cinebox admin`, whose
 * connection and account options it uses.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { fail, runClientCommand, type ClientArgs } from '../../client-command.js';
import { UsageError } from '../../exit-codes.js';
import { parseQuota } from '../../sizes.js';

type Args = ClientArgs & { user: string; size: string };

export const command = 'quota <user> <size>';
export const describe = "Set an admin's storage quota (e.g. 500M, 2G, unlimited, default)";

export function builder(yargs: Argv<ClientArgs>) {
  return yargs
    .positional('user', { type: 'string', demandOption: true, describe: 'The admin whose quota to set' })
    .positional('size', { type: 'string', demandOption: true, describe: 'Bytes, or with K/M/G/T (powers of 1024); unlimited; default' })
    .example('$0 admin quota alice 2G', "set alice's quota to 2 GiB")
    .example('$0 admin quota alice default', 'back to the server default (--admin-quota)');
}

export async function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  let quotaBytes: number | null;
  try {
    quotaBytes = parseQuota(args.size);
  } catch (error) {
    fail(new UsageError((error as Error).message), args.json);
    return;
  }
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    const { msg, ...result } = await client.setQuota(args.user, quotaBytes);
    say(msg);
    return result;
  });
}
