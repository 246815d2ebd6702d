/** `cinebox user notices` / `cinebox admin notices`: the published notices, newest first. */
import type { ArgumentsCamelCase, CommandModule } from 'yargs';
import type { Role } from '../../../client/cinebox-client.js';
import { noticesTable } from '../../../client/ui/table.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

export function noticesCommand(role: Role): CommandModule<ClientArgs, ClientArgs> {
  return {
    command: 'notices',
    describe: 'Read the notices',
    handler: (args: ArgumentsCamelCase<ClientArgs>) =>
      runClientCommand(args, role, true, async ({ client, say, columns }) => {
        const notices = await client.notices();
        say(notices.length ? noticesTable(notices, columns) : 'no notices yet');
        return { notices };
      }),
  };
}
