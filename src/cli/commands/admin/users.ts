/** `cinebox admin users`: every account, with its role, VIP and lock state, then the viewers' policies and today's usage; as tables or JSON. */
import type { ArgumentsCamelCase } from 'yargs';
import { usersTable, viewerPoliciesTable } from '../../../client/ui/table.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

export const command = 'users';
export const describe = "List the accounts (role, VIP, locks, failed logins) and the viewers' policies";

export function handler(args: ArgumentsCamelCase<ClientArgs>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say, columns }) => {
    const users = await client.listUsers();
    say(usersTable(users, columns));
    const policies = viewerPoliciesTable(users, columns);
    if (policies) say(`\n${policies}`);
    return { users };
  });
}
