/**
 * Search, pages and orders over a few thousand videos with Latin and Chinese names, on
 * SQLite and MySQL: every walk through the pages returns exactly the ids a plain
 * JavaScript filter and sort of the same rows gives, whatever the page size. The queries
 * use indexes for their order (no sort of the whole table per page). The same walks on a
 * node serving pages from its copy of the catalog in memory.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { Movie } from '../../src/orm/models/index.js';
import { pageStatement } from '../../src/server/media/catalog.js';
import { insertFactsRows } from '../../src/server/media/facts.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

const WORDS = ['The Matrix', 'matrix reloaded', 'Ärger im Paradies', 'ärger', 'ÉCOLE', 'école', '功夫熊猫', '大话西游', '西游记之大圣归来',
  '熊猫 Panda', 'ＡＢＣ full width', 'abc', '100%_real', 'x_y', 'Straße', 'ΑΘΗΝΑ', 'αθηνα', 'Зима', 'зима', '😀 smile'];
const COUNT = 3000;

interface Row {
  id: number;
  name: string;
  isFree: boolean;
  deleted: boolean;
}

/** The spec, independently: NFKC, lower case, code-point order. */
const fold = (text: string) => text.normalize('NFKC').toLowerCase();
const byName = (a: Row, b: Row) => Buffer.compare(Buffer.from(fold(a.name)), Buffer.from(fold(b.name))) || a.id - b.id;

/** Every walk runs on a node serving pages from its memory (memory-catalog.ts) and on one reading the database. */
const cases = databaseKinds.flatMap((kind) => (['memory', 'database'] as const).map((from) => [kind, from] as const));

