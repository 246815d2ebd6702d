/** `cinebox admin blocks`: the login guard's current blocks (addresses, and accounts from an address), as a table or JSON. */
import type { ArgumentsCamelCase } from 'yargs';
import { blocksTable } from '../../../client/ui/table.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

export const command = 'blocks';
export const describe = 'List the login blocks (an address, or one account from an address)';

export function handler(args: ArgumentsCamelCase<ClientArgs>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say, columns }) => {
    const blocks = await client.listBlocks();
    say(blocks.length === 0 ? 'no logins are blocked' : blocksTable(blocks, columns));
    return { blocks };
  });
}
