/** `cinebox user history`: what this viewer downloaded, newest first. */
import type { ArgumentsCamelCase } from 'yargs';
import { historyTable } from '../../../client/ui/table.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

export const command = 'history';
export const describe = 'Show your download history';

export function handler(args: ArgumentsCamelCase<ClientArgs>): Promise<void> {
  return runClientCommand(args, 'user', true, async ({ client, say, columns }) => {
    const records = await client.history();
    say(records.length ? historyTable(records, columns) : 'no downloads yet');
    return { records };
  });
}
