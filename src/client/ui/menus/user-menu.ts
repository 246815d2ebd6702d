/**
 * The viewer's menu, mirroring the original's user view: register, log in, buy VIP, list
 * all videos, download a free video, download a paid video, download history, notices;
 * plus log out and quit. Paying asks first and shows the price the server will charge.
 */
import type { MovieRow } from '../../cinebox-client.js';
import { historyTable } from '../table.js';
import { formatBytes, formatCents } from '../units.js';
import { downloadWatched } from '../watched-transfers.js';
import { Arrivals } from './arrivals.js';
import { logIn, logOut, register, runMenu, showMovies, showNotices, type Credentials, type MenuContext, type NewMarks } from './menu.js';
import { pickMovie } from './movie-pages.js';
import { playFromMenu } from './play-menu.js';
import { showMyStatus } from './policy-menu.js';

export interface UserMenuOptions extends Credentials {
  /** Where downloads go (created when missing). */
  outDir: string;
  /** The player for "Play" (default: mpv, ffplay or vlc on PATH). */
  player?: string;
}

export async function runUserMenu(ctx: MenuContext, options: UserMenuOptions): Promise<number> {
  const { client } = ctx;
  const arrivals = new Arrivals(client);
  const newVideos: NewMarks = { isNew: (id) => id !== undefined && arrivals.isNewVideo(id), seen: () => arrivals.seenVideos() };
  const newNotices: NewMarks = { isNew: arrivals.isNewNotice, seen: () => arrivals.seenNotices() };
  // Each screen first says what arrived while the viewer was choosing (live events).
  const onScreen = async () => {
    await arrivals.follow();
    const news = arrivals.news();
    if (news) ctx.io.print(news);
  };
  if (options.name !== undefined && options.password !== undefined) await logIn(ctx, 'user', options).catch((e: Error) => ctx.io.warn(e.message));
  return runMenu(ctx, 'user', [
    { name: 'Register', when: 'logged-out', run: () => register(ctx, 'user') },
    { name: 'Log in', when: 'logged-out', run: () => logIn(ctx, 'user') },
    {
      name: 'Buy VIP',
      when: 'logged-in',
      unavailable: () => (client.account?.isVip ? '(you are a VIP)' : undefined),
      run: () => buyVip(ctx),
    },
    { name: 'List all videos', when: 'logged-in', run: () => showMovies(ctx, newVideos) },
    { name: 'Download a free video', when: 'logged-in', run: () => download(ctx, 'free', options.outDir, newVideos) },
    { name: 'Download a paid video', when: 'logged-in', run: () => download(ctx, 'charge', options.outDir, newVideos) },
    { name: 'Play a video while it downloads', when: 'logged-in', run: () => playFromMenu(ctx, options.outDir, options.player) },
    { name: 'Download history', when: 'logged-in', run: () => showHistory(ctx) },
    { name: 'Notices', when: 'logged-in', run: () => showNotices(ctx, newNotices) },
    { name: 'My account (allowance, sessions, purchases)', when: 'logged-in', run: () => showMyStatus(ctx) },
    { name: 'Log out', when: 'logged-in', run: () => logOut(ctx) },
    { name: 'Quit', run: async () => 'quit' },
  ], onScreen);
}

async function buyVip(ctx: MenuContext): Promise<void> {
  const info = await ctx.client.serverInfo();
  const perks = `VIP viewers pay ${formatCents(info.paidPriceVipCents)} instead of ${formatCents(info.paidPriceNormalCents)} per paid video`;
  const wait = info.freeWaitSeconds > 0 ? ` and skip the ${info.freeWaitSeconds} s wait for free videos` : '';
  ctx.io.print(`${perks}${wait}.`);
  if (!(await ctx.io.prompt.confirm(`Buy VIP for ${formatCents(info.vipPriceCents)}?`, { default: false }))) {
    ctx.io.print('not bought');
    return;
  }
  const paid = await ctx.client.buyVip();
  ctx.io.print(`you are now a VIP (paid ${formatCents(paid)})`);
}

async function download(ctx: MenuContext, kind: 'free' | 'charge', outDir: string, marks: NewMarks): Promise<void> {
  const movie = await pickMovie(ctx, kind === 'free' ? 'Which free video?' : 'Which paid video?', kind, kind === 'free' ? 'no free videos yet' : 'no paid videos yet', marks);
  if (!movie) return;
  if (kind === 'charge' && !(await confirmPayment(ctx, movie))) {
    ctx.io.print('not bought');
    return;
  }
  const result = await downloadWatched(ctx.client, movie, outDir, ctx.io.progress);
  const charged = Number(result.reply.charged_cents ?? 0);
  const paid = kind === 'charge' ? (charged > 0 ? `, paid ${formatCents(charged)}` : ', bought before: no charge') : '';
  ctx.io.print(`saved ${result.path} (${formatBytes(result.size)}, SHA-256 verified${paid})`);
}

export async function confirmPayment(ctx: MenuContext, movie: MovieRow): Promise<boolean> {
  // The server's list says so (a resumed or repeated download is never charged again): no question.
  if (movie.bought) {
    ctx.io.print(`"${movie.name}" is already yours (bought before): no charge`);
    return true;
  }
  const info = await ctx.client.serverInfo();
  const vip = ctx.client.account?.isVip;
  const price = await ctx.client.paidPriceCents();
  const which = vip ? 'VIP price' : `normal price; VIP viewers pay ${formatCents(info.paidPriceVipCents)}`;
  ctx.io.print(`"${movie.name}" costs ${formatCents(price)} (${which}). A video you bought before downloads again at no charge.`);
  return ctx.io.prompt.confirm(`Pay ${formatCents(price)} and download?`, { default: false });
}

async function showHistory(ctx: MenuContext): Promise<void> {
  const records = await ctx.client.history();
  ctx.io.print(records.length ? historyTable(records, ctx.io.columns) : 'no downloads yet');
}
