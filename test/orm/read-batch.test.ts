/**
 * Per-turn read coalescing (src/orm/read-batch.ts) and the id loader (src/orm/id-loader.ts),
 * on real databases. Statements are counted by the database itself: SQLite through
 * better-sqlite3's `verbose` hook (called once per statement run), MySQL through the
 * session's COM_STMT_EXECUTE counter (reads are prepared statements) on a one-connection
 * pool, which also makes the pool run statements in the order they were sent.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IdLoader } from '../../src/orm/id-loader.js';
import { ensureSchema, openDatabase, type Database } from '../../src/orm/index.js';
import { allModels, User } from '../../src/orm/models/index.js';
import { SqliteDatabase } from '../../src/orm/sqlite.js';
import { databaseKinds, freshDatabaseUrl, type DatabaseKind } from '../helpers/databases.js';

interface CountedDatabase {
  db: Database;
  /** Reads (SELECTs) the database ran since the previous call. */
  readsSince(): Promise<number>;
  close(): Promise<void>;
}

async function openCounted(kind: DatabaseKind): Promise<CountedDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'cinebox-batch-'));
  const cleanup = () => rm(dir, { recursive: true, force: true });
  if (kind === 'sqlite') {
    let reads = 0;
    const connection = new BetterSqlite3(join(dir, 'batch.db'), {
      verbose: (sql) => {
        if (/^\s*select/i.test(String(sql))) reads++;
      },
    });
    connection.pragma('journal_mode = WAL');
    const db = new SqliteDatabase(connection);
    await ensureSchema(db, allModels);
    return {
      db,
      async readsSince() {
        const n = reads;
        reads = 0;
        return n;
      },
      async close() {
        await db.close();
        await cleanup();
      },
    };
  }
  const fresh = await freshDatabaseUrl('mysql', dir);
  const db = await openDatabase(`${fresh.url}?connectionLimit=1`);
  await ensureSchema(db, allModels);
  const executed = async () => {
    const [row] = await db.query<{ n: unknown }>(
      "SELECT VARIABLE_VALUE AS n FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'",
    );
    return Number(row!.n);
  };
  let last = await executed();
  return {
    db,
    async readsSince() {
      const now = await executed();
      const reads = now - last - 1; // the counter counts its own read
      last = now;
      return reads;
    },
    async close() {
      await db.close();
      await fresh.drop();
      await cleanup();
    },
  };
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe.each(databaseKinds)('per-turn read coalescing on %s', (kind) => {
  let counted: CountedDatabase;
  let db: Database;
  let alice: User;
  let bob: User;
  const READ_NAME = 'SELECT name, register_time FROM user WHERE id = ?';
  const nameOf = async (id: number) => (await db.query<{ name: string }>(READ_NAME, [id]))[0]?.name;

  beforeAll(async () => {
    counted = await openCounted(kind);
    db = counted.db;
    const at = new Date('2026-03-04T05:06:07.890Z');
    alice = await User.from({ name: 'alice', password: 'x', user_type: 'user', register_time: at }).save(db);
    bob = await User.from({ name: 'bob', password: 'x', user_type: 'admin', register_time: at }).save(db);
  });
  afterAll(async () => counted?.close());
  beforeEach(async () => {
    await User.updateWhere(db, { name: 'alice' }, { id: alice.id });
    await counted.readsSince();
  });

  it('runs identical reads issued in one turn once, and each caller gets its own rows', async () => {
    const same = Array.from({ length: 20 }, () => db.query<{ name: string; register_time: unknown }>(READ_NAME, [alice.id]));
    const other = Array.from({ length: 3 }, () => db.query<{ name: string }>(READ_NAME, [bob.id]));
    const rows = await Promise.all(same);
    const others = await Promise.all(other);
    expect(await counted.readsSince()).toBe(2);

    for (const r of rows) expect(r).toEqual(rows[0]);
    expect(rows[0]![0]!.name).toBe('alice');
    expect(others.map((r) => r[0]!.name)).toEqual(['bob', 'bob', 'bob']);
    // Never one object for two callers: arrays and rows are distinct, a change stays private.
    expect(new Set(rows).size).toBe(20);
    expect(new Set(rows.map((r) => r[0])).size).toBe(20);
    rows[0]![0]!.name = 'changed';
    rows[1]!.push({ name: 'extra', register_time: null });
    expect(rows[2]).toEqual([{ name: 'alice', register_time: rows[2]![0]!.register_time }]);
  });

  it('runs reads issued in different turns separately (nothing outlives the turn)', async () => {
    expect(await nameOf(alice.id)).toBe('alice');
    await User.updateWhere(db, { name: 'alicia' }, { id: alice.id });
    expect(await nameOf(alice.id)).toBe('alicia');
    await nextTurn();
    expect(await nameOf(alice.id)).toBe('alicia');
    expect(await counted.readsSince()).toBe(3);
  });

  it('keeps call order around writes: a read issued before a write sees the old value, one after sees the new', async () => {
    const before = nameOf(alice.id);
    const write = User.updateWhere(db, { name: 'alicia' }, { id: alice.id });
    const after = nameOf(alice.id);
    expect(await Promise.all([before, write, after])).toEqual(['alice', 1, 'alicia']);
    expect(await counted.readsSince()).toBe(2); // the two reads were not coalesced across the write
  });

  it('never joins a read already sent: a flow that awaited its write reads it back', async () => {
    const early = nameOf(alice.id);
    await nextTurn(); // `early` has been sent
    await User.updateWhere(db, { name: 'alicia' }, { id: alice.id });
    expect(await nameOf(alice.id)).toBe('alicia');
    expect(await early).toBe('alice');
  });

  it('runs reads issued before a transaction first, and never batches reads inside one', async () => {
    const before = nameOf(alice.id);
    const inside = db.transaction(async (tx) => {
      await tx.execute('UPDATE user SET name = ? WHERE id = ?', ['alicia', alice.id]);
      return Promise.all([0, 1, 2].map(() => tx.query<{ name: string }>(READ_NAME, [alice.id])));
    });
    expect(await before).toBe('alice');
    expect((await inside).map((rows) => rows[0]!.name)).toEqual(['alicia', 'alicia', 'alicia']);
    expect(await counted.readsSince()).toBe(4); // 1 before + 3 inside, none coalesced
    expect(await nameOf(alice.id)).toBe('alicia');
  });

  it('rejects every caller that joined a failed read, with the one error of the one read that ran', async () => {
    // A read that fails while it runs (not when prepared), so the database counts it.
    const failing =
      kind === 'sqlite'
        ? 'SELECT json(name || ?) AS j FROM user WHERE id = ?' // malformed JSON
        : 'SELECT (SELECT 1 UNION SELECT 2) + ? AS j FROM user WHERE id = ?'; // subquery returns more than 1 row
    const results = await Promise.allSettled([0, 1, 2].map(() => db.query(failing, ['x', alice.id])));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await counted.readsSince()).toBe(1);
    const [first, ...others] = results.map((r) => (r as PromiseRejectedResult).reason);
    expect(first).toBeInstanceOf(Error);
    for (const reason of others) expect(reason).toBe(first);
    expect(await nameOf(alice.id)).toBe('alice'); // the database goes on serving
  });

  it.runIf(kind === 'sqlite')('runs a query that writes (INSERT ... RETURNING) in call order, never coalesced', async () => {
    const count = () => db.query<{ n: number }>('SELECT COUNT(*) AS n FROM notice');
    const insert = "INSERT INTO notice (title, content, create_time, user_id) VALUES ('t', 'c', '2026-01-01 00:00:00.000', 1) RETURNING id";
    const results = await Promise.all([count(), db.query<{ id: number }>(insert), db.query<{ id: number }>(insert), count()]);
    expect(results[0]![0]!.n).toBe(0);
    expect(results[1]![0]!.id).not.toBe(results[2]![0]!.id);
    expect(results[3]![0]!.n).toBe(2);
  });
});

