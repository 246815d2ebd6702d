/** `cinebox admin lock NAME`: lock an account out until an admin unlocks it (its sessions stop at once). */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { user: string };

export const command = 'lock <user>';
export const describe = 'Lock an account: it can no longer log in or make requests';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs.positional('user', { type: 'string', demandOption: true, describe: 'Account name (see `users`)' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    await client.lockUser(args.user);
    say(`locked ${args.user}`);
    return { locked: args.user };
  });
}
