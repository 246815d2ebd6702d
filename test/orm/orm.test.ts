import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, DuplicateKeyError, ensureSchema } from '../../src/orm/index.js';
import { tableMeta } from '../../src/orm/decorators.js';
import { AddressBlock, allModels, DownloadRecord, DownloadUsage, EventRecord, EventSequence, LiveSession, LoginFailure, MediaFacts, Movie, NameGram, NodeBeat, Notice, Purchase, Upload, User, ViewerPolicy } from '../../src/orm/models/index.js';
import { databaseKinds, openTestDatabase, type TestDatabase } from '../helpers/databases.js';

describe.each(databaseKinds)('ORM on %s', (kind) => {
  let testDb: TestDatabase;
  let db: Database;
  let counter = 0;

  /** Identifier quoting for the raw SQL these tests check the tables with. */
  const q = (name: string) => (kind === 'mysql' ? `\`${name}\`` : `"${name}"`);
  const uniqueName = (prefix: string) => `${prefix}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;
  const newUser = (values: Partial<User> = {}) =>
    User.from({
      name: uniqueName('user'),
      password: 'scrypt$16384$8$1$c2FsdA$aGFzaA',
      user_type: 'user',
      register_time: new Date(),
      ...values,
    });
  const newMovie = (values: Partial<Movie> = {}) =>
    Movie.from({
      name: uniqueName('movie'),
      path: `${uniqueName('m')}.mp4`,
      is_free: 1,
      create_time: new Date(),
      file_md5: 'd41d8cd98f00b204e9800998ecf8427e',
      sha256: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      size: 1024,
      user_id: 1,
      ...values,
    });

  beforeAll(async () => {
    testDb = await openTestDatabase(kind);
    db = testDb.db;
  });

  afterAll(async () => testDb?.close());

  it('ensureSchema is idempotent: a re-run keeps every table and its rows', async () => {
    // One row in every table first: a re-run that dropped and recreated a table would lose it.
    const now = new Date('2026-01-02T03:04:05.678Z');
    const user = await newUser({ name: uniqueName('kept') }).save(db);
    await newMovie({ user_id: user.id }).save(db);
    await Notice.from({ title: 'kept', content: 'kept', user_id: user.id, create_time: now }).save(db);
    await DownloadRecord.from({ user_id: user.id, movie_id: 1, create_time: now }).save(db);
    await Purchase.from({ user_id: user.id, movie_id: 1, price: 100, create_time: now }).save(db);
    await LoginFailure.from({ address: '192.0.2.1', account: 'kept', failures: 2, last_failure: now, blocked_until: null }).save(db);
    await AddressBlock.from({ address: '192.0.2.1', blocks: 1, accounts: 20, last_block: now, blocked_until: now }).save(db);
    await Upload.from({ user_id: user.id, sha256: 'a'.repeat(64), file_md5: 'm', temp_name: 'kept.part', total_size: 10, received_bytes: 5, holder: null, create_time: now, updated_time: now }).save(db);
    await MediaFacts.from({ movie_id: 1, name_key: 'kept', probed: 0, format: null, container: null, duration_ms: null, width: null, height: null, video_codec: null, audio_codec: null, bit_rate: null, streamable: null, probed_at: null }).save(db);
    await EventRecord.from({ id: 1, kind: 'notice', payload: '{}', create_time: now }).save(db);
    await EventSequence.from({ id: 1, last_id: 1 }).save(db);
    await NameGram.from({ gram: 'kep', movie_id: 1 }).save(db);
    await ViewerPolicy.from({ user_id: user.id, speed_bps: 1024 }).save(db);
    await DownloadUsage.from({ user_id: user.id, day: '2026-01-02', bytes: 10, count: 1 }).save(db);
    await LiveSession.from({ user_id: user.id, node: 'kept', created_at: now }).save(db);
    await NodeBeat.from({ node: 'kept', run: 'r', beat_ms: 2000, host: 'h', pid: 1, started_at: now, beat_time: now }).save(db);
    const tables = allModels.map((model) => tableMeta(model));
    const contents = async () =>
      Object.fromEntries(
        await Promise.all(tables.map(async (t) => [t.name, await db.query(`SELECT * FROM ${q(t.name)} ORDER BY ${q(t.primaryKey.name)}`)] as const)),
      );
    const before = await contents();
    for (const t of tables) expect(before[t.name], t.name).toHaveLength(1);

    await ensureSchema(db, allModels);
    await ensureSchema(db, allModels);
    expect(await contents()).toEqual(before);
    // The constraints survive too, and ids go on from where they were.
    await expect(newUser({ name: user.name }).save(db)).rejects.toBeInstanceOf(DuplicateKeyError);
    expect((await newUser().save(db)).id).toBeGreaterThan(user.id);
  });

  it('save() inserts, sets the auto-increment id and mirrors the defaults', async () => {
    const user = newUser();
    const saved = await user.save(db);
    expect(saved).toBe(user);
    expect(user.id).toBeGreaterThan(0);
    expect(user).toMatchObject({ is_vip: 0, is_locked: 0, failed_logins: 0, quota_bytes: null, locked_until: null });

    const second = await newUser().save(db);
    expect(second.id).toBeGreaterThan(user.id);

    const raw = await db.query(`SELECT * FROM ${q('user')} WHERE ${q('id')} = ?`, [user.id]);
    expect(raw).toHaveLength(1);
    expect(raw[0]).toMatchObject({ name: user.name, is_vip: 0, is_locked: 0, failed_logins: 0, quota_bytes: null });
    expect(JSON.parse(JSON.stringify(user))).toMatchObject({ id: user.id, name: user.name, is_vip: 0 });
  });

  it('select() filters by value, IN list, IS NULL, orders, limits and offsets', async () => {
    const owner = 100_000 + counter;
    const movies = [];
    for (const [i, is_free] of [1, 0, 1, 0, 1].entries()) {
      movies.push(await newMovie({ user_id: owner, is_free, size: 10 * (i + 1) }).save(db));
    }
    expect(await Movie.select(db, { user_id: owner })).toHaveLength(5);
    expect((await Movie.select(db, { user_id: owner, is_free: 0 })).map((m) => m.id)).toEqual([movies[1]!.id, movies[3]!.id]);

    const picked = await Movie.select(db, { id: [movies[0]!.id, movies[4]!.id, 999_999] }, { orderBy: [['id', 'asc']] });
    expect(picked.map((m) => m.id)).toEqual([movies[0]!.id, movies[4]!.id]);
    expect(picked[0]).toBeInstanceOf(Movie);
    expect(await Movie.select(db, { id: [] })).toEqual([]);

    const bySize = await Movie.select(db, { user_id: owner }, { orderBy: [['size', 'desc']], limit: 2, offset: 1 });
    expect(bySize.map((m) => m.size)).toEqual([40, 30]);
    const skipOnly = await Movie.select(db, { user_id: owner }, { orderBy: [['size', 'asc']], offset: 3 });
    expect(skipOnly.map((m) => m.size)).toEqual([40, 50]);

    const unlimited = await newUser({ quota_bytes: 5 * 2 ** 40 }).save(db);
    const nulls = await User.select(db, { quota_bytes: null });
    expect(nulls.length).toBeGreaterThan(0);
    expect(nulls.every((u) => u.quota_bytes === null)).toBe(true);
    expect(nulls.some((u) => u.id === unlimited.id)).toBe(false);
    const reloaded = await User.selectOne(db, { id: unlimited.id });
    expect(reloaded?.quota_bytes).toBe(5 * 2 ** 40);
  });

  it('selectOne() returns the first match or undefined; count() counts', async () => {
    const user = await newUser().save(db);
    const found = await User.selectOne(db, { name: user.name });
    expect(found).toBeInstanceOf(User);
    expect(found).toEqual(user);
    expect(await User.selectOne(db, { name: 'nobody-by-this-name' })).toBeUndefined();

    const owner = 200_000 + counter;
    for (let i = 0; i < 3; i++) await newMovie({ user_id: owner, is_free: i % 2 }).save(db);
    expect(await Movie.count(db, { user_id: owner })).toBe(3);
    expect(await Movie.count(db, { user_id: owner, is_free: 0 })).toBe(2);
    expect(await Movie.count(db, { user_id: owner, is_free: [] })).toBe(0);
    const [{ n }] = await db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${q('movie')}`);
    expect(await Movie.count(db)).toBe(Number(n));
  });

  it('update() writes every non-key column of the row', async () => {
    const user = await newUser().save(db);
    user.is_vip = 1;
    user.failed_logins = 3;
    user.locked_until = new Date('2031-05-06T07:08:09.010Z');
    expect(await user.update(db)).toBe(1);
    const [raw] = await db.query(`SELECT * FROM ${q('user')} WHERE ${q('id')} = ?`, [user.id]);
    expect(raw).toMatchObject({ is_vip: 1, failed_logins: 3, locked_until: '2031-05-06 07:08:09.010' });
    expect(await User.selectOne(db, { id: user.id })).toEqual(user);

    user.locked_until = null;
    await user.update(db);
    expect((await User.selectOne(db, { id: user.id }))?.locked_until).toBeNull();
  });

  it('updateWhere() returns the affected rows and is atomic under concurrency', async () => {
    const user = await newUser().save(db);
    expect(await User.updateWhere(db, { failed_logins: 2 }, { id: user.id })).toBe(1);
    expect(await User.updateWhere(db, { failed_logins: 2 }, { id: -1 })).toBe(0);

    const results = await Promise.all(
      Array.from({ length: 20 }, () => User.updateWhere(db, { is_vip: 1 }, { id: user.id, is_vip: 0 })),
    );
    expect(results.filter((n) => n === 1)).toHaveLength(1);
    expect(results.filter((n) => n === 0)).toHaveLength(19);
    const [raw] = await db.query(`SELECT ${q('is_vip')}, ${q('failed_logins')} FROM ${q('user')} WHERE ${q('id')} = ?`, [user.id]);
    expect(raw).toEqual({ is_vip: 1, failed_logins: 2 });

    await expect(User.updateWhere(db, { is_vip: 1 }, {})).rejects.toThrow(/empty where/);
  });

  it('a UNIQUE violation raises DuplicateKeyError; racing inserts leave exactly one row', async () => {
    const user = await newUser().save(db);
    await expect(newUser({ name: user.name }).save(db)).rejects.toBeInstanceOf(DuplicateKeyError);

    const name = uniqueName('racer');
    const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => newUser({ name }).save(db)));
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(failures).toHaveLength(19);
    for (const failure of failures) expect(failure.reason).toBeInstanceOf(DuplicateKeyError);
    const rows = await db.query(`SELECT ${q('id')} FROM ${q('user')} WHERE ${q('name')} = ?`, [name]);
    expect(rows).toHaveLength(1);

    // Names are compared exactly on both dialects (MySQL's default collation would ignore case).
    const upper = await newUser({ name: name.toUpperCase() }).save(db);
    expect(await User.count(db, { name: [name, upper.name] })).toBe(2);

    const purchase = () => Purchase.from({ user_id: user.id, movie_id: 7, price: 500, create_time: new Date() });
    await purchase().save(db);
    await expect(purchase().save(db)).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await Purchase.count(db, { user_id: user.id, movie_id: 7 })).toBe(1);
  });

  it('datetime round-trips to the millisecond, stored as UTC text', async () => {
    const when = new Date('2024-02-29T23:59:59.987Z');
    const record = await DownloadRecord.from({ user_id: 1, movie_id: 2, create_time: when }).save(db);
    const [raw] = await db.query<{ create_time: string }>(
      `SELECT ${q('create_time')} FROM ${q('download_record')} WHERE ${q('id')} = ?`,
      [record.id],
    );
    expect(raw!.create_time).toBe('2024-02-29 23:59:59.987');
    const loaded = await DownloadRecord.selectOne(db, { id: record.id });
    expect(loaded!.create_time).toBeInstanceOf(Date);
    expect(loaded!.create_time.getTime()).toBe(when.getTime());
    expect(await DownloadRecord.count(db, { create_time: when })).toBeGreaterThanOrEqual(1);
  });

  it('Chinese and emoji text round-trip', async () => {
    const title = '新片上架：功夫熊猫 🐼';
    const content = '免费电影每日更新，收费电影会员半价。'.repeat(200);
    const notice = await Notice.from({ title, content, user_id: 1, create_time: new Date() }).save(db);
    const loaded = await Notice.selectOne(db, { id: notice.id });
    expect(loaded).toMatchObject({ title, content });
    const [raw] = await db.query(`SELECT ${q('title')} FROM ${q('notice')} WHERE ${q('title')} = ?`, [title]);
    expect(raw).toEqual({ title });

    const name = `用户-${counter}-张三`;
    await newUser({ name }).save(db);
    expect((await User.selectOne(db, { name }))?.name).toBe(name);
  });

  it('transaction commits on success', async () => {
    const name = uniqueName('tx-commit');
    const result = await db.transaction(async (tx) => {
      const user = await newUser({ name }).save(tx);
      await Purchase.from({ user_id: user.id, movie_id: 1, price: 100, create_time: new Date() }).save(tx);
      expect(await User.count(tx, { name })).toBe(1);
      return user.id;
    });
    expect(await db.query(`SELECT ${q('id')} FROM ${q('user')} WHERE ${q('name')} = ?`, [name])).toEqual([{ id: result }]);
    expect(await Purchase.count(db, { user_id: result })).toBe(1);
  });

  it('transaction rolls back when the callback throws; the rows are really absent', async () => {
    const name = uniqueName('tx-rollback');
    let userId = 0;
    let handle: Database | undefined;
    await expect(
      db.transaction(async (tx) => {
        handle = tx;
        const user = await newUser({ name }).save(tx);
        userId = user.id;
        await Purchase.from({ user_id: user.id, movie_id: 1, price: 100, create_time: new Date() }).save(tx);
        await tx.transaction(async (inner) => User.updateWhere(inner, { is_vip: 1 }, { id: user.id }));
        throw new Error('payment declined');
      }),
    ).rejects.toThrow('payment declined');
    expect(userId).toBeGreaterThan(0);
    expect(await db.query(`SELECT * FROM ${q('user')} WHERE ${q('name')} = ?`, [name])).toEqual([]);
    expect(await db.query(`SELECT * FROM ${q('purchase')} WHERE ${q('user_id')} = ?`, [userId])).toEqual([]);
    await expect(handle!.query('SELECT 1')).rejects.toThrow(/already ended/);
  });

  it('a transaction in progress is invisible to, and not joined by, concurrent callers', async () => {
    const name = uniqueName('tx-isolated');
    let inserted!: () => void;
    const insertedPromise = new Promise<void>((resolve) => (inserted = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));

    const transaction = db.transaction(async (tx) => {
      await newUser({ name }).save(tx);
      inserted();
      await released; // the callback awaits while others run
      throw new Error('abort');
    });
    await insertedPromise;
    const outsideCount = User.count(db, { name });
    const outsideInsert = newUser({ name: `${name}-outside` }).save(db);
    release();
    await expect(transaction).rejects.toThrow('abort');
    expect(await outsideCount).toBe(0);
    await outsideInsert;
    expect(await User.count(db, { name: `${name}-outside` })).toBe(1); // not rolled back with the transaction
  });

  it('an SQL injection attempt as a value is stored literally and matches nothing else', async () => {
    const evil = "x' OR '1'='1";
    expect(await User.select(db, { name: evil })).toEqual([]);
    const user = await newUser({ name: evil }).save(db);
    const matches = await User.select(db, { name: evil });
    expect(matches.map((u) => u.id)).toEqual([user.id]);
    expect(await User.select(db, { name: [evil, "'); DROP TABLE user; --"] })).toHaveLength(1);
    const [raw] = await db.query<{ name: string }>(`SELECT ${q('name')} FROM ${q('user')} WHERE ${q('id')} = ?`, [user.id]);
    expect(raw!.name).toBe(evil);
    expect(await User.count(db)).toBeGreaterThan(1);
  });

  it('rejects unknown columns, undefined conditions and values of the wrong kind', async () => {
    const asAny = (value: unknown) => value as never;
    await expect(User.select(db, asAny({ nope: 1 }))).rejects.toThrow(/unknown column "nope"/);
    await expect(User.select(db, asAny({ '1=1 OR name': 'x' }))).rejects.toThrow(/unknown column/);
    await expect(User.select(db, {}, { orderBy: [[asAny('name; DROP'), 'asc']] })).rejects.toThrow(/unknown column/);
    await expect(User.select(db, {}, { orderBy: [['name', asAny('asc; DROP')]] })).rejects.toThrow(/direction/);
    await expect(User.updateWhere(db, asAny({ nope: 1 }), { id: 1 })).rejects.toThrow(/unknown column/);
    expect(() => User.from(asAny({ nope: 1 }))).toThrow(/unknown column/);
    await expect(User.select(db, { name: undefined })).rejects.toThrow(/undefined/);
    await expect(User.select(db, { name: asAny({ toString: () => 'x' }) })).rejects.toThrow(TypeError);
    await expect(User.select(db, { id: asAny('1') })).rejects.toThrow(/expects an integer/);
    await expect(User.select(db, {}, { limit: -1 })).rejects.toThrow(RangeError);
    await expect(newUser({ name: 'x'.repeat(65) }).save(db)).rejects.toThrow(/longer than 64/);
    await expect(User.from({ name: uniqueName('n') }).save(db)).rejects.toThrow(); // NOT NULL columns missing
  });
});
