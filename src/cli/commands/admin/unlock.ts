/** `cinebox admin unlock NAME`: lift an admin's lock, or a temporary lock after failed logins. */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { user: string };

export const command = 'unlock <user>';
export const describe = 'Unlock an account (also clears a lock after failed logins)';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs.positional('user', { type: 'string', demandOption: true, describe: 'Account name (see `users`)' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    await client.unlockUser(args.user);
    say(`unlocked ${args.user}`);
    return { unlocked: args.user };
  });
}