describe.each(databaseKinds)('IdLoader on %s', (kind) => {
  let counted: CountedDatabase;
  let db: Database;
  const users = new IdLoader(User);
  const ids: number[] = [];

  beforeAll(async () => {
    counted = await openCounted(kind);
    db = counted.db;
    for (let i = 0; i < 70; i++) {
      const user = await User.from({ name: `u${i}`, password: 'x', user_type: 'user', register_time: new Date() }).save(db);
      ids.push(user.id);
    }
  });
  afterAll(async () => counted?.close());
  beforeEach(async () => {
    await counted.readsSince();
  });

  it('reads every id asked for in one turn with one SELECT; repeats get their own copies, unknown ids undefined', async () => {
    const [a, b, c, again, missing] = await Promise.all(
      [ids[0]!, ids[1]!, ids[2]!, ids[0]!, 999_999].map((id) => users.load(db, id)),
    );
    expect(await counted.readsSince()).toBe(1);
    expect([a, b, c].map((u) => u?.name)).toEqual(['u0', 'u1', 'u2']);
    expect(a).toBeInstanceOf(User);
    expect(again).toEqual(a);
    expect(again).not.toBe(a);
    expect(again!.register_time).not.toBe(a!.register_time);
    expect(missing).toBeUndefined();
  });

  it('splits a long batch, and reads again in the next turn (no cache)', async () => {
    const loaded = await Promise.all(ids.map((id) => users.load(db, id)));
    expect(loaded.map((u) => u?.name)).toEqual(ids.map((_, i) => `u${i}`));
    expect(await counted.readsSince()).toBe(2); // 64 + 6

    await User.updateWhere(db, { is_locked: 1 }, { id: ids[5]! });
    expect((await users.load(db, ids[5]!))?.is_locked).toBe(1);
    await User.updateWhere(db, { is_locked: 0 }, { id: ids[5]! });
    expect((await users.load(db, ids[5]!))?.is_locked).toBe(0);
  });

  it('rejects the callers of a failed batch and keeps working', async () => {
    await expect(users.load(db, 1.5)).rejects.toThrow(/integer/);
    expect((await users.load(db, ids[0]!))?.name).toBe('u0');
  });
});
