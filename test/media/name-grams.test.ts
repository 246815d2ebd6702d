/**
 * The name_gram index finds exactly what the folded LIKE over every name finds, on SQLite and
 * MySQL: wildcards, emoji, Chinese, long terms (more grams than are joined), a gram in no
 * name; a term under 3 code points reads every name. Movies stored before the index get
 * their grams at start (addMissingNameGrams), and until then a search cannot see them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { Movie } from '../../src/orm/models/index.js';
import { pageStatement } from '../../src/server/media/catalog.js';
import { insertFactsRows, newFactsRow } from '../../src/server/media/facts.js';
import { addMissingNameGrams, gramsOf } from '../../src/server/media/name-grams.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

const NAMES = ['100%_real', '100 percent', 'x_y', 'xay', '😀 smile', '😀😀😀', '功夫熊猫', '熊猫 Panda', 'The Matrix Reloaded 12',
  'matrix reloaded 120', 'Matrix', 'ＭＡＴＲＩＸ full', 'Straße', 'STRASSE', 'aaaa', 'aaa', 'aa'];
const fold = (text: string) => text.normalize('NFKC').toLowerCase();

describe.each(databaseKinds)('the name gram index (%s)', (kind) => {
  let world: World;
  let viewer: ClientConnection;
  const rows: { id: number; name: string; deleted: boolean }[] = [];

  beforeAll(async () => {
    // The database's index, so pages read the database (memory-catalog.test.ts has the copy in memory).
    world = await startWorld(kind, { memoryCatalogVideos: 0 });
    await world.server.app.db.transaction(async (tx) => {
      for (let i = 0; i < NAMES.length * 3; i++) {
        const name = `${NAMES[i % NAMES.length]}${i >= NAMES.length ? ` ${i}` : ''}`;
        const movie = Movie.from({
          name, path: `${String(i).padStart(8, '0')}-0000-0000-0000-000000000000.mp4`, is_free: 1, is_delete: i % 7 === 3 ? 1 : 0,
          create_time: new Date(), file_md5: 'x', sha256: 'cd'.repeat(32), live_sha256: null, size: i, user_id: 1,
        });
        await movie.save(tx);
        await insertFactsRows(tx, movie);
        rows.push({ id: movie.id, name, deleted: movie.is_delete === 1 });
      }
    });
    viewer = await world.loginAs('gram-viewer', 'user');
  });
  afterAll(() => world.close());

  const search = async (term: string) => {
    const reply = await viewer.call('get_movie_list', { movie_type: 'all', search: term, limit: 1000 });
    return (reply.movie_list as [string, string, number][]).map((entry) => entry[2]);
  };
  const scan = (term: string) => rows.filter((r) => !r.deleted && fold(r.name).includes(fold(term))).map((r) => r.id);

  it.each(['100%_', '%_r', 'x_y', '😀😀😀', '😀 s', '熊猫 p', '功夫熊', 'matrix reloaded 12', 'ｍａｔｒｉｘ', 'straße', 'strasse', 'aaa', 'aaaa 4', 'zzz', 'ma', '😀', '熊猫'])(
    'search %j finds what a read of every name finds',
    async (term) => {
      expect(await search(term)).toEqual(scan(term));
    },
  );

  it('a term of 3 code points or more is looked up in name_gram; a shorter one reads every name', async () => {
    const { db } = world.server.app;
    const statement = (term: string) => pageStatement(db, { movieType: 'all', order: 'oldest', details: false, facts: false, limit: 50, search: term });
    expect((await statement('😀 s')).sql).toMatch(/name_gram/);
    expect((await statement('熊猫')).sql).not.toMatch(/name_gram/);
    expect(gramsOf('😀😀😀')).toEqual(['😀😀😀']);
  });

  it('a movie stored before the index is found once the start fill gave it its grams', async () => {
    const { db } = world.server.app;
    const movie = Movie.from({
      name: 'Older Film Quixotic', path: 'older-0000-0000-0000-000000000000.mp4', is_free: 1, is_delete: 0,
      create_time: new Date(), file_md5: 'x', sha256: 'ef'.repeat(32), live_sha256: null, size: 1, user_id: 1,
    });
    await movie.save(db);
    await newFactsRow(movie).save(db); // a search key but no grams, as a database from before name_gram has
    expect(await search('quixotic')).toEqual([]);
    expect(await addMissingNameGrams(db)).toBe(1);
    expect(await search('quixotic')).toEqual([movie.id]);
    expect(await addMissingNameGrams(db)).toBe(0);
  });
});
