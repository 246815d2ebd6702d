/**
 * The admin's menu, mirroring the original's admin view: register, log in, upload a video,
 * delete a video, publish a notice; plus the video list, notices, the accounts (list, lock,
 * unlock), the login blocks (list, lift), log out and quit.
 * Uploads are picked from a local folder (created when missing) or typed as any path.
 */
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { BlockRow, UserRow } from '../../cinebox-client.js';
import { localMistakeOf, uploadableFile } from '../../local-mistake.js';
import { blocksTable, lockLabel, usersTable } from '../table.js';
import { formatBytes } from '../units.js';
import { uploadWatched } from '../watched-transfers.js';
import { logIn, logOut, pick, register, runMenu, showMovies, showNotices, type Credentials, type MenuContext } from './menu.js';
import { pickMovie } from './movie-pages.js';
import { editViewerPolicy } from './policy-menu.js';

export interface AdminMenuOptions extends Credentials {
  /** The folder offered for uploads (created when missing). */
  uploadDir: string;
  /** The operator's code for registering admins; asked for when missing. */
  adminCode?: string;
}

export async function runAdminMenu(ctx: MenuContext, options: AdminMenuOptions): Promise<number> {
  if (options.name !== undefined && options.password !== undefined) await logIn(ctx, 'admin', options).catch((e: Error) => ctx.io.warn(e.message));
  return runMenu(ctx, 'admin', [
    { name: 'Register', when: 'logged-out', run: () => register(ctx, 'admin', options.adminCode) },
    { name: 'Log in', when: 'logged-out', run: () => logIn(ctx, 'admin') },
    { name: 'Upload a video', when: 'logged-in', run: () => upload(ctx, options.uploadDir) },
    { name: 'Delete a video', when: 'logged-in', run: () => deleteVideo(ctx) },
    { name: 'Publish a notice', when: 'logged-in', run: () => publishNotice(ctx) },
    { name: 'List all videos', when: 'logged-in', run: () => showMovies(ctx) },
    { name: 'Notices', when: 'logged-in', run: () => showNotices(ctx) },
    { name: 'Users', when: 'logged-in', run: () => showUsers(ctx) },
    { name: "A viewer's policy", when: 'logged-in', run: () => editViewerPolicy(ctx) },
    { name: 'Lock a user', when: 'logged-in', run: () => lockUser(ctx) },
    { name: 'Unlock a user', when: 'logged-in', run: () => unlockUser(ctx) },
    { name: 'Login blocks', when: 'logged-in', run: () => showBlocks(ctx) },
    { name: 'Lift a login block', when: 'logged-in', run: () => liftBlock(ctx) },
    { name: 'Log out', when: 'logged-in', run: () => logOut(ctx) },
    { name: 'Quit', run: async () => 'quit' },
  ]);
}

const OTHER_PATH = '\u0000other';

/** Regular, visible files in `dir`, with their sizes. */
async function filesIn(dir: string): Promise<{ name: string; path: string; size: number }[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const files = entries.filter((e) => e.isFile() && !e.name.startsWith('.')).sort((a, b) => a.name.localeCompare(b.name));
  return Promise.all(files.map(async (e) => ({ name: e.name, path: join(dir, e.name), size: (await stat(join(dir, e.name))).size })));
}

async function upload(ctx: MenuContext, uploadDir: string): Promise<void> {
  const { io } = ctx;
  await mkdir(uploadDir, { recursive: true });
  const files = await filesIn(uploadDir);
  if (files.length === 0) io.print(`no files in ${resolve(uploadDir)} yet: put videos there, or type a path`);
  let path = await pick(ctx, `Upload which file? (from ${uploadDir})`, [
    ...files.map((f) => ({ name: `${f.name}  (${formatBytes(f.size)})`, value: f.path })),
    { name: 'Another file (type its path)…', value: OTHER_PATH },
  ]);
  if (path === undefined) return;
  if (path === OTHER_PATH) path = (await io.prompt.input('Path of the video file', { validate: (p) => p.trim() !== '' || 'type a path' })).trim();
  // The same check and words as `cinebox admin upload`; the menu then goes back to its list.
  const info = await uploadableFile(path).catch((error: unknown) => {
    const mistake = localMistakeOf(error, path);
    if (!mistake) throw error;
    io.warn(mistake.message);
    return undefined;
  });
  if (!info) return;
  const isFree = await io.prompt.select('Free or paid?', [
    { name: 'Free', value: true },
    { name: 'Paid', value: false },
  ]);
  const result = await uploadWatched(ctx.client, path, { isFree }, io.progress);
  io.print(`uploaded as #${result.movieId} (${isFree ? 'free' : 'paid'}, ${formatBytes(info.size)}, SHA-256 verified by the server)`);
}

