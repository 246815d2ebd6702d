/**
 * `cinebox admin lock NAME` and `cinebox admin unlock NAME`: one command shape, two verbs.
 * A lock keeps an account out until an admin lifts it (its sessions stop at once); unlock
 * lifts it, and a temporary lock after failed logins too.
 */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { CineboxClient } from '../../../client/cinebox-client.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { user: string };

function lockCommand(verb: 'lock' | 'unlock', describe: string, act: (client: CineboxClient, user: string) => Promise<void>): CommandModule<ClientArgs, Args> {
  return {
    command: `${verb} <user>`,
    describe,
    builder: (yargs: Argv<ClientArgs>) => yargs.positional('user', { type: 'string', demandOption: true, describe: 'Account name (see `users`)' }),
    handler: (args: ArgumentsCamelCase<Args>) =>
      runClientCommand(args, 'admin', true, async ({ client, say }) => {
        await act(client, args.user);
        say(`${verb}ed ${args.user}`);
        return { [`${verb}ed`]: args.user };
      }),
  };
}

export const lock = lockCommand('lock', 'Lock an account: it can no longer log in or make requests', (client, user) => client.lockUser(user));
export const unlock = lockCommand('unlock', 'Unlock an account (also clears a lock after failed logins)', (client, user) => client.unlockUser(user));
