/**
 * What a power cut would leave cannot be tested by killing a process (the page cache
 * survives that). So these tests record the order of the operations that decide it (every
 * rename, fdatasync and directory fsync of the media store, each commit, each record of an
 * upload's progress, the reply) and check, at every point of that record where the power
 * could go, that what is durable by then is consistent:
 *  - the reply comes only after the file's bytes, its new name and its row are durable;
 *  - a committed movie row never names a file whose bytes or name are not yet durable;
 *  - an upload row never claims more bytes than the partial held at its last sync.
 * And the settings that make a commit durable are the ones in force (SQLite WAL + FULL).
 */
import { fstatSync } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { durabilityWarnings, openDatabase, type Database } from '../../src/orm/index.js';
import { diskOps } from '../../src/server/disk-ops.js';
import { databaseKinds, freshDatabaseUrl } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { MiB, slowDisk } from '../transfers/helpers.js';

type Step =
  | { op: 'sync-file'; file: string; bytes: number }
  | { op: 'rename'; from: string; to: string }
  | { op: 'sync-dir'; dir: string }
  | { op: 'intent' }
  | { op: 'commit' }
  | { op: 'record'; bytes: number }
  | { op: 'reply' };

/** Wraps the media store's disk calls and the database so each lands in `steps`, in order. */
function record(world: World, steps: Step[]): void {
  const app = world.server.app;
  const real = diskOps(true);
  const name = (path: string) => (path === app.media.root ? 'media' : basename(path));
  app.media.disk = {
    async rename(from, to) {
      await real.rename(from, to);
      steps.push({ op: 'rename', from: name(from), to: name(to) });
    },
    async syncFile(fd, path) {
      const bytes = fstatSync(fd).size; // what the sync makes durable, at least
      await real.syncFile(fd, path);
      steps.push({ op: 'sync-file', file: name(path), bytes });
    },
    async syncDir(path) {
      await real.syncDir(path);
      steps.push({ op: 'sync-dir', dir: name(path) });
    },
  };
  const db = app.db;
  const recording = (target: Database): Database => ({
    dialect: target.dialect,
    query: (sql, params) => target.query(sql, params),
    async execute(sql, params) {
      const result = await target.execute(sql, params);
      if (/^INSERT INTO .upload./i.test(sql)) steps.push({ op: 'intent' });
      const progress = /^UPDATE .upload. SET (.*) WHERE/i.exec(sql);
      if (progress && /received_bytes/.test(progress[1]!) && result.affectedRows > 0) {
        const columns = progress[1]!.split(',').map((part) => part.trim().split(/\s*=/)[0]!.replace(/[`"]/g, ''));
        steps.push({ op: 'record', bytes: Number(params![columns.indexOf('received_bytes')]) });
      }
      return result;
    },
    async transaction(fn) {
      const result = await target.transaction((tx) => fn(recording(tx)));
      steps.push({ op: 'commit' });
      return result;
    },
    close: () => target.close(),
  });
  app.db = recording(db);
}

/**
 * Walks the record as a power cut at each point would see it: bytes durable up to the last
 * file sync, a rename durable once its target directory was synced after it.
 */
function powerCutViolations(steps: Step[], stored: string, partial: string): string[] {
  const found: string[] = [];
  let fileDurable = false;
  let renamed = false;
  let nameDurable = false;
  let committed = false;
  let syncedBytes = 0;
  steps.forEach((step, at) => {
    if (step.op === 'sync-file' && step.file === partial) {
      fileDurable = true;
      syncedBytes = step.bytes;
    }
    if (step.op === 'rename' && step.from === partial && step.to === stored) {
      if (!fileDurable) found.push(`#${at}: renamed before its bytes were synced`);
      renamed = true;
    }
    if (step.op === 'sync-dir' && step.dir === 'media' && renamed) nameDurable = true;
    if (step.op === 'commit' && renamed && !committed) {
      committed = true;
      if (!nameDurable) found.push(`#${at}: committed the movie row before the rename was durable`);
    }
    if (step.op === 'record' && step.bytes > syncedBytes) found.push(`#${at}: recorded ${step.bytes} bytes, ${syncedBytes} synced`);
    if (step.op === 'reply' && !(committed && nameDurable && fileDurable)) found.push(`#${at}: replied before the upload was durable`);
  });
  if (!committed) found.push('never committed');
  return found;
}

describe.each(databaseKinds)('the order of durable operations (%s)', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld(kind, { uploadLeaseSeconds: 0.3 });
  });
  afterAll(async () => world?.close());

  const storedOf = async (movieId: unknown) => {
    const [row] = await world.server.app.db.query<{ path: string }>('SELECT path FROM movie WHERE id = ?', [movieId]);
    return row!.path;
  };

  it('a resumable upload: bytes synced, renamed, media/ synced, committed, then the reply; progress never ahead of the sync', async () => {
    const steps: Step[] = [];
    const normal = world.server.app.media.openUpload;
    world.server.app.media.openUpload = slowDisk(3); // long enough for heartbeats (every 100 ms)
    record(world, steps);
    try {
      const conn = await world.loginAs('order-admin', 'admin');
      const path = await world.makeFile('order.bin', 6 * MiB + 5);
      const reply = await uploadFile(conn, path, { isFree: true });
      steps.push({ op: 'reply' });
      const stored = await storedOf(reply.movie_id);
      const partial = `${stored.split('.')[0]}.part`;
      expect(steps.filter((s) => s.op === 'record').length).toBeGreaterThan(0);
      expect(powerCutViolations(steps, stored, partial)).toEqual([]);
      // And the plain order, for the reader.
      const order = steps.filter((s) => s.op !== 'record' && s.op !== 'intent').map((s) => s.op);
      expect(order.slice(-5)).toEqual(['sync-file', 'rename', 'sync-dir', 'commit', 'reply']);
    } finally {
      world.server.app.media.openUpload = normal;
    }
  });

  it("an original client's upload: its intent row exists before the rename, then the same order", async () => {
    const steps: Step[] = [];
    record(world, steps);
    const conn = await world.loginAs('order-legacy', 'admin');
    const path = await world.makeFile('legacy.bin', 2 * MiB + 1);
    const bytes = Buffer.from(await import('node:fs/promises').then((fs) => fs.readFile(path)));
    const reply = await conn.sendWithBody(
      { type: 'update_movie', session: conn.session, file_name: 'legacy.bin', file_size: bytes.length, file_md5: await quickMd5(path), is_free: 1 },
      Readable.from([bytes]),
    );
    steps.push({ op: 'reply' });
    expect(reply.flag).toBe(true);
    const stored = await storedOf(reply.movie_id);
    const legacyTemp = steps.find((s): s is Extract<Step, { op: 'rename' }> => s.op === 'rename')!.from;
    expect(legacyTemp).toMatch(/\.tmp$/);
    expect(powerCutViolations(steps, stored, legacyTemp)).toEqual([]);
    expect(steps.findIndex((s) => s.op === 'intent')).toBeLessThan(steps.findIndex((s) => s.op === 'rename'));
  });

  it.runIf(kind === 'sqlite')('SQLite runs in WAL mode with synchronous=FULL (NORMAL is not durable across a power cut in WAL)', async () => {
    const db = world.server.app.db;
    expect(await db.query('PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
    expect(await db.query('PRAGMA synchronous')).toEqual([{ synchronous: 2 }]);
  });
});

describe.each(databaseKinds)("the start check of the database's own durability settings (%s)", (kind) => {
  it('names each setting that falls short, and none that does not', async () => {
    const dir = (await import('node:os')).tmpdir();
    const fresh = await freshDatabaseUrl(kind, dir);
    const db = await openDatabase(fresh.url);
    try {
      if (kind === 'sqlite') {
        expect(await durabilityWarnings(db)).toEqual([]);
        const lax = await openDatabase(fresh.url, { durable: false });
        expect(await durabilityWarnings(lax)).toEqual([expect.stringMatching(/synchronous=1 in WAL mode/)]);
        await lax.close();
      } else {
        // The server's global settings are not ours to change in a test: the warnings must match them.
        const [row] = await db.query<Record<string, unknown>>('SELECT @@innodb_flush_log_at_trx_commit AS flush, @@sync_binlog AS s, @@log_bin AS b');
        const warnings = await durabilityWarnings(db);
        expect(warnings.some((w) => w.includes('innodb_flush_log_at_trx_commit'))).toBe(Number(row!.flush) !== 1);
        expect(warnings.some((w) => w.includes('sync_binlog'))).toBe(Number(row!.b) === 1 && Number(row!.s) !== 1);
      }
    } finally {
      await db.close();
      await fresh.drop();
    }
  });
});

describe('--durable false (the benchmark baseline)', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite', { durable: false });
  });
  afterAll(async () => world?.close());

  it('makes no file or directory sync and runs SQLite with synchronous=NORMAL', async () => {
    // A sync on a closed descriptor or a missing directory fails when it is really made.
    await expect(diskOps(true).syncFile(2 ** 30, 'x')).rejects.toMatchObject({ code: 'EBADF' });
    await expect(diskOps(true).syncDir('/nonexistent-dir')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(world.server.app.media.disk.syncFile(2 ** 30, 'x')).resolves.toBeUndefined();
    await expect(world.server.app.media.disk.syncDir('/nonexistent-dir')).resolves.toBeUndefined();
    const conn = await world.loginAs('fast-admin', 'admin');
    const reply = await uploadFile(conn, await world.makeFile('fast.bin', MiB), { isFree: true });
    expect(reply.flag).toBe(true);
    expect(await world.server.app.db.query('PRAGMA synchronous')).toEqual([{ synchronous: 1 }]);
  });
});
