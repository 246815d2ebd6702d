/** The functions every role shares: accounts, sessions, the video list and notices. */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { DuplicateKeyError } from '../../orm/index.js';
import { Movie, Notice, Purchase, User } from '../../orm/models/index.js';
import { CHARGE_LABEL, FREE_LABEL, type MovieDetails, type Reply, type Request } from '../../protocol/messages.js';
import type { Connection } from '../connection.js';
import type { App, HandlerContext, UserContext } from '../context.js';
import { Conflict, Forbidden, LoginFailed, NotFound } from '../errors.js';
import { admitGuess } from '../auth/login-guard.js';
import { decoyHash, hashPassword, verifyPassword, type HashScheduler } from '../auth/passwords.js';
import { EncodedReply } from '../encoded-reply.js';
import { isPageRequest, moviePage } from '../media/page-reply.js';
import { endLiveSession, openLiveSession } from '../policies/live-sessions.js';
import { policyOf } from '../policies/policy.js';
import { SERVER_VERSION } from '../version.js';

export async function register(req: Request<'register'>, { app, conn }: HandlerContext): Promise<Reply> {
  if (req.user_type === 'admin' && !adminCodeMatches(app.config.adminCode, req.admin_code)) {
    conn.log.warn({ name: req.name }, 'admin registration refused: wrong or missing admin code');
    throw new Forbidden('registering an admin needs the operator\'s admin code');
  }
  // Before hashing: a taken name must not cost a hash (register says a name is taken anyway).
  if (await User.selectOne(app.db, { name: req.name })) throw nameTaken(req.name);
  const user = User.from({
    name: req.name,
    password: await hashPassword(req.password, app.config.scryptN, hashSlot(app, conn)),
    user_type: req.user_type,
    register_time: new Date(),
  });
  try {
    await user.save(app.db);
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw nameTaken(req.name);
    throw error;
  }
  conn.log.info({ user: user.id, name: user.name, role: user.user_type }, 'registered');
  return { flag: true, msg: 'registered' };
}

function nameTaken(name: string): Conflict {
  return new Conflict(`the name "${name}" is taken`);
}

/** This connection's turn in the password queue; a hash still waiting when the client leaves is dropped. */
function hashSlot(app: App, conn: Connection): HashScheduler {
  return (task) => app.hashes.run({ address: conn.remoteAddress, signal: conn.closedSignal }, task);
}

