/** `cinebox admin upload FILE...`: upload videos (free unless --charge), each hashed and verified. */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ConnectionError } from '../../../client/connection.js';
import { formatBytes } from '../../../client/ui/units.js';
import { Interrupted, uploadWatched } from '../../../client/ui/watched-transfers.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { files: string[]; charge?: boolean };

export const command = 'upload <files..>';
export const describe = 'Upload video files';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs
    .positional('files', { type: 'string', array: true, demandOption: true, describe: 'Video files' })
    .option('charge', { type: 'boolean', default: false, describe: 'Make them paid videos (default: free)' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say, complain, progress }) => {
    const isFree = !args.charge;
    const uploads = [];
    const failed = [];
    for (const file of args.files) {
      try {
        const { size } = await stat(file);
        const result = await uploadWatched(client, file, { isFree }, progress);
        say(`uploaded ${file} as #${result.movieId} (${isFree ? 'free' : 'paid'}, ${formatBytes(size)})`);
        uploads.push({ file, name: basename(file), movie_id: result.movieId, is_free: isFree ? 1 : 0, size, sha256: result.sha256 });
      } catch (error) {
        // The connection is gone or the person pressed Ctrl-C: the rest cannot be uploaded either.
        if (error instanceof ConnectionError || error instanceof Interrupted) throw error;
        const message = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message;
        complain(`${file}: ${message}`);
        failed.push({ file, error: message });
      }
    }
    return { uploads, failed };
  });
}
