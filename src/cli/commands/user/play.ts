/**
 * `cinebox user play ID [--player CMD]`: downloads the video into --out as `download` does
 * and starts a local player as soon as the video can play while it arrives (else once it
 * is complete, saying so). The command ends when both the download and the player are done.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { playWhileDownloading } from '../../../client/ui/play/play.js';
import { findPlayer } from '../../../client/ui/play/player.js';
import { formatBytes, formatCents } from '../../../client/ui/units.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { id: number; out: string; player?: string; yes?: boolean };

export const command = 'play <id>';
export const describe = 'Download a video and watch it while it arrives';

/** `out` and `player` come from the parent `cinebox user` (the menu uses them too). */
export function builder(yargs: Argv<ClientArgs & { out: string; player?: string }>) {
  return yargs
    .positional('id', { type: 'number', demandOption: true, describe: 'Video ID (see `list`)' })
    .option('yes', { alias: 'y', type: 'boolean', describe: 'Pay for a paid video without asking' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'user', true, async ({ client, say, confirm, progress }) => {
    const id = Number(args.id);
    if (!Number.isInteger(id) || id <= 0) throw new Error(`not a video ID: ${args.id}`);
    const player = findPlayer(args.player); // before anything is downloaded or paid
    const movie = await client.findMovie(id);
    if (!movie) throw new Error(`no video #${id}`);
    if (!movie.is_free) {
      const question = `#${id} "${movie.name}" is a paid video: pay ${formatCents(await client.paidPriceCents())} (no charge if you bought it before)?`;
      if (!(await confirm(question, args.yes))) {
        say(`skipped #${id}`);
        return { id, played: false };
      }
    }
    const result = await playWhileDownloading(client, movie, args.out, player, progress, {
      onPlayerStart: (whileArriving, reason) =>
        progress.note(
          whileArriving
            ? `playing #${id} in ${player.label} while it arrives`
            : `#${id} cannot play while it arrives (${reason}): playing the complete file in ${player.label}`,
        ),
    });
    const { download } = result;
    const charged = Number(download.reply.charged_cents ?? 0);
    say(`saved ${download.path} (${formatBytes(download.size)}, SHA-256 verified${charged > 0 ? `, paid ${formatCents(charged)}` : ''})`);
    return {
      id,
      name: movie.name,
      path: download.path,
      size: download.size,
      sha256: download.sha256,
      charged_cents: charged,
      player: player.label,
      while_arriving: result.whileArriving,
      ...(result.reason ? { reason: result.reason } : {}),
      player_exit: result.playerExit,
    };
  });
}