function adminCodeMatches(expected: string | undefined, given: string | undefined): boolean {
  if (!expected || given === undefined) return false;
  const a = Buffer.from(expected);
  const b = Buffer.from(given);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * login, behind the guard (login-guard.ts): the guess is admitted and counted first, the
 * password checked, then the guess settled. A right password for the other role is not a
 * failure: the reply names the client to use.
 */
export async function login(req: Request<'login'>, { app, conn }: HandlerContext): Promise<Reply> {
  const user = await User.selectOne(app.db, { name: req.name });
  const guess = await admitGuess(app, conn.log, conn.remoteAddress, req.name, user, conn.closedSignal);
  let valid: boolean;
  try {
    // Unknown names verify against a decoy, so both failures take the same time.
    valid = await verifyPassword(req.password, user?.password ?? (await decoyHash(app.config.scryptN)), hashSlot(app, conn));
  } catch (error) {
    await guess.unchecked();
    throw error;
  }
  if (!user || !valid) {
    conn.log.warn({ name: req.name, role: req.user_type, addr: conn.remoteAddress }, 'login failed');
    await guess.failed();
    throw new LoginFailed('wrong name or password');
  }
  await guess.succeeded();
  if (user.user_type !== req.user_type) {
    conn.log.info({ user: user.id, name: user.name, role: user.user_type, asked: req.user_type }, 'login with the wrong client');
    throw new Forbidden(wrongClient(user), { user_type: user.user_type });
  }
  const token = randomBytes(32).toString('base64url');
  await endLiveSession(app, conn, conn.session);
  conn.session = { token, userId: user.id, lastUsed: Date.now() };
  if (user.user_type === 'user') await openLiveSession(app, conn, user, (await policyOf(app, user)).max_sessions);
  conn.log.info({ user: user.id, name: user.name, role: user.user_type }, 'logged in');
  return { flag: true, msg: 'logged in', session: token, is_vip: user.is_vip };
}

function wrongClient(user: User): string {
  return user.user_type === 'admin'
    ? `"${user.name}" is an admin account: log in with the admin client (cinebox admin)`
    : `"${user.name}" is a viewer account: log in with the viewer client (cinebox user)`;
}

export async function logout(_req: Request<'logout'>, { app, conn, user }: UserContext): Promise<Reply> {
  await endLiveSession(app, conn, conn.session);
  conn.session = undefined;
  app.events.unsubscribe(conn); // events are for a logged-in client
  conn.log.info({ user: user.id }, 'logged out');
  return { flag: true, msg: 'logged out' };
}

/** Prices and waits, so clients can show what the server will charge before asking. */
export async function serverInfo(_req: Request<'server_info'>, { app }: HandlerContext): Promise<Reply> {
  const { config } = app;
  return {
    flag: true,
    version: SERVER_VERSION,
    vip_price_cents: config.vipPriceCents,
    paid_price_vip_cents: config.paidPriceVipCents,
    paid_price_normal_cents: config.paidPriceNormalCents,
    free_wait_seconds: config.freeWaitSeconds,
  };
}

/** What a list reads: the plain list needs three columns, `details` a few more (never the path). */
const LIST_COLUMNS = ['id', 'name', 'is_free'] as const;
const DETAIL_COLUMNS = ['id', 'name', 'is_free', 'size', 'sha256', 'create_time'] as const;
const BY_ID = [['id', 'asc']] as const;

export async function getMovieList(req: Request<'get_movie_list'>, ctx: UserContext): Promise<Reply | EncodedReply> {
  if (isPageRequest(req)) return moviePage(req, ctx);
  const { app, user } = ctx;
  const where: Partial<Record<'is_delete' | 'is_free', number>> = { is_delete: 0 };
  if (req.movie_type !== 'all') where.is_free = req.movie_type === 'free' ? 1 : 0;
  if (req.details) {
    // Not from memory: `bought` differs per viewer.
    const movies = await Movie.select(app.db, where, { columns: DETAIL_COLUMNS, orderBy: BY_ID });
    if (movies.length === 0) throw new NotFound('no videos yet');
    const bought = await boughtAmong(app, user, movies);
    const details = movies.map((m) => (bought ? { ...movieDetails(m), ...(m.is_free ? {} : { bought: bought.has(m.id) ? 1 : 0 }) } : movieDetails(m)));
    return { flag: true, movie_list: movies.map(listEntry), movies: details };
  }
  // The same for every viewer until a video is published or hidden: from memory (media/list-cache.ts).
  return new EncodedReply(
    await app.catalog.frame(req.movie_type, async () => {
      const movies = await Movie.select(app.db, where, { columns: LIST_COLUMNS, orderBy: BY_ID });
      if (movies.length === 0) throw new NotFound('no videos yet');
      return { flag: true, movie_list: movies.map(listEntry) };
    }),
  );
}

/**
 * Which of these paid videos a viewer has bought, so a client does not ask them to pay
 * again (undefined for an admin, who buys nothing).
 */
export async function boughtAmong(app: UserContext['app'], user: User, movies: Pick<Movie, 'id' | 'is_free'>[]): Promise<Set<number> | undefined> {
  if (user.user_type !== 'user') return undefined;
  const paid = movies.filter((m) => !m.is_free).map((m) => m.id);
  if (paid.length === 0) return new Set();
  const rows = await Purchase.select(app.db, { user_id: user.id, movie_id: paid }, { columns: ['movie_id'] });
  return new Set(rows.map((r) => r.movie_id));
}

/** The original's list row: [name, label, id]. */
function listEntry(m: Pick<Movie, (typeof LIST_COLUMNS)[number]>): [string, string, number] {
  return [m.name, m.is_free ? FREE_LABEL : CHARGE_LABEL, m.id];
}

function movieDetails(m: Pick<Movie, (typeof DETAIL_COLUMNS)[number]>): MovieDetails {
  return {
    id: m.id,
    name: m.name,
    is_free: m.is_free ? 1 : 0,
    size: m.size,
    sha256: m.sha256,
    create_time: m.create_time.toISOString(),
  };
}

/** Newest first. */
export async function checkNotices(_req: Request<'check_notice'>, { app }: UserContext): Promise<Reply> {
  const notices = await Notice.select(app.db, {}, { orderBy: [['create_time', 'desc'], ['id', 'desc']], limit: 100 });
  if (notices.length === 0) throw new NotFound('no notices yet');
  return {
    flag: true,
    back_notice_list: notices.map((n) => [n.title, n.content]),
    notices: notices.map((n) => ({ id: n.id, title: n.title, content: n.content, create_time: n.create_time.toISOString() })),
  };
}