async function deleteVideo(ctx: MenuContext): Promise<void> {
  const movie = await pickMovie(ctx, 'Delete which video?', 'all', 'no videos yet');
  if (!movie) return;
  if (!(await ctx.io.prompt.confirm(`Delete #${movie.id} "${movie.name}"? Viewers will no longer see it.`, { default: false }))) return;
  await ctx.client.deleteMovie(movie.id);
  ctx.io.print(`deleted #${movie.id} "${movie.name}"`);
}

async function publishNotice(ctx: MenuContext): Promise<void> {
  const required = (what: string) => (value: string) => value.trim() !== '' || `the ${what} must not be empty`;
  const title = await ctx.io.prompt.input('Title', { validate: required('title') });
  const content = await ctx.io.prompt.input('Notice', { validate: required('notice') });
  const id = await ctx.client.releaseNotice(title.trim(), content.trim());
  ctx.io.print(`notice published${id === undefined ? '' : ` (#${id})`}`);
}

async function showUsers(ctx: MenuContext): Promise<void> {
  ctx.io.print(usersTable(await ctx.client.listUsers(), ctx.io.columns));
}

/** How an account reads in a pick list: name, role, and its lock if any. */
function userLabel(user: UserRow): string {
  const lock = lockLabel(user);
  return `${user.name}  (${user.user_type === 'admin' ? 'admin' : 'viewer'}${lock ? `, ${lock}` : ''})`;
}

async function lockUser(ctx: MenuContext): Promise<void> {
  const me = ctx.client.account?.name;
  const users = await ctx.client.listUsers();
  const user = await pick(
    ctx,
    'Lock which user?',
    users.map((u) => {
      const disabled = u.name === me ? '(you)' : Number(u.is_locked) ? '(already locked)' : undefined;
      return { name: userLabel(u), value: u, ...(disabled ? { disabled } : {}) };
    }),
  );
  if (!user) return;
  if (!(await ctx.io.prompt.confirm(`Lock ${user.name}? They cannot log in or use the service until unlocked.`, { default: false }))) return;
  await ctx.client.lockUser(user.name);
  ctx.io.print(`locked ${user.name}`);
}

async function unlockUser(ctx: MenuContext): Promise<void> {
  // A lock after failed logins counts too: unlocking clears it and the failure count.
  const locked = (await ctx.client.listUsers()).filter((u) => lockLabel(u) !== '');
  if (locked.length === 0) {
    ctx.io.print('no locked users');
    return;
  }
  const user = await pick(ctx, 'Unlock which user?', locked.map((u) => ({ name: userLabel(u), value: u })));
  if (!user) return;
  await ctx.client.unlockUser(user.name);
  ctx.io.print(`unlocked ${user.name}`);
}

async function showBlocks(ctx: MenuContext): Promise<void> {
  const blocks = await ctx.client.listBlocks();
  ctx.io.print(blocks.length === 0 ? 'no logins are blocked' : blocksTable(blocks, ctx.io.columns));
}

async function liftBlock(ctx: MenuContext): Promise<void> {
  const blocks = await ctx.client.listBlocks();
  if (blocks.length === 0) {
    ctx.io.print('no logins are blocked');
    return;
  }
  const label = (b: BlockRow) => `${b.address}  ${b.account === null ? '(every account)' : b.account}`;
  const block = await pick(ctx, 'Lift which block?', blocks.map((b) => ({ name: label(b), value: b })));
  if (!block) return;
  ctx.io.print(await ctx.client.unblockAddress(block.address, block.account ?? undefined));
}
