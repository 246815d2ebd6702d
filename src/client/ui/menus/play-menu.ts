/** "Play a video while it downloads": pick one, pay if it is paid, then as `cinebox user play`. */
import { playWhileDownloading } from '../play/play.js';
import { findPlayer, NoPlayer } from '../play/player.js';
import { formatBytes, formatCents } from '../units.js';
import type { MenuContext } from './menu.js';
import { pickMovie } from './movie-pages.js';
import { confirmPayment } from './user-menu.js';

export async function playFromMenu(ctx: MenuContext, outDir: string, playerCommand: string | undefined): Promise<void> {
  let player;
  try {
    player = findPlayer(playerCommand);
  } catch (error) {
    if (!(error instanceof NoPlayer)) throw error;
    ctx.io.warn(`${error.message} (start the menu as \`cinebox user --player CMD\`)`);
    return;
  }
  const movie = await pickMovie(ctx, 'Play which video?', 'all', 'no videos yet');
  if (!movie) return;
  if (!movie.is_free && !(await confirmPayment(ctx, movie))) {
    ctx.io.print('not bought');
    return;
  }
  const { download } = await playWhileDownloading(ctx.client, movie, outDir, player, ctx.io.progress, {
    onPlayerStart: (arriving, reason) =>
      ctx.io.print(arriving ? `playing #${movie.id} in ${player.label} while it arrives` : `#${movie.id} cannot play while it arrives (${reason}): playing the complete file in ${player.label}`),
  });
  const charged = Number(download.reply.charged_cents ?? 0);
  const paid = movie.is_free ? '' : charged > 0 ? `, paid ${formatCents(charged)}` : ', bought before: no charge';
  ctx.io.print(`saved ${download.path} (${formatBytes(download.size)}, SHA-256 verified${paid})`);
}
