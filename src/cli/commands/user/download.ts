/**
 * `cinebox user download ID...`: download videos into --out, verified by SHA-256. Whether a
 * video is free or paid comes from the list, so the person only names it; a paid one is
 * confirmed at its price first (or --yes).
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ServerError } from '../../../client/connection.js';
import { formatBytes, formatCents } from '../../../client/ui/units.js';
import { downloadWatched } from '../../../client/ui/watched-transfers.js';
import { fail, runClientCommand, type ClientArgs } from '../../client-command.js';
import { parseVideoId } from '../../video-ids.js';

/** `out` comes from the parent `cinebox user` (the menu uses it too). */
type Args = ClientArgs & { ids: string[]; out: string; yes?: boolean };

export const command = 'download <ids..>';
export const describe = 'Download videos by ID';

export function builder(yargs: Argv<ClientArgs & { out: string }>) {
  return yargs
    // Strings, to say a mistyped ID back as typed; `default: undefined`: see admin/upload.ts.
    .positional('ids', { type: 'string', array: true, demandOption: true, default: undefined, describe: 'Video IDs (see `list`)' })
    .option('yes', { alias: 'y', type: 'boolean', describe: 'Pay for paid videos without asking' });
}

export async function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  let ids: number[];
  try {
    ids = args.ids.map(parseVideoId);
  } catch (error) {
    return fail(error, args.json);
  }
  return runClientCommand(args, 'user', true, async ({ client, say, confirm, progress }) => {
    // Every question first, so a script never stops half-way through its downloads.
    const wanted = [];
    for (const id of ids) {
      const movie = await client.findMovie(id); // one row each, not the whole list
      if (!movie) throw new ServerError(`no video #${id}`, 'NOT_FOUND');
      if (!movie.is_free && !movie.bought) {
        const price = formatCents(await client.paidPriceCents());
        const question = `#${id} "${movie.name}" is a paid video: pay ${price}?`;
        if (!(await confirm(question, args.yes))) {
          say(`skipped #${id}`);
          continue;
        }
      }
      wanted.push(movie);
    }
    const downloads = [];
    for (const movie of wanted) {
      const id = movie.id;
      const result = await downloadWatched(client, movie, args.out, progress);
      const charged = Number(result.reply.charged_cents ?? 0);
      const paid = movie.is_free ? '' : charged > 0 ? `, paid ${formatCents(charged)}` : ', bought before: no charge';
      say(`saved ${result.path} (${formatBytes(result.size)}, SHA-256 verified${paid})`);
      downloads.push({ id, name: movie.name, path: result.path, size: result.size, sha256: result.sha256, charged_cents: charged });
    }
    return { downloads };
  });
}
