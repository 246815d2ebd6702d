/** Model.sum and Model.deleteWhere (quotas add sizes, finished uploads delete their rows), on SQLite and MySQL. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/orm/index.js';
import { Movie, Upload } from '../../src/orm/models/index.js';
import { databaseKinds, openTestDatabase, type TestDatabase } from '../helpers/databases.js';

describe.each(databaseKinds)('Model.sum and Model.deleteWhere on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    db = testDb.db;
  });
  afterAll(async () => testDb?.close());

  const movie = (user_id: number, size: number, is_delete = 0) =>
    Movie.from({ name: 'm', path: 'p', is_free: 1, is_delete, create_time: new Date(), file_md5: 'x', sha256: 'y', size, user_id });

  it('sums an integer column over the matching rows, as a number, 0 for none', async () => {
    for (const m of [movie(1, 5 * 1024 ** 3), movie(1, 7), movie(1, 100, 1), movie(2, 9)]) await m.save(db);
    expect(await Movie.sum(db, 'size', { user_id: 1, is_delete: 0 })).toBe(5 * 1024 ** 3 + 7);
    expect(await Movie.sum(db, 'size', { user_id: 3 })).toBe(0);
    expect(await Movie.sum(db, 'size')).toBe(5 * 1024 ** 3 + 116);
    await expect(Movie.sum(db, 'name' as 'size')).rejects.toThrow(/not an integer column/);
  });

  it('deletes exactly the matching rows and refuses an empty where', async () => {
    const now = new Date();
    const row = (sha256: string, holder: string | null) =>
      Upload.from({ user_id: 1, sha256, temp_name: `${sha256}.part`, total_size: 10, holder, create_time: now, updated_time: now });
    const [a] = [await row('a', null).save(db), await row('b', 'h').save(db)];
    expect(await Upload.deleteWhere(db, { id: a.id, holder: 'someone' })).toBe(0);
    expect(await Upload.deleteWhere(db, { id: a.id, holder: null })).toBe(1);
    expect((await Upload.select(db)).map((u) => u.sha256)).toEqual(['b']);
    await expect(Upload.deleteWhere(db, {})).rejects.toThrow(/empty where/);
  });
});
