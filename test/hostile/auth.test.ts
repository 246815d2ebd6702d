/**
 * Who may call what, attacked: a viewer calling every admin type (aimed at real targets: the
 * stored video, the bystander's account), an admin calling every viewer type, and sessions
 * that are not the caller's: another user's token, a logged-out one, guessed ones, an
 * expired one. Each is refused with its code and changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import type { Reply } from '../../src/protocol/messages.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { expectErrorReply, sha256, startArena, type Arena } from './arena.js';
import { baseRequest, messageTypes, trailerOf, roleOf, type BaseContext } from './requests.js';


const typesFor = (...roles: string[]) => messageTypes.filter((type) => roles.includes(roleOf(type)));
const guardedTypes = typesFor('loggedIn', 'admin', 'viewer');

describe('the role table', () => {
  it('names a role for every message type of the protocol', () => {
    for (const type of messageTypes) expect(['open', 'loggedIn', 'admin', 'viewer']).toContain(roleOf(type));
  });
});

describe.each(databaseKinds)('sessions and roles (%s)', (kind) => {
  let arena: Arena;
  let viewer: ClientConnection;

  beforeAll(async () => {
    arena = await startArena(kind);
    viewer = await arena.world.loginAs('mallory', 'user');
  });
  afterAll(async () => arena?.close());

  /** A valid request of `type` carrying `session`, aimed at things that exist. */
  function requestOf(type: string, session: string): { header: Record<string, unknown>; body?: Buffer } {
    const body = randomBytes(2000);
    const context: BaseContext = {
      session,
      unique: `auth-${randomBytes(4).toString('hex')}`,
      freeMovieId: arena.free.id,
      loginName: 'bystander',
      loginPassword: 'x',
      bodySha256: sha256(body),
      bodySize: body.length,
    };
    const header = baseRequest(type, context);
    const realTargets: Record<string, Record<string, unknown>> = {
      delete_movie: { movie_id: arena.free.id },
      lock_user: { name: 'bystander' },
      unlock_user: { name: 'mallory' },
      set_quota: { name: 'curator', quota_bytes: 1 },
      download_movie: { movie_id: arena.paid.id, movie_type: 'charge' },
    };
    Object.assign(header, realTargets[type]);
    return type === 'update_movie' ? { header, body } : { header };
  }

  async function send(conn: ClientConnection, type: string, session: string): Promise<Reply> {
    const { header, body } = requestOf(type, session);
    if (body) return conn.sendWithBody(header as Record<string, unknown> & { file_size: number }, Readable.from([body]), trailerOf(header, sha256(body)));
    return conn.request(header);
  }

  /** The connection still works with its own session afterwards. */
  async function stillUsable(conn: ClientConnection) {
    expect(await conn.request({ type: 'server_info' })).toMatchObject({ flag: true });
    if (conn.session) expect((await conn.request({ type: 'get_movie_list', session: conn.session, movie_type: 'all' })).flag).toBe(true);
  }

  it.each(typesFor('admin'))('a viewer calling %s is FORBIDDEN and changes nothing', async (type) => {
    const watch = await arena.watch();
    expectErrorReply(await send(viewer, type, viewer.session!), 'FORBIDDEN');
    await stillUsable(viewer);
    await watch.unharmed();
  });

  it.each(typesFor('viewer'))('an admin calling %s is FORBIDDEN and changes nothing', async (type) => {
    const watch = await arena.watch();
    expectErrorReply(await send(arena.admin, type, arena.admin.session!), 'FORBIDDEN');
    await stillUsable(arena.admin);
    await watch.unharmed();
  });

  it.each(guardedTypes)('%s with another user\'s token is NOT_LOGGED_IN, logged in or not', async (type) => {
    const watch = await arena.watch();
    // The token that would be allowed: the admin's for admin types, the bystander's for viewer types.
    const victim = roleOf(type) === 'admin' ? arena.admin : await arena.world.loginAs('bystander', 'user', 'bystander-pw');
    const stranger = await arena.world.connect();
    for (const conn of [viewer, stranger]) {
      expectErrorReply(await send(conn, type, victim.session!), 'NOT_LOGGED_IN');
      await stillUsable(conn);
    }
    stranger.close();
    if (victim !== arena.admin) victim.close();
    await watch.unharmed();
  });

  it('refuses a logged-out token for every guarded type, before and after a new login', async () => {
    const watch = await arena.watch();
    const admin = await arena.world.loginAs('curator', 'admin');
    const user = await arena.world.loginAs('leaver', 'user');
    const before = await arena.snapshot();
    const old = { admin: admin.session!, user: user.session! };
    await admin.call('logout', {});
    await user.call('logout', {});
    for (const type of guardedTypes) {
      const [conn, token] = roleOf(type) === 'admin' ? [admin, old.admin] : [user, old.user];
      expectErrorReply(await send(conn, type, token), 'NOT_LOGGED_IN');
    }
    await admin.call('login', { name: 'curator', password: wirePassword('secret-curator'), user_type: 'admin' });
    expect(admin.session).not.toBe(old.admin);
    expectErrorReply(await send(admin, 'delete_movie', old.admin), 'NOT_LOGGED_IN');
    expect(await arena.changesSince(before)).toEqual({});
    admin.close();
    user.close();
    await watch.served();
  });

  it('refuses guessed tokens on the very connection whose token is valid', async () => {
    const watch = await arena.watch();
    const real = arena.admin.session!;
    const flip = (c: string) => (c === 'A' ? 'B' : 'A');
    const guesses = [
      randomBytes(32).toString('base64url'),
      real.slice(0, -1) + flip(real.at(-1)!),
      flip(real[0]) + real.slice(1),
      real.slice(0, -1),
      real + 'A',
      real.toUpperCase() === real ? real.toLowerCase() : real.toUpperCase(),
      `${real}\u0000`,
      ` ${real}`,
      Buffer.from(real).toString('hex').slice(0, 128),
      '*',
      'null',
      'undefined',
      '0',
      "' OR '1'='1",
      'A'.repeat(real.length),
    ];
    for (const guess of guesses) {
      expect(guess).not.toBe(real);
      for (const type of guardedTypes) expectErrorReply(await send(arena.admin, type, guess), 'NOT_LOGGED_IN');
    }
    await stillUsable(arena.admin);
    await watch.unharmed();
  });
});

describe.each(databaseKinds)('an expired session (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { sessionIdleSeconds: 1 });
  });
  afterAll(async () => arena?.close());

  it('is refused after the idle time, and stays refused', async () => {
    const watch = await arena.watch();
    const admin = await arena.world.loginAs('curator', 'admin');
    await new Promise((resolve) => setTimeout(resolve, 1300));
    const reply = await admin.request({ type: 'delete_movie', session: admin.session, movie_id: arena.free.id });
    expectErrorReply(reply, 'NOT_LOGGED_IN');
    expect(reply.msg).toMatch(/expired/);
    expectErrorReply(await admin.request({ type: 'delete_movie', session: admin.session, movie_id: arena.free.id }), 'NOT_LOGGED_IN');
    await watch.unharmed();
  });
});
