/**
 * The loop both menus share, as in the original's views: show the functions, run the one
 * chosen, report what happened, show them again. A server refusal is one line and the loop
 * goes on; a lost connection or Ctrl-C ends it cleanly with an exit code.
 */
import type { CineboxClient, MovieRow, Role } from '../../cinebox-client.js';
import { ConnectionError, ServerError } from '../../connection.js';
import { lengthLabel, noticesTable, pictureLabel } from '../table.js';
import { formatBytes } from '../units.js';
import { Interrupted } from '../watched-transfers.js';
import { isPromptExit, type Choice, type MenuIO } from '../io.js';
import { browseMovies } from './movie-pages.js';

export interface MenuContext {
  client: CineboxClient;
  io: MenuIO;
}

export interface MenuItem {
  name: string;
  /** Who can choose it: only with an account logged in, only without one, or always. */
  when?: 'logged-in' | 'logged-out';
  /** Why it is greyed out even though `when` allows it. */
  unavailable?: () => string | undefined;
  /** Returning 'quit' ends the menu. */
  run: () => Promise<void | 'quit'>;
}

export interface Credentials {
  name?: string;
  password?: string;
}

/** Exit codes: 0 quit or Ctrl-C, 2 the connection was lost, 130 a transfer was cancelled. */
export async function runMenu(ctx: MenuContext, role: Role, items: MenuItem[], onScreen?: () => Promise<void>): Promise<number> {
  const { client, io } = ctx;
  let last: MenuItem | undefined;
  for (;;) {
    try {
      await onScreen?.();
      const choice = await io.prompt.select(menuTitle(client, role), items.map((item) => choiceOf(client, item)), {
        default: last,
      });
      last = choice;
      if ((await choice.run()) === 'quit') return 0;
    } catch (error) {
      if (isPromptExit(error)) {
        io.print('bye');
        return 0;
      }
      if (error instanceof Interrupted) {
        io.warn('transfer cancelled (start it again to resume where it stopped)');
        return 130;
      }
      io.warn(messageOf(error));
      if (error instanceof ConnectionError) return 2;
    }
  }
}

function menuTitle(client: CineboxClient, role: Role): string {
  const who = client.account ? `${client.account.name}${client.account.isVip ? ' (VIP)' : ''}` : 'not logged in';
  return `cinebox ${role === 'admin' ? 'admin' : 'viewer'} @ ${client.where} · ${who}`;
}

function choiceOf(client: CineboxClient, item: MenuItem): Choice<MenuItem> {
  const loggedIn = client.account !== undefined;
  let disabled: string | undefined;
  if (item.when === 'logged-in' && !loggedIn) disabled = '(log in first)';
  else if (item.when === 'logged-out' && loggedIn) disabled = '(log out first)';
  else disabled = item.unavailable?.();
  return { name: item.name, value: item, ...(disabled ? { disabled } : {}) };
}

function messageOf(error: unknown): string {
  if (error instanceof ServerError || error instanceof ConnectionError) return error.message;
  if (error instanceof Error) return error.message;
  return String(error);
}

const notEmpty = (what: string) => (value: string) => value.trim() !== '' || `${what} must not be empty`;

export async function logIn(ctx: MenuContext, role: Role, given: Credentials = {}): Promise<void> {
  const name = given.name ?? (await ctx.io.prompt.input('Name', { validate: notEmpty('the name') }));
  const password = given.password ?? (await ctx.io.prompt.password('Password'));
  const account = await ctx.client.login(name.trim(), password, role);
  ctx.io.print(`logged in as ${account.name}${account.isVip ? ' (VIP)' : ''}`);
}

/** Asks for the password twice; registers, then logs straight in. */
export async function register(ctx: MenuContext, role: Role, adminCode?: string): Promise<void> {
  const { prompt } = ctx.io;
  const name = (await prompt.input('New name', { validate: notEmpty('the name') })).trim();
  const password = await prompt.password('Password', { validate: notEmpty('the password') });
  await prompt.password('Repeat the password', { validate: (again) => again === password || 'the passwords do not match' });
  const code = role === 'admin' ? (adminCode ?? (await prompt.password('Admin code (ask the operator)'))) : undefined;
  await ctx.client.register(name, password, role, code);
  ctx.io.print(`registered ${role === 'admin' ? 'admin' : 'viewer'} "${name}"`);
  await logIn(ctx, role, { name, password });
}

export async function logOut(ctx: MenuContext): Promise<void> {
  const name = ctx.client.account?.name;
  await ctx.client.logout();
  ctx.io.print(`logged out${name ? ` (${name})` : ''}`);
}

/** Which rows arrived since they were last shown (the viewer's live events), and a way to say they were seen. */
export interface NewMarks {
  isNew(id: number | undefined): boolean;
  seen(): void;
}

export async function showMovies(ctx: MenuContext, marks?: NewMarks): Promise<void> {
  await browseMovies(ctx, 'all', marks);
}

export async function showNotices(ctx: MenuContext, marks?: NewMarks): Promise<void> {
  const notices = await ctx.client.notices();
  ctx.io.print(notices.length ? noticesTable(notices, ctx.io.columns, marks && ((n) => marks.isNew(n.id))) : 'no notices yet');
  marks?.seen();
}

const BACK = Symbol('back');

/** An arrow-key pick from a list, with a way back; undefined when the person goes back. */
export async function pick<T>(ctx: MenuContext, message: string, choices: Choice<T>[]): Promise<T | undefined> {
  const answer = await ctx.io.prompt.select<T | typeof BACK>(message, [...choices, { name: '← Back', value: BACK }]);
  return answer === BACK ? undefined : answer;
}

/** How a video reads in a pick list. */
export function movieLabel(movie: MovieRow, isNew = false): string {
  const about = [movie.size === undefined ? '' : formatBytes(movie.size), lengthLabel(movie.facts), pictureLabel(movie.facts)].filter(Boolean);
  return `#${movie.id}  ${movie.name}${about.length ? `  (${about.join(', ')})` : ''}${isNew ? '  · new' : ''}`;
}
