/** `cinebox admin unblock ADDRESS [--user NAME]`: lift the login blocks of an address (or of one account from it). */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { address: string; user?: string };

export const command = 'unblock <address>';
export const describe = 'Lift the login blocks of an address (see `blocks`)';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs
    .positional('address', { type: 'string', demandOption: true, describe: 'Client address, as `blocks` shows it' })
    .option('user', { type: 'string', describe: 'Only the block of this account from that address' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    say(await client.unblockAddress(args.address, args.user));
    return { unblocked: args.address, ...(args.user === undefined ? {} : { user: args.user }) };
  });
}
