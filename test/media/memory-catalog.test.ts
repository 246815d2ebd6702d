/**
 * Pages and searches from the catalog in memory (src/server/media/memory-catalog.ts) give
 * exactly what the database gives, on SQLite and MySQL: two servers on one database, one
 * serving from memory and one told not to (`--memory-catalog 0`), answer every request with
 * the same reply, and both match a plain JavaScript filter and sort of the rows. The edge
 * cases: 1- and 2-character terms (the memory's short grams), Chinese, case and width
 * folding, a term whose grams are all in a name that does not contain it, a delete, a
 * publish through the other node, a row written with no event, a catalog above the cap.
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { Movie } from '../../src/orm/models/index.js';
import { encodeFrame } from '../../src/protocol/frame.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { recordEvent } from '../../src/server/events/event-store.js';
import { insertFactsRows } from '../../src/server/media/facts.js';
import { ListCache, catalogVersion } from '../../src/server/media/list-cache.js';
import { MemoryCatalog } from '../../src/server/media/memory-catalog.js';
import { compareCodePoints } from '../../src/server/media/video-index.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

const NAMES = ['The Matrix', 'matrix reloaded', 'MATRIX', 'abc bcd', 'abcd', 'xabcdx', '熊猫', '功夫熊猫', '熊', '大熊猫 Panda', 'Ärger', 'ÄRGER im Paradies',
  'ＡＢＣ full width', 'Straße', 'STRASSE', 'ß', 'İstanbul', '😀 smile', '😀😀', 'a', 'ab', '100%_real', 'x_y', 'Зима', 'ΑΘΗΝΑ', '\u{10000} astral', '\ue000 private use'];
const TERMS = ['m', 'ma', 'MA', 'mat', 'matrix', '熊', '熊猫', '大熊猫', 'abcd', 'bc b', 'c b', 'bcd', '😀', '😀😀', '😀 s', 'ärger', 'ÄRGER', 'ａｂｃ', 'abc',
  '%', '_', '%_', 'i̇', 'ß', 'ss', 'зима', 'αθηνα', 'zz', 'zzz', 'a', '1', '\u{10000}'];
const fold = (text: string) => text.normalize('NFKC').toLowerCase();

interface Row {
  id: number;
  name: string;
  isFree: boolean;
  deleted: boolean;
}

describe.each(databaseKinds)('pages and searches from memory (%s)', (kind) => {
  let world: World;
  let other: RunningServer;
  let admin: ClientConnection;
  let viewer: ClientConnection;
  let otherViewer: ClientConnection;
  const rows: Row[] = [];

  /** A row as a seeding script writes it (no event), or with its event and an id of our choosing. */
  const insert = async (name: string, i: number, withEvent?: { id: number }) => {
    const movie = Movie.from({
      ...(withEvent ? { id: withEvent.id } : {}),
      name, path: `${String(i).padStart(8, '0')}-0000-0000-0000-000000000000.mp4`, is_free: i % 3 === 0 ? 0 : 1, is_delete: 0,
      create_time: new Date(), file_md5: 'x', sha256: 'ab'.repeat(32), live_sha256: null, size: i, user_id: 1,
    });
    await world.server.app.db.transaction(async (tx) => {
      await movie.save(tx);
      await insertFactsRows(tx, movie);
      if (withEvent) await recordEvent(tx, 'video_added', { movie_id: movie.id, name, is_free: movie.is_free, size: movie.size });
    });
    rows.push({ id: movie.id, name, isFree: movie.is_free === 1, deleted: false });
    return movie.id;
  };
  /** The memory copy is current (read again if a change made it old). */
  const warm = async () => {
    const { videos } = world.server.app;
    await videos.index();
    await videos.settled();
    expect(await videos.index()).toBeDefined();
  };

  beforeAll(async () => {
    world = await startWorld(kind);
    for (let i = 0; i < NAMES.length * 4; i++) await insert(`${NAMES[i % NAMES.length]}${i >= NAMES.length ? ` ${i}` : ''}`, i);
    // Ids 200..4999 stay free: a later row can be given an id below the highest. Its event
    // comes after rows that had none: the copy's count check sees them.
    await insert('Gap Keeper', 5_000, { id: 5_000 });
    admin = await world.loginAs('mc-admin', 'admin');
    viewer = await world.loginAs('mc-viewer', 'user');
    other = await startServer({ ...world.config, port: 0, memoryCatalogVideos: 0 }, pino({ level: 'silent' }));
    otherViewer = await ClientConnection.connect({ host: '127.0.0.1', port: other.port });
    otherViewer.session = String((await otherViewer.call('login', { name: 'mc-viewer', password: wirePassword('secret-mc-viewer'), user_type: 'user' })).session);
    await warm();
  }, 60_000);
  afterAll(async () => {
    otherViewer?.close();
    await other?.close();
    await world?.close();
  });

  /** Both nodes' replies to the same request: the same JSON, key for key. */
  async function both(fields: Record<string, unknown>): Promise<Record<string, unknown>> {
    const mine = await viewer.call('get_movie_list', { movie_type: 'all', ...fields });
    const theirs = await otherViewer.call('get_movie_list', { movie_type: 'all', ...fields });
    expect(JSON.stringify(mine)).toBe(JSON.stringify(theirs));
    return mine;
  }

  async function walk(fields: Record<string, unknown>, limit: number): Promise<number[]> {
    const ids: number[] = [];
    let after: number | undefined;
    for (let pages = 0; pages < 500; pages++) {
      const reply = await both({ ...fields, limit, ...(after ? { after } : {}) });
      const page = (reply.movie_list as [string, string, number][]).map((entry) => entry[2]);
      ids.push(...page);
      if (reply.next_after === null) return ids;
      after = Number(reply.next_after);
    }
    throw new Error('too many pages');
  }

  function expected(search: string | undefined, order: 'oldest' | 'newest' | 'name', type?: 'free' | 'charge'): number[] {
    let live = rows.filter((r) => !r.deleted);
    if (type) live = live.filter((r) => r.isFree === (type === 'free'));
    if (search !== undefined) live = live.filter((r) => fold(r.name).includes(fold(search)));
    // Code-point order, independently of compareCodePoints: UTF-8 bytes.
    const byName = (a: Row, b: Row) => Buffer.compare(Buffer.from(fold(a.name)), Buffer.from(fold(b.name))) || a.id - b.id;
    return (order === 'name' ? [...live].sort(byName) : [...live].sort((a, b) => (order === 'oldest' ? a.id - b.id : b.id - a.id))).map((r) => r.id);
  }

  it.each(TERMS)('search %j, pages of 2 through `after`, in every order', async (term) => {
    await warm();
    for (const order of ['oldest', 'newest', 'name'] as const) {
      expect(await walk({ search: term, order }, 2)).toEqual(expected(term, order));
    }
    expect(await walk({ search: term, order: 'name', movie_type: 'charge' }, 3)).toEqual(expected(term, 'name', 'charge'));
  });

  it('a term whose grams are all in a name that does not hold it is no match', async () => {
    await warm();
    const ids = await walk({ search: 'abcd' }, 50);
    const names = ids.map((id) => rows.find((r) => r.id === id)!.name);
    expect(names.some((name) => name.startsWith('abc bcd'))).toBe(false);
    expect(names.filter((name) => name.startsWith('abcd') || name.startsWith('xabcdx'))).toHaveLength(8);
  });

  it('whole lists and large pages in every order, with details and facts', async () => {
    await warm();
    for (const order of ['oldest', 'newest', 'name'] as const) {
      expect(await walk({ order }, 7)).toEqual(expected(undefined, order));
      expect(await walk({ order, movie_type: 'free' }, 1000)).toEqual(expected(undefined, order, 'free'));
      expect(await walk({ order, search: 'matrix', details: true }, 5)).toEqual(expected('matrix', order));
      expect(await walk({ order, search: '熊', facts: true }, 4)).toEqual(expected('熊', order));
    }
    expect(await both({ search: 'matrix' })).toMatchObject({ next_after: null }); // no limit: every match, no cursor
  });

  it('a page from memory is, byte for byte, the frame the database node sends', async () => {
    await warm();
    const [mine, theirs] = await Promise.all([rawSession(world.server.port), rawSession(other.port)]);
    try {
      for (const fields of [{ limit: 5 }, { search: '熊猫', limit: 3, order: 'newest' }, { search: 'Matrix', order: 'name' }, { search: 'zzz', limit: 2 }, { movie_type: 'free', limit: 4, after: 7 }]) {
        const request = { type: 'get_movie_list', movie_type: 'all', ...fields };
        const [a, b] = [await mine.exchange(request), await theirs.exchange(request)];
        expect(a.toString('utf8')).toBe(b.toString('utf8'));
        expect(a.equals(b)).toBe(true);
        expect(JSON.parse(a.subarray(4).toString()).movie_list.length).toBeGreaterThanOrEqual(fields.search === 'zzz' ? 0 : 1);
      }
    } finally {
      mine.close();
      theirs.close();
    }
  });

  it('the code-point order of names matches the bytes of UTF-8 (surrogate pairs after U+E000..U+FFFF)', () => {
    const keys = ['\uffe0', '\u{10000}', 'z', '\ud7ff', '\ue000', 'é', '', '\u{1f600}'];
    const byBytes = [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    expect([...keys].sort(compareCodePoints)).toEqual(byBytes);
  });

  it('a delete shows in the next page on both nodes; a cursor at the deleted video still works', async () => {
    await warm();
    const victim = rows.find((r) => !r.deleted && r.name.startsWith('The Matrix'))!;
    const before = await walk({ search: 'matrix', order: 'name' }, 3);
    expect(before).toContain(victim.id);
    const { counts } = world.server.app.videos;
    const readAll = counts.readAll;
    const applied = counts.eventsApplied;
    await admin.call('delete_movie', { movie_id: victim.id });
    victim.deleted = true;
    for (const order of ['oldest', 'newest', 'name'] as const) expect(await walk({ search: 'matrix', order }, 3)).toEqual(expected('matrix', order));
    await warm();
    for (const order of ['oldest', 'newest', 'name'] as const) {
      expect(await walk({ search: 'matrix', order }, 3)).toEqual(expected('matrix', order));
      // Continuing after the deleted video (a viewer had it as the last of a page).
      const reply = await both({ search: 'matrix', order, after: victim.id, limit: 1000 });
      const want = expected('matrix', order);
      const place = order === 'name' ? before.indexOf(victim.id) : -1;
      const rest = order === 'oldest' ? want.filter((id) => id > victim.id) : order === 'newest' ? want.filter((id) => id < victim.id) : before.slice(place + 1);
      expect((reply.movie_list as [string, string, number][]).map((entry) => entry[2])).toEqual(rest);
    }
    // The copy applied the delete's event; it was not read again.
    expect(counts.eventsApplied).toBeGreaterThan(applied);
    expect(counts.readAll).toBe(readAll);
  });

  it('a publish through the other node is in this node\'s next page, and in its memory once read again', async () => {
    await warm();
    const readAll = world.server.app.videos.counts.readAll;
    const otherAdmin = await ClientConnection.connect({ host: '127.0.0.1', port: other.port });
    otherAdmin.session = String((await otherAdmin.call('login', { name: 'mc-admin', password: wirePassword('secret-mc-admin'), user_type: 'admin' })).session);
    const path = await world.makeFile('大熊猫 Matrix Quixote.mp4', 12_345);
    const id = Number((await uploadFile(otherAdmin, path, { isFree: true })).movie_id);
    otherAdmin.close();
    const { name } = (await Movie.selectOne(world.server.app.db, { id }))!;
    expect(name).toMatch(/Quixote/);
    rows.push({ id, name, isFree: true, deleted: false });
    expect(await walk({ search: 'quixote' }, 5)).toEqual([id]);
    await warm();
    expect(await walk({ search: 'quixote' }, 5)).toEqual([id]);
    expect(await walk({ search: '熊猫', order: 'newest' }, 4)).toEqual(expected('熊猫', 'newest'));
    expect(await walk({ search: 'matrix', order: 'name' }, 4)).toEqual(expected('matrix', 'name'));
    expect(world.server.app.videos.counts.readAll).toBe(readAll); // the other node's event was applied
  });

  it('publishes in a burst while pages are asked for: every page exact, and the copy follows the events', async () => {
    await warm();
    const readAll = world.server.app.videos.counts.readAll;
    const ids: number[] = [];
    const pages: Promise<number[]>[] = [];
    // The whole burst, in commit order: a page may already hold a video whose insert has
    // committed but not yet returned here, so pages are checked against this, not `ids`.
    const burst = Array.from({ length: 12 }, (_, k) => 6_000 + k);
    for (let k = 0; k < 12; k++) {
      ids.push(await insert(`Burst Numbat ${k}`, 6_000 + k, { id: 6_000 + k }));
      // Each page goes out while the copy may be applying the events before it.
      pages.push(viewer.call('get_movie_list', { movie_type: 'all', search: 'numbat', order: 'newest', limit: 50 }).then((reply) => (reply.movie_list as [string, string, number][]).map((entry) => entry[2])));
    }
    // Checked once all are in, so a wrong page fails this test rather than as a stray rejection.
    for (const [k, got] of (await Promise.all(pages)).entries()) {
      expect(got).toEqual(burst.slice(0, got.length).reverse()); // some prefix of the burst, newest first, never a gap
      expect(got.length).toBeGreaterThanOrEqual(k + 1);
    }
    await warm();
    expect(ids).toEqual(burst);
    expect(await walk({ search: 'numbat', order: 'newest' }, 5)).toEqual([...ids].reverse());
    expect(world.server.app.videos.counts.readAll).toBe(readAll);
  });

  it('a change committed while the copy applies the one before: the newer version is applied too, nothing is read whole', async () => {
    const { db } = world.server.app;
    const cache = new ListCache(catalogVersion(db));
    let stale: string | undefined;
    const copy = new MemoryCatalog(db, async () => stale ?? (await cache.tag()), 1_000_000);
    copy.refresh();
    await copy.settled();
    expect(copy.counts).toEqual({ readAll: 1, eventsApplied: 0 });
    const first = await insert('Racing Bilby 1', 7_000, { id: 7_000 });
    stale = await cache.tag(); // the tag a request read just before the second commit
    const second = await insert('Racing Bilby 2', 7_001, { id: 7_001 });
    copy.refresh();
    stale = undefined;
    await copy.settled();
    expect(copy.counts).toEqual({ readAll: 1, eventsApplied: 1 });
    const index = (await copy.index())!;
    expect(index.select({ movieType: 'all', search: 'bilby', order: 'oldest' }).map((video) => video.id)).toEqual([first, second]);
    await copy.close();
  });

  it('an event for an id below one already held (commits out of id order) reads the copy again, and finds it', async () => {
    await warm();
    const readAll = world.server.app.videos.counts.readAll;
    const id = await insert('Late Committer Wombat', 4_000, { id: 4_000 });
    expect(await walk({ search: 'wombat' }, 5)).toEqual([id]);
    await warm();
    expect(world.server.app.videos.counts.readAll).toBe(readAll + 1);
    expect(await walk({ search: 'wombat' }, 5)).toEqual([id]);
    expect(await walk({ order: 'newest' }, 9)).toEqual(expected(undefined, 'newest'));
  });

  it('a row written without an event (a seeding script) moves the version too', async () => {
    await warm();
    const readAll = world.server.app.videos.counts.readAll;
    const id = await insert('Seeded Quokka', 9_999);
    expect(await walk({ search: 'quokka' }, 5)).toEqual([id]);
    await warm();
    expect(world.server.app.videos.counts.readAll).toBe(readAll + 1);
    expect(await walk({ search: 'quokka' }, 5)).toEqual([id]);
    expect(await walk({ order: 'name' }, 50)).toEqual(expected(undefined, 'name'));
  });
});

