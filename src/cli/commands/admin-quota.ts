/**
 * `cinebox admin quota NAME SIZE`: set an admin's storage quota (500M, 2G, `unlimited`, or
 * `default` for the server's --admin-quota). A subcommand of `cinebox admin`, whose
 * connection and account options it uses.
 */
import { readFile } from 'node:fs/promises';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ClientConnection, type ConnectOptions } from '../../client/connection.js';
import { wirePassword } from '../../protocol/wire-password.js';
import { credentials, fail, type ClientArgs } from '../client-command.js';
import { parseQuota } from '../sizes.js';

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

/** The same connection options as every client command (--tls, --ca, --client-secret, --connect-timeout). */
async function connectOptions(args: ClientArgs): Promise<ConnectOptions> {
  const options: ConnectOptions = { host: args.host, port: args.port, timeoutMs: (args.connectTimeout ?? 10) * 1000 };
  if (args.ca !== undefined) options.tls = { ca: await readFile(args.ca) };
  else if (args.tls) options.tls = true;
  if (args.clientSecret) options.clientSecret = args.clientSecret;
  return options;
}

export async function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  let conn: ClientConnection | undefined;
  try {
    const quotaBytes = parseQuota(args.size);
    conn = await ClientConnection.connect(await connectOptions(args));
    const { name, password } = await credentials(args);
    await conn.call('login', { name, password: wirePassword(password), user_type: 'admin' });
    const reply = await conn.call('set_quota', { name: args.user, quota_bytes: quotaBytes });
    const result = { name: reply.name, quota_bytes: reply.quota_bytes, used_bytes: reply.used_bytes, is_default: reply.is_default };
    if (args.json) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else process.stdout.write(`${reply.msg}\n`);
  } catch (error) {
    fail(error);
  } finally {
    conn?.close();
  }
}
