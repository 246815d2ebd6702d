/** `cinebox admin delete ID`: hide a video from viewers (the original's soft delete). */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { id: number };

export const command = 'delete <id>';
export const describe = 'Delete a video by ID';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs.positional('id', { type: 'number', demandOption: true, describe: 'Video ID (see `list`)' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    if (!Number.isInteger(args.id) || args.id <= 0) throw new Error(`not a video ID: ${args.id}`);
    await client.deleteMovie(args.id);
    say(`deleted #${args.id}`);
    return { deleted: args.id };
  });
}
