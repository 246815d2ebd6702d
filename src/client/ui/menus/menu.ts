/**
 * The loop both menus share, as in the original's views: show the functions, run the one
 * chosen, report what happened, show them again. A server refusal or a local mistake is one
 * line and the loop goes on. A cancelled transfer (Ctrl-C) and a lost connection also come
 * back to the list: the menu connects again and logs in again as before, saying so.
 */
import type { CineboxClient, MovieRow, Role } from '../../cinebox-client.js';
import { ConnectionError, ServerError } from '../../connection.js';
import { localMistakeOf } from '../../local-mistake.js';
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

/** The menu's exit codes, from the CLI's table (src/cli/exit-codes.ts): 0 quit or Ctrl-C at the list, 4 the server is gone for good. */
export const MENU_EXIT = { quit: 0, connection: 4 } as const;

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
      // Dropped while the menu waited (a server restart): connect again before running the choice.
      if (!client.connected) {
        io.warn(`the connection to ${client.where} was lost`);
        if (!(await reconnect(ctx))) return MENU_EXIT.connection;
      }
      if ((await choice.run()) === 'quit') return MENU_EXIT.quit;
    } catch (error) {
      if (isPromptExit(error)) {
        io.print('bye');
        return MENU_EXIT.quit;
      }
      if (error instanceof Interrupted) {
        // Ctrl-C closed the connection to stop the bytes; a fresh one takes the menu on.
        io.warn('transfer cancelled (choose it again to resume where it stopped)');
        if (!(await reconnect(ctx, { quiet: true }))) return MENU_EXIT.connection;
        continue;
      }
      io.warn(messageOf(error));
      if (error instanceof ConnectionError || !client.connected) {
        if (!(await reconnect(ctx))) return MENU_EXIT.connection;
      }
    }
  }
}

/**
 * Connects again and logs in again as before. A server that cannot be reached is said in
 * one line and the person is asked whether to try again; false when they would rather stop.
 */
async function reconnect(ctx: MenuContext, options: { quiet?: boolean } = {}): Promise<boolean> {
  const { client, io } = ctx;
  for (;;) {
    try {
      const account = await client.reconnect();
      if (!options.quiet) io.print(`reconnected to ${client.where}${account ? `, logged in again as ${account.name}` : ''}`);
      return true;
    } catch (error) {
      if (error instanceof ServerError) {
        io.warn(`reconnected to ${client.where}, but logging in again failed: ${error.message}`);
        return true;
      }
      io.warn(messageOf(error));
      try {
        if (!(await io.prompt.confirm(`Try to reconnect to ${client.where}?`, { default: true }))) return false;
      } catch (promptError) {
        if (isPromptExit(promptError)) return false;
        throw promptError;
      }
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
  const local = localMistakeOf(error);
  if (local) return local.message;
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
  const about = [
    movie.size === undefined ? '' : formatBytes(movie.size),
    lengthLabel(movie.facts),
    pictureLabel(movie.facts),
    movie.bought ? 'bought' : '',
  ].filter(Boolean);
  return `#${movie.id}  ${movie.name}${about.length ? `  (${about.join(', ')})` : ''}${isNew ? '  · new' : ''}`;
}
