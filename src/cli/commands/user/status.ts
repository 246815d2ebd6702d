/** `cinebox user status`: your standing: VIP or not, today's usage against the allowance, speed, sessions, what you bought. */
import type { ArgumentsCamelCase } from 'yargs';
import { statusText } from '../../../client/ui/policy-view.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

export const command = 'status';
export const describe = "Show your account: VIP, today's downloads against your allowance, speed, sessions, purchases";

export function handler(args: ArgumentsCamelCase<ClientArgs>): Promise<void> {
  return runClientCommand(args, 'user', true, async ({ client, say }) => {
    const status = await client.status();
    say(statusText(status));
    return status;
  });
}
