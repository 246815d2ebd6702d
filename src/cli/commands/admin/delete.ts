/** `cinebox admin delete ID`: hide a video from viewers (the original's soft delete). */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { fail, runClientCommand, type ClientArgs } from '../../client-command.js';
import { parseVideoId } from '../../video-ids.js';

type Args = ClientArgs & { id: string };

export const command = 'delete <id>';
export const describe = 'Delete a video by ID';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs.positional('id', { type: 'string', demandOption: true, describe: 'Video ID (see `list`)' });
}

export async function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  let id: number;
  try {
    id = parseVideoId(args.id);
  } catch (error) {
    return fail(error, args.json);
  }
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    await client.deleteMovie(id);
    say(`deleted #${id}`);
    return { deleted: id };
  });
}
