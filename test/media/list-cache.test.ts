/**
 * The plain list is served from memory (src/server/media/list-cache.ts) and must never be
 * stale after a commit: a viewer who listed before a publish, a delete or an fsck hide sees
 * the change in the very next list, on SQLite and MySQL. The original reply stays byte for
 * byte what a fresh read gives. Two nodes on one database: a change through one is in the
 * other's next list (the cache checks the movie table's version on every request).
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { Movie } from '../../src/orm/models/index.js';
import { checkStore } from '../../src/server/fsck/check-store.js';
import { ListCache } from '../../src/server/media/list-cache.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { startServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

const ids = (reply: Record<string, unknown>) => (reply.movie_list as [string, string, number][]).map((entry) => entry[2]);

describe.each(databaseKinds)('the list from memory (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;
  let viewer: ClientConnection;

  beforeAll(async () => {
    world = await startWorld(kind);
    admin = await world.loginAs('boss', 'admin');
    viewer = await world.loginAs('watcher', 'user');
  });
  afterAll(() => world.close());

  const list = (fields: Record<string, unknown> = {}) => viewer.call('get_movie_list', { movie_type: 'all', ...fields });
  const upload = async (name: string, isFree: boolean) =>
    Number((await uploadFile(admin, await world.makeFile(name, 10_000 + name.length), { isFree })).movie_id);

  it('a publish, a delete and an fsck hide each show in the next list, in every shape', async () => {
    const first = await upload('first.mp4', true);
    // Fill every shape's cache before each change.
    const shapes = [{}, { details: true }, { movie_type: 'free' }, { movie_type: 'charge' }];
    const before = await Promise.all(shapes.map((fields) => list(fields).catch(() => undefined)));
    expect(ids(before[0]!)).toEqual([first]);
    expect(before[3]).toBeUndefined(); // no paid video yet: NOT_FOUND, not cached

    const second = await upload('second.mp4', false);
    expect(ids(await list())).toEqual([first, second]);
    expect(ids(await list({ details: true }))).toEqual([first, second]);
    expect(ids(await list({ movie_type: 'charge' }))).toEqual([second]);

    const third = await upload('third.mp4', true);
    await list();
    await list({ movie_type: 'free' });
    await admin.call('delete_movie', { movie_id: first });
    expect(ids(await list())).toEqual([second, third]);
    expect(ids(await list({ movie_type: 'free' }))).toEqual([third]);

    // fsck (the start check and the scrub run it in the server) hides a video whose file is gone.
    const row = await Movie.selectOne(world.server.app.db, { id: third });
    await rm(world.server.app.media.pathOf(row!.path));
    await list({ details: true });
    const report = await checkStore(world.server.app, { repair: 'all' });
    expect(report.problems.map((p) => p.kind)).toContain('missing-file');
    expect(ids(await list())).toEqual([second]);
    expect(ids(await list({ details: true }))).toEqual([second]);
  });

  it('two nodes on one database: a publish or delete through one is in the other\'s next list', async () => {
    const other = await startServer({ ...world.config, port: 0 }, pino({ level: 'silent' }));
    try {
      const otherViewer = await ClientConnection.connect({ host: '127.0.0.1', port: other.port });
      const login = await otherViewer.call('login', { name: 'watcher', password: wirePassword('secret-watcher'), user_type: 'user' });
      otherViewer.session = String(login.session);
      const otherList = async () => ids(await otherViewer.call('get_movie_list', { movie_type: 'all' }));
      const before = await otherList(); // cached on the other node now
      const added = await upload('through-a.mp4', true);
      expect(await otherList()).toEqual([...before, added]);
      await admin.call('delete_movie', { movie_id: added });
      expect(await otherList()).toEqual(before);
      otherViewer.close();
    } finally {
      await other.close();
    }
  });

  it('the reply from memory is what a fresh read sends', async () => {
    const cached = await list();
    world.server.app.catalog.invalidate();
    expect(await list()).toEqual(cached);
  });
});

describe('ListCache', () => {
  it('keeps nothing read across a change, and re-reads when the version moves', async () => {
    let version = 1;
    const cache = new ListCache(async () => String(version));
    let reads = 0;
    let release!: () => void;
    const slow = () => new Promise<object>((resolve) => (release = () => resolve({ n: ++reads })));
    const racing = cache.frame('all', slow);
    await new Promise((resolve) => setImmediate(resolve));
    cache.invalidate(); // a commit lands while the rows are read: that frame may be older than it
    release();
    await racing;
    const fresh = () => Promise.resolve({ n: ++reads });
    expect(JSON.parse((await cache.frame('all', fresh)).subarray(4).toString())).toEqual({ n: 2 });
    expect(JSON.parse((await cache.frame('all', fresh)).subarray(4).toString())).toEqual({ n: 2 }); // from memory
    version = 2; // another node committed: the database's version moved
    expect(JSON.parse((await cache.frame('all', fresh)).subarray(4).toString())).toEqual({ n: 3 });
  });
});
