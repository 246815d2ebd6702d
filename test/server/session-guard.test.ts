/**
 * The session guard reads the user from the database on every request, batched per turn
 * (src/server/guards.ts, src/orm/id-loader.ts): a lock or role set from another connection
 * applies to the very next request, and requests that arrive together each get their own
 * account. End to end over real sockets, on SQLite and MySQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

describe.each(databaseKinds)('the session guard (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;
  let viewers: ClientConnection[];

  const notices = (conn: ClientConnection) => conn.request({ type: 'check_notice', session: conn.session });
  const lock = (name: string, locked: boolean) =>
    admin.request({ type: locked ? 'lock_user' : 'unlock_user', session: admin.session, name });

  beforeAll(async () => {
    world = await startWorld(kind);
    admin = await world.loginAs('boss', 'admin');
    viewers = await Promise.all(Array.from({ length: 12 }, (_, i) => world.loginAs(`viewer${i}`, 'user')));
    await admin.call('release_notice', { title: 'hello', content: 'world' });
  });
  afterAll(async () => world?.close());

  it('applies a lock made on another connection to the very next request, and an unlock too', async () => {
    const vic = viewers[0]!;
    expect(await notices(vic)).toMatchObject({ flag: true });
    expect(await lock('viewer0', true)).toMatchObject({ flag: true });
    expect(await notices(vic)).toMatchObject({ flag: false, code: 'ACCOUNT_LOCKED' });
    expect(await lock('viewer0', false)).toMatchObject({ flag: true });
    expect(await notices(vic)).toMatchObject({ flag: true });
  });

  it('gives requests that arrive together each their own account', async () => {
    await lock('viewer3', true);
    await lock('viewer7', true);
    try {
      for (let round = 0; round < 3; round++) {
        const replies = await Promise.all([...viewers, admin].map((conn) => notices(conn)));
        expect(replies.map((r) => r.flag)).toEqual(viewers.map((_, i) => i !== 3 && i !== 7).concat(true));
        expect(replies[3]).toMatchObject({ code: 'ACCOUNT_LOCKED' });
        // A viewer-only function, asked by everyone at once: only the admin is refused.
        const vip = await Promise.all([viewers[1]!, admin, viewers[2]!].map((c) => c.request({ type: 'download_movie_record', session: c.session })));
        expect(vip.map((r) => r.code ?? 'ok')).toEqual(['NOT_FOUND', 'FORBIDDEN', 'NOT_FOUND']);
      }
    } finally {
      await lock('viewer3', false);
      await lock('viewer7', false);
    }
    const replies = await Promise.all(viewers.map((conn) => notices(conn)));
    expect(replies.every((r) => r.flag === true)).toBe(true);
  });
});
