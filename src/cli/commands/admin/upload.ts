/** `cinebox admin upload FILE...`: upload videos (free unless --charge), each hashed and verified. */
import { basename } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ConnectionError } from '../../../client/connection.js';
import { uploadableFile } from '../../../client/local-mistake.js';
import { formatBytes } from '../../../client/ui/units.js';
import { Interrupted, uploadWatched } from '../../../client/ui/watched-transfers.js';
import { fail, runClientCommand, type ClientArgs } from '../../client-command.js';
import { failureOf } from '../../exit-codes.js';

type Args = ClientArgs & { files: string[]; charge?: boolean };

export const command = 'upload <files..>';
export const describe = 'Upload video files';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs
    // `default: undefined`: yargs gives a variadic positional the default [] and the help would
    // read `[required] [default: []]`; `<files..>` already requires one.
    .positional('files', { type: 'string', array: true, demandOption: true, default: undefined, describe: 'Video files (one or more)' })
    .option('charge', { type: 'boolean', default: false, describe: 'Make them paid videos (default: free)' });
}

/**
 * Every file is checked here first (missing, a directory, empty): when none can be sent the
 * server is not even contacted. One file: its failure is the command's (with --json, the
 * one error object). Several: each failure is one line, the others go on, and the exit code
 * is the highest among the failed files.
 */
export async function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  const checked = await Promise.all(
    args.files.map((file) => uploadableFile(file).then(({ size }) => ({ file, size }), (error: unknown) => ({ file, error }))),
  );
  const first = checked[0];
  if (checked.length === 1 && first && 'error' in first) return fail(first.error, args.json);
  if (checked.every((c) => 'error' in c)) return reportLocalOnly(checked as { file: string; error: unknown }[], args.json);
  return runClientCommand(args, 'admin', true, async ({ client, say, complain, progress }) => {
    const isFree = !args.charge;
    const uploads = [];
    const failed = [];
    for (const item of checked) {
      const { file } = item;
      try {
        if ('error' in item) throw item.error;
        const result = await uploadWatched(client, file, { isFree }, progress);
        say(`uploaded ${file} as #${result.movieId} (${isFree ? 'free' : 'paid'}, ${formatBytes(item.size)})`);
        uploads.push({ file, name: basename(file), movie_id: result.movieId, is_free: isFree ? 1 : 0, size: item.size, sha256: result.sha256 });
      } catch (error) {
        // The connection is gone or the person pressed Ctrl-C: the rest cannot be uploaded either.
        if (checked.length === 1 || error instanceof ConnectionError || error instanceof Interrupted) throw error;
        const { message, code, exit } = complain(error, file);
        failed.push({ file, error: message, code, exit });
      }
    }
    return { uploads, failed };
  });
}

function reportLocalOnly(items: { file: string; error: unknown }[], json: boolean): void {
  const failed = items.map(({ file, error }) => {
    const { message, code, exit } = failureOf(error);
    process.stderr.write(`cinebox: ${message}\n`);
    return { file, error: message, code, exit };
  });
  if (json) process.stdout.write(`${JSON.stringify({ uploads: [], failed }, null, 2)}\n`);
  process.exitCode = Math.max(...failed.map((f) => f.exit));
}
