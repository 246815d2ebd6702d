/** Model.select with `columns` (the video list reads three columns, not the whole row), on SQLite and MySQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/orm/index.js';
import { Movie } from '../../src/orm/models/index.js';
import { databaseKinds, openTestDatabase, type TestDatabase } from '../helpers/databases.js';

describe.each(databaseKinds)('Model.select with columns on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    db = testDb.db;
    const created = new Date('2026-01-02T03:04:05.678Z');
    for (const [name, is_free, is_delete] of [['c', 1, 0], ['a', 0, 0], ['gone', 1, 1], ['b', 1, 0]] as const) {
      await Movie.from({ name, path: `${name}.mp4`, is_free, is_delete, create_time: created, file_md5: 'x', sha256: 'y', size: 2 ** 40, user_id: 1 }).save(db);
    }
  });
  afterAll(async () => testDb?.close());

  it('reads only the named columns, decoded, with where, order and limit applied', async () => {
    const rows = await Movie.select(db, { is_delete: 0 }, { columns: ['id', 'name', 'is_free'], orderBy: [['id', 'desc']], limit: 2 });
    expect(rows.map((m) => [m.name, m.is_free])).toEqual([['b', 1], ['a', 0]]);
    expect(rows[0]).toBeInstanceOf(Movie);
    expect(typeof rows[0]!.id).toBe('number');
    expect((rows[0] as Movie).path).toBeUndefined();
    expect((rows[0] as Movie).size).toBeUndefined();
  });

  it('decodes dates and big integers in a projection like in a whole row', async () => {
    const [first] = await Movie.select(db, { name: 'c' }, { columns: ['create_time', 'size'] });
    expect(first!.create_time).toEqual(new Date('2026-01-02T03:04:05.678Z'));
    expect(first!.size).toBe(2 ** 40);
    const [whole] = await Movie.select(db, { name: 'c' });
    expect(whole!.path).toBe('c.mp4');
  });

  it('refuses unknown or no columns', async () => {
    await expect(Movie.select(db, {}, { columns: ['id', 'nope' as 'id'] })).rejects.toThrow(/unknown column "nope"/);
    await expect(Movie.select(db, {}, { columns: [] })).rejects.toThrow(/at least one column/);
  });
});
