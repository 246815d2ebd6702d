/**
 * Who may call what. A session is valid only on the connection that logged in, and the user
 * is re-read on every request (a turn's users in one SELECT, orm/id-loader.ts), so a lock or
 * a role change takes effect at once on every node.
 */
import { IdLoader } from '../orm/index.js';
import { User } from '../orm/models/index.js';
import type { HandlerContext } from './context.js';
import { AccountLocked, Forbidden, NotLoggedIn } from './errors.js';
import { SESSION_ENDED, sessionIsLive } from './policies/live-sessions.js';

const users = new IdLoader(User);

export async function requireLogin(token: string, ctx: HandlerContext): Promise<User> {
  const { conn, app } = ctx;
  const session = conn.session;
  if (!session || !conn.hasSession(token)) throw new NotLoggedIn('not logged in (log in first)');
  const now = Date.now();
  if (now - session.lastUsed > app.config.sessionIdleSeconds * 1000) {
    conn.session = undefined;
    throw new NotLoggedIn('session expired, log in again');
  }
  // Both reads join this turn's batch: the session cap's check costs no extra round trip.
  const [user, live] = await Promise.all([users.load(app.db, session.userId), sessionIsLive(app, session)]);
  if (!user) {
    conn.session = undefined;
    throw new NotLoggedIn('account no longer exists');
  }
  if (!live) {
    conn.session = undefined;
    throw new NotLoggedIn(SESSION_ENDED);
  }
  if (user.is_locked) throw new AccountLocked('account is locked');
  session.lastUsed = now;
  return user;
}

export async function requireAdmin(token: string, ctx: HandlerContext): Promise<User> {
  const user = await requireLogin(token, ctx);
  if (user.user_type !== 'admin') throw new Forbidden('only admins may do this');
  return user;
}

export async function requireViewer(token: string, ctx: HandlerContext): Promise<User> {
  const user = await requireLogin(token, ctx);
  if (user.user_type !== 'user') throw new Forbidden('only viewers may do this');
  return user;
}
