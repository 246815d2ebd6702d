/**
 * The session cap of viewer policies, on SQLite and MySQL: a login over the cap ends the
 * oldest session (docs/policies.md says why), on one node and across two servers sharing the
 * database; ended sessions are refused on their next request, the others keep working; a
 * logout frees its slot; admins are not capped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { waitFor } from '../transfers/helpers.js';

describe.each(databaseKinds)('session cap (%s)', (kind) => {
  let world: World;
  let second: RunningServer;

  beforeAll(async () => {
    world = await startWorld(kind, { normalMaxSessions: 2 });
    second = await startServer({ ...world.config, port: 0 }, world.server.app.log);
  });
  afterAll(async () => {
    await second?.close();
    await world?.close();
  });

  async function loginOn(port: number, name: string): Promise<ClientConnection> {
    const conn = await ClientConnection.connect({ host: '127.0.0.1', port });
    await conn.request({ type: 'register', name, password: wirePassword(`secret-${name}`), user_type: 'user' });
    await conn.call('login', { name, password: wirePassword(`secret-${name}`), user_type: 'user' });
    return conn;
  }
  const first = (name: string) => loginOn(world.server.port, name);
  const other = (name: string) => loginOn(second.port, name);
  const list = (conn: ClientConnection) => conn.request({ type: 'get_movie_list', session: conn.session, movie_type: 'all' });

  async function expectEnded(conn: ClientConnection) {
    const reply = await list(conn);
    expect(reply).toMatchObject({ flag: false, code: 'NOT_LOGGED_IN' });
    expect(String(reply.msg)).toMatch(/session was ended: your account logged in elsewhere/);
  }
  async function expectLive(conn: ClientConnection) {
    expect((await list(conn)).code).not.toBe('NOT_LOGGED_IN');
  }

  it('a third login on one node ends the oldest session; the two newest keep working', async () => {
    const a = await first('trio');
    const b = await first('trio');
    await expectLive(a);
    const c = await first('trio');
    await expectEnded(a);
    await expectLive(b);
    await expectLive(c);
    expect((await c.call('user_status', {})).sessions).toBe(2);
  });

  it('holds across two servers on one database: a login on one ends the oldest session on the other', async () => {
    const a = await other('roaming');
    const b = await first('roaming');
    const c = await first('roaming');
    await expectEnded(a);
    await expectLive(b);
    const d = await other('roaming');
    await expectEnded(b);
    await expectLive(c);
    await expectLive(d);
  });

  it('a logout or a closed connection frees its slot: no session is ended for it', async () => {
    const a = await first('leaver');
    const b = await other('leaver');
    await b.call('logout', {});
    const c = await first('leaver');
    await expectLive(a);
    c.close();
    await waitFor(async () => (await a.call('user_status', {})).sessions === 1, 'the server to end the closed connection\'s session');
    const d = await other('leaver');
    await expectLive(a);
    await expectLive(d);
  });

  it('an admin lowering the cap applies at the next login; admins themselves are not capped', async () => {
    const a = await first('squeezed');
    const b = await first('squeezed');
    const admins = await Promise.all([1, 2, 3].map(() => world.loginAs('many-hats', 'admin')));
    await world.loginAs('root', 'admin').then((root) => root.call('set_policy', { name: 'squeezed', max_sessions: 1 }));
    const c = await first('squeezed');
    await expectEnded(a);
    await expectEnded(b);
    await expectLive(c);
    for (const admin of admins) await expectLive(admin);
  });
});
