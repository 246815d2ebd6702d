/** `cinebox admin users`: every account, with its role, VIP and lock state, as a table or JSON. */
import type { ArgumentsCamelCase } from 'yargs';
import { usersTable } from '../../../client/ui/table.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

export const command = 'users';
export const describe = 'List the accounts (role, VIP, locks, failed logins)';

export function handler(args: ArgumentsCamelCase<ClientArgs>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say, columns }) => {
    const users = await client.listUsers();
    say(usersTable(users, columns));
    return { users };
  });
}