/** One connection, logged in as mc-viewer, that sends a header and returns the reply's frame bytes as they arrived. */
async function rawSession(port: number): Promise<{ exchange(header: Record<string, unknown>): Promise<Buffer>; close(): void }> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  let buffered = Buffer.alloc(0);
  let waiting: ((frame: Buffer) => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    if (buffered.length >= 4 && buffered.length >= 4 + buffered.readInt32LE(0)) {
      const frame = buffered.subarray(0, 4 + buffered.readInt32LE(0));
      buffered = buffered.subarray(frame.length);
      waiting?.(frame);
    }
  });
  let session: unknown;
  const exchange = (header: Record<string, unknown>) =>
    new Promise<Buffer>((resolve) => {
      waiting = resolve;
      socket.write(encodeFrame(session === undefined ? header : { ...header, session }));
    });
  const login = JSON.parse((await exchange({ type: 'login', name: 'mc-viewer', password: wirePassword('secret-mc-viewer'), user_type: 'user' })).subarray(4).toString());
  session = login.session;
  return { exchange, close: () => socket.destroy() };
}

describe('a catalog above --memory-catalog', () => {
  it('is not kept in memory: pages read the database, the same pages', async () => {
    const world = await startWorld('sqlite', { memoryCatalogVideos: 3 });
    try {
      const admin = await world.loginAs('cap-admin', 'admin');
      const viewer = await world.loginAs('cap-viewer', 'user');
      const ids: number[] = [];
      for (const name of ['one film', 'two film', 'three film', 'four film']) {
        ids.push(Number((await uploadFile(admin, await world.makeFile(`${name}.mp4`, 5000), { isFree: true })).movie_id));
        await world.server.app.videos.index();
        await world.server.app.videos.settled();
      }
      // Three live videos fit; the fourth made the copy too large.
      expect(await world.server.app.videos.index()).toBeUndefined();
      const reply = await viewer.call('get_movie_list', { movie_type: 'all', search: 'film', order: 'newest', limit: 3 });
      expect((reply.movie_list as [string, string, number][]).map((entry) => entry[2])).toEqual(ids.slice(1).reverse());
      await admin.call('delete_movie', { movie_id: ids[0] });
      await world.server.app.videos.index();
      await world.server.app.videos.settled();
      expect(await world.server.app.videos.index()).toBeDefined();
    } finally {
      await world.close();
    }
  });
});