describe.each(cases)('search and pages (%s, from %s)', (kind, from) => {
  let world: World;
  let viewer: ClientConnection;
  const rows: Row[] = [];

  beforeAll(async () => {
    world = await startWorld(kind, from === 'memory' ? {} : { memoryCatalogVideos: 0 });
    const { db } = world.server.app;
    await db.transaction(async (tx) => {
      for (let i = 0; i < COUNT; i++) {
        const name = `${WORDS[i % WORDS.length]} ${(i * 7919) % 1000}`;
        const movie = Movie.from({
          name, path: `${String(i).padStart(8, '0')}-0000-0000-0000-000000000000.mp4`, is_free: i % 3 === 0 ? 0 : 1, is_delete: i % 11 === 5 ? 1 : 0,
          create_time: new Date(), file_md5: 'x', sha256: 'ab'.repeat(32), live_sha256: null, size: i, user_id: 1,
        });
        await movie.save(tx);
        await insertFactsRows(tx, movie);
        rows.push({ id: movie.id, name, isFree: movie.is_free === 1, deleted: movie.is_delete === 1 });
      }
    });
    viewer = await world.loginAs('viewer', 'user');
    await world.server.app.videos.index();
    await world.server.app.videos.settled();
  }, 120_000);
  afterAll(() => world.close());

  async function walk(fields: Record<string, unknown>, limit: number): Promise<number[]> {
    // Nothing changes the catalog here: a node with a copy in memory answers every page from it.
    expect(await world.server.app.videos.index() !== undefined).toBe(from === 'memory');
    const ids: number[] = [];
    let after: number | undefined;
    for (let pages = 0; pages < 1000; pages++) {
      const reply = await viewer.call('get_movie_list', { movie_type: 'all', ...fields, limit, ...(after ? { after } : {}) });
      const movies = (reply.movie_list as [string, string, number][]).map(([name, label, id]) => ({ name, label, id }));
      expect(movies.length).toBeLessThanOrEqual(limit);
      if (fields.details) expect((reply.movies as { id: number }[]).map((m) => m.id)).toEqual(movies.map((m) => m.id));
      else expect(reply.movies).toBeUndefined();
      ids.push(...movies.map((m) => m.id));
      if (reply.next_after === null) return ids;
      expect(reply.next_after).toBe(movies.at(-1)!.id);
      after = Number(reply.next_after);
    }
    throw new Error('too many pages');
  }

  function expected(options: { search?: string; type?: 'free' | 'charge'; order: 'oldest' | 'newest' | 'name' }): number[] {
    let live = rows.filter((r) => !r.deleted);
    if (options.type) live = live.filter((r) => r.isFree === (options.type === 'free'));
    if (options.search !== undefined) live = live.filter((r) => fold(r.name).includes(fold(options.search!)));
    const sorted = options.order === 'name' ? [...live].sort(byName) : [...live].sort((a, b) => (options.order === 'oldest' ? a.id - b.id : b.id - a.id));
    return sorted.map((r) => r.id);
  }

  it.each(['oldest', 'newest', 'name'] as const)('every page in %s order, pages of 97 and of 1000', async (order) => {
    const want = expected({ order });
    expect(want.length).toBeGreaterThan(2500);
    expect(await walk({ order }, 97)).toEqual(want);
    expect(await walk({ order, details: true }, 1000)).toEqual(want);
  });

  it.each([
    ['matrix', 'name'],
    ['MATRIX', 'newest'],
    ['ärger', 'name'],
    ['ÄRGER', 'oldest'],
    ['École', 'name'],
    ['熊猫', 'name'],
    ['西游', 'newest'],
    ['大圣', 'oldest'],
    ['abc', 'name'], // also matches the full-width ＡＢＣ
    ['Ａｂｃ', 'oldest'],
    ['%', 'name'], // a wildcard is a plain character
    ['_', 'oldest'],
    ['αθηνα', 'name'],
    ['ЗИМА', 'newest'],
    ['straße', 'name'],
    ['😀', 'oldest'],
    ['7', 'name'],
    ['no such film', 'name'],
  ] as const)('search %j in %s order', async (search, order) => {
    const want = expected({ search, order });
    expect(await walk({ search, order }, 50)).toEqual(want);
  });

  it('search, type and order together', async () => {
    expect(await walk({ search: 'panda', movie_type: 'charge', order: 'name' }, 13)).toEqual(expected({ search: 'panda', type: 'charge', order: 'name' }));
    expect(await walk({ movie_type: 'free', order: 'newest' }, 250)).toEqual(expected({ type: 'free', order: 'newest' }));
  });

  it('an empty page is a page, not NOT_FOUND; the original request still gets NOT_FOUND for no videos', async () => {
    const reply = await viewer.call('get_movie_list', { movie_type: 'all', search: 'no such film' });
    expect(reply).toEqual({ flag: true, movie_list: [], next_after: null });
    expect(await viewer.call('get_movie_list', { movie_type: 'all', search: 'no such film', details: true })).toEqual({ flag: true, movie_list: [], movies: [], next_after: null });
  });

  it('refuses a page size out of bounds and a name cursor that names no video', async () => {
    for (const limit of [0, 1001, 2.5, -1]) {
      const reply = await viewer.request({ type: 'get_movie_list', session: viewer.session, movie_type: 'all', limit });
      expect(reply).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    }
    const reply = await viewer.request({ type: 'get_movie_list', session: viewer.session, movie_type: 'all', order: 'name', after: 999_999 });
    expect(reply).toMatchObject({ flag: false, code: 'BAD_REQUEST', msg: expect.stringMatching(/after: no video #999999/) });
  });

  it.each([
    ['oldest', {}],
    ['newest', { after: 2000 }],
    ['newest', { movieType: 'free', after: 2000 }],
    ['name', { after: 1500 }],
    ['name', { movieType: 'charge', facts: true }],
    ['newest', { search: 'matrix', facts: true }],
  ] as const)('a page in %s order %j walks an index in that order instead of sorting', async (order, options) => {
    const { db } = world.server.app;
    const query = { movieType: 'all' as const, order, details: true, facts: false, limit: 50, ...options };
    const { sql, params } = await pageStatement(db, query);
    const plan = JSON.stringify(await db.query(kind === 'mysql' ? `EXPLAIN ${sql}` : `EXPLAIN QUERY PLAN ${sql}`, params));
    if (process.env.SHOW_PLAN) console.log(kind, sql, plan);
    expect(plan).not.toMatch(kind === 'mysql' ? /filesort/i : /TEMP B-TREE/i);
    expect(plan).not.toMatch(kind === 'mysql' ? /"type":"ALL"/ : /SCAN m\b/); // never a full read of movie
  });

  it('a search by name sorts only its candidates (from the name_gram index), never the table', async () => {
    const { db } = world.server.app;
    const { sql, params } = await pageStatement(db, { movieType: 'all', order: 'name', details: true, facts: false, limit: 50, search: 'matrix' });
    const plan = JSON.stringify(await db.query(kind === 'mysql' ? `EXPLAIN ${sql}` : `EXPLAIN QUERY PLAN ${sql}`, params));
    expect(sql).toMatch(/FROM .name_gram. g0/);
    expect(plan).not.toMatch(kind === 'mysql' ? /"type":"ALL"/ : /SCAN (m|f)\b/);
  });
});
