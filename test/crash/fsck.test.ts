/**
 * `cinebox fsck` as an operator runs it (the built CLI, next to a running server), on SQLite
 * and MySQL: a flipped byte, a truncated file, a missing file, an orphan file, an orphan
 * partial and upload rows out of step with their partials are each reported (exit code 1);
 * --repair quarantines bad files (bytes kept), hides their videos and leaves the rest
 * serving (exit code 0, and nothing left on the next run). Then the rate limit of --full and
 * the scheduled scrub's counters.
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { open, readdir, readFile, truncate, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/upload.js';
import { EventRecord, Movie, Upload } from '../../src/orm/models/index.js';
import { checkStore } from '../../src/server/fsck/check-store.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { runCli } from '../cli/helpers/run-cli.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { MiB, sha256, waitFor } from '../transfers/helpers.js';

describe.each(databaseKinds)('cinebox fsck (%s)', { timeout: 180_000 }, (kind) => {
  let world: World;
  let main: string;
  const ids: Record<'flipped' | 'truncated' | 'missing' | 'healthy', number> = { flipped: 0, truncated: 0, missing: 0, healthy: 0 };
  const paths: Record<string, string> = {};
  let orphanFile: string;
  let orphanPartial: string;
  let aheadRow: number;
  let lostRow: number;

  const fsck = (...args: string[]) =>
    runCli(main, ['fsck', '--db', world.config.db, '--media-dir', world.config.mediaDir, '--rate', '0', ...args], { cwd: world.dir });
  const movie = async (id: number) => (await Movie.selectOne(world.server.app.db, { id }))!;

  beforeAll(async () => {
    [world, main] = await Promise.all([startWorld(kind), builtCli()]);
    const admin = await world.loginAs('fsck-admin', 'admin');
    for (const [i, which] of (['flipped', 'truncated', 'missing', 'healthy'] as const).entries()) {
      const reply = await uploadFile(admin, await world.makeFile(`${which}.mp4`, MiB + i * 1000), { isFree: true });
      ids[which] = Number(reply.movie_id);
      paths[which] = join(world.config.mediaDir, (await movie(ids[which])).path);
    }
    const media = world.server.app.media;
    // The damage an operator might find.
    const file = await open(paths.flipped!, 'r+');
    const byte = Buffer.alloc(1);
    await file.read(byte, 0, 1, 4321);
    await file.write(Buffer.from([byte[0]! ^ 0xff]), 0, 1, 4321);
    await file.close();
    await truncate(paths.truncated!, 1000);
    await unlink(paths.missing!);
    orphanFile = `${randomUUID()}.mp4`;
    await writeFile(join(media.root, orphanFile), 'a file nobody knows');
    orphanPartial = `${randomUUID()}.part`;
    await writeFile(media.incomingPathOf(orphanPartial), 'bytes of an upload whose row is gone');
    // Upload rows out of step with their partials (old releases recorded bytes not yet written).
    const now = new Date();
    const ahead = Upload.from({ user_id: 1, sha256: null, file_md5: 'a', temp_name: `${randomUUID()}.part`, total_size: 5000, received_bytes: 4000, holder: null, create_time: now, updated_time: now });
    await ahead.save(world.server.app.db);
    await writeFile(media.incomingPathOf(ahead.temp_name), Buffer.alloc(1500));
    aheadRow = ahead.id;
    const lost = Upload.from({ user_id: 1, sha256: null, file_md5: 'b', temp_name: `${randomUUID()}.part`, total_size: 5000, received_bytes: 2000, holder: null, create_time: now, updated_time: now });
    await lost.save(world.server.app.db);
    lostRow = lost.id;
  }, 180_000);
  afterAll(async () => world?.close());

  it('reports each problem and exits 1; without --full a flipped byte (same size) goes unseen', async () => {
    const quick = await fsck();
    expect(quick.code).toBe(1);
    expect(quick.stdout).not.toMatch(/^corrupt:/m);
    const full = await fsck('--full');
    expect(full.code).toBe(1);
    const lines = full.stdout.split('\n');
    const line = (kind: string, text: string) => expect(lines.some((l) => l.startsWith(`${kind}:`) && l.includes(text)), `${kind} ${text}\n${full.stdout}`).toBe(true);
    line('corrupt', `video #${ids.flipped}`);
    line('wrong-size', `video #${ids.truncated}`);
    line('missing-file', `video #${ids.missing}`);
    line('orphan-file', orphanFile);
    line('orphan-partial', orphanPartial);
    line('row-ahead', `upload #${aheadRow}`);
    line('partial-missing', `upload #${lostRow}`);
    expect(lines.filter((l) => /^[a-z-]+: /.test(l))).toHaveLength(7);
    expect(full.stdout).toMatch(/4 videos checked, \d+ bytes hashed: 7 problems, 7 remaining/);
    // Reporting changed nothing.
    expect((await movie(ids.flipped)).is_delete).toBe(0);
    expect(existsSync(join(world.config.mediaDir, orphanFile))).toBe(true);
  });

  it('--repair quarantines bad files (bytes kept), hides their videos, fixes the rows, exits 0; the next run is clean', async () => {
    const flippedBytes = await readFile(paths.flipped!);
    const repaired = await fsck('--full', '--repair');
    expect(repaired.stderr).toBe('');
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toMatch(/7 problems, 0 remaining/);

    for (const which of ['flipped', 'truncated', 'missing'] as const) {
      expect(await movie(ids[which])).toMatchObject({ is_delete: 1, live_sha256: null });
    }
    expect(await movie(ids.healthy)).toMatchObject({ is_delete: 0 });
    // Hidden as by a delete, so announced as one: a video_removed event row for each.
    const removed = await EventRecord.select(world.server.app.db, { kind: 'video_removed' });
    expect(removed.map((e) => JSON.parse(e.payload).movie_id).sort()).toEqual([ids.flipped, ids.truncated, ids.missing].sort());
    const quarantined = await readdir(world.server.app.media.quarantineDir);
    const flippedName = (await movie(ids.flipped)).path;
    const kept = quarantined.find((name) => name.endsWith(flippedName));
    expect(kept, quarantined.join(', ')).toBeDefined();
    expect(sha256(await readFile(join(world.server.app.media.quarantineDir, kept!)))).toBe(sha256(flippedBytes));
    expect(quarantined.some((name) => name.endsWith(orphanFile))).toBe(true);
    expect(existsSync(paths.flipped!)).toBe(false);
    expect(existsSync(world.server.app.media.incomingPathOf(orphanPartial))).toBe(false);
    expect(await Upload.selectOne(world.server.app.db, { id: aheadRow })).toMatchObject({ received_bytes: 1500 });
    expect(await Upload.selectOne(world.server.app.db, { id: lostRow })).toBeUndefined();

    // The server still serves what is whole, and only that.
    const viewer = await world.loginAs('fsck-viewer', 'user');
    const list = await viewer.call('get_movie_list', { movie_type: 'all' });
    expect((list.movie_list as [string, string, number][]).map((row) => row[2])).toEqual([ids.healthy]);

    const again = await fsck('--full');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/1 videos checked, \d+ bytes hashed: 0 problems, 0 remaining/);
  });

  it('refuses to repair against a database that names none of the files (a wrong --db), and to open one that does not exist', async () => {
    const { writeFile: touch } = await import('node:fs/promises');
    const wrong = join(world.dir, 'empty.db');
    const missing = await runCli(main, ['fsck', '--db', `sqlite:${wrong}`, '--media-dir', world.config.mediaDir], { cwd: world.dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no database at ${wrong}`);
    await touch(wrong, '');
    const before = await readdir(world.config.mediaDir);
    const refused = await runCli(main, ['fsck', '--repair', '--db', `sqlite:${wrong}`, '--media-dir', world.config.mediaDir], { cwd: world.dir });
    expect(refused.code).toBe(1);
    expect(refused.stdout).toMatch(/the database names none of the \d+ files .*Nothing repaired/);
    expect(await readdir(world.config.mediaDir)).toEqual(before);
  });

  it('--full reads at the rate asked for (a lower bound: it is a throttle)', async () => {
    const rate = 2 * MiB;
    const report = await checkStore(world.server.app, { full: true, bytesPerSecond: rate });
    expect(report.bytesHashed).toBeGreaterThan(MiB);
    expect(report.seconds).toBeGreaterThanOrEqual((report.bytesHashed / rate) * 0.95);
  });

  it('leaves an upload in progress alone: a partial whose row is live is no problem', async () => {
    const admin = await world.loginAs('fsck-admin', 'admin');
    const path = await world.makeFile('in-progress.mp4', 3 * MiB);
    const normal = world.server.app.media.openUpload;
    const { slowDisk } = await import('../transfers/helpers.js');
    world.server.app.media.openUpload = slowDisk(20);
    try {
      const upload = uploadFile(admin, path, { isFree: true });
      await waitFor(async () => (await Upload.select(world.server.app.db)).some((row) => row.holder !== null), 'the upload to start');
      const report = await checkStore(world.server.app, { full: true, repair: 'all' });
      expect(report.problems).toEqual([]);
      world.server.app.media.openUpload = normal;
      expect((await upload).flag).toBe(true);
    } finally {
      world.server.app.media.openUpload = normal;
    }
  });
});

describe('the scheduled scrub', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite', { scrubIntervalSeconds: 0.2 });
  });
  afterAll(async () => world?.close());

  it('hashes every live video on a schedule and counts what it found, repairing nothing', async () => {
    const admin = await world.loginAs('scrub-admin', 'admin');
    const reply = await uploadFile(admin, await world.makeFile('scrubbed.mp4', MiB), { isFree: true });
    const stats = world.server.scrub;
    await waitFor(() => stats.runs >= 1 && stats.lastVideosChecked === 1, 'a scrub over the video');
    expect(stats.lastProblems.corrupt).toBe(0);
    const path = join(world.config.mediaDir, (await Movie.selectOne(world.server.app.db, { id: Number(reply.movie_id) }))!.path);
    const bytes = await readFile(path);
    bytes[10]! ^= 1;
    await writeFile(path, bytes);
    await utimes(path, new Date(), new Date());
    await waitFor(() => stats.lastProblems.corrupt === 1, 'the scrub to find the flipped bit');
    expect(stats.bytesHashedTotal).toBeGreaterThanOrEqual(2 * MiB);
    expect(await Movie.selectOne(world.server.app.db, { id: Number(reply.movie_id) })).toMatchObject({ is_delete: 0 });
    expect(world.logs.some((line) => line.msg === 'fsck: problem' && line.problem === 'corrupt')).toBe(true);
  });

  it('is off by default', async () => {
    const { defaultConfig } = await import('../../src/server/config.js');
    expect(defaultConfig.scrubIntervalSeconds).toBe(0);
  });
});
