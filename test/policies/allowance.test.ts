/**
 * The daily allowance of viewer policies, on SQLite and MySQL: a download that does not fit
 * is refused before any byte with used/limit/reset time; parallel requests cannot together
 * pass it; a resumed download counts only the bytes it sends; two servers on one database
 * see the same usage; downloading turned off is refused with a clear message.
 */
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { downloadMovie } from '../../src/client/download.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { waitFor } from '../transfers/helpers.js';
import { KiB, MiB, startPolicyWorld, usageRows, type PolicyWorld } from './helpers.js';

/** A zone whose offset is not whole hours (UTC+05:45), so a reset computed in UTC or the system zone is wrong. */
const TIME_ZONE = 'Asia/Kathmandu';
const LIMIT = MiB + 512 * KiB;

/** The date and time of `instant` in TIME_ZONE, as Intl gives them. */
const inZone = (instant: Date) =>
  new Intl.DateTimeFormat('sv-SE', { timeZone: TIME_ZONE, dateStyle: 'short', timeStyle: 'medium' }).format(instant);

describe.each(databaseKinds)('daily allowance (%s)', (kind) => {
  let p: PolicyWorld;
  let oneMiB: number;
  let bigId: number;
  const BIG = 4 * MiB;

  beforeAll(async () => {
    p = await startPolicyWorld(kind, [MiB, BIG], { normalDailyBytes: LIMIT, normalDailyCount: 3, timeZone: TIME_ZONE });
    oneMiB = p.movies.get(MiB)!;
    bigId = p.movies.get(BIG)!;
  });
  afterAll(async () => p?.world.close());

  const downloadRequest = (viewer: ClientConnection, movieId: number, offset?: number) =>
    viewer.request({ type: 'download_movie', session: viewer.session, movie_id: movieId, movie_type: 'free', ...(offset === undefined ? {} : { offset }) });

  it('refuses a download that does not fit, before any byte, with used, limit and the next midnight in the configured zone', async () => {
    const viewer = await p.world.loginAs('counted', 'user');
    await downloadMovie(viewer, oneMiB, 'free', { outDir: join(p.world.dir, 'counted') });
    expect(await usageRows(p.world, 'counted')).toEqual([expect.objectContaining({ bytes: MiB, count: 1 })]);

    const refused = await downloadRequest(viewer, oneMiB);
    expect(refused).toMatchObject({ flag: false, code: 'DAILY_LIMIT', used_bytes: MiB, limit_bytes: LIMIT, used_count: 1, size: MiB });
    expect(refused.file_size).toBeUndefined();
    expect(String(refused.msg)).toMatch(/1 MiB of 1\.5 MiB used.*resets at .* Asia\/Kathmandu/);
    const resetsAt = new Date(String(refused.resets_at));
    expect(inZone(resetsAt)).toMatch(/ 00:00:00$/);
    expect(inZone(new Date(resetsAt.getTime() - 1)).slice(0, 10)).toBe(inZone(new Date()).slice(0, 10));
    expect(resetsAt.getTime() - Date.now()).toBeLessThanOrEqual(25 * 3600 * 1000);
    // No byte followed the refusal: the next reply on the connection is the next request's.
    expect(await viewer.request({ type: 'server_info' })).toMatchObject({ flag: true, version: expect.any(String) });
    expect(await usageRows(p.world, 'counted')).toEqual([expect.objectContaining({ bytes: MiB, count: 1 })]);
    const status = await viewer.call('user_status', {});
    expect(status.usage).toMatchObject({ bytes: MiB, count: 1, resets_at: refused.resets_at });
    expect(status.policy).toMatchObject({ daily_bytes: LIMIT, daily_count: 3, is_vip: 0 });
  });

  it('counts downloads too: past the daily count the next one is refused', async () => {
    const small = await p.world.loginAs('many', 'user');
    await p.admin.call('set_policy', { name: 'many', daily_bytes: 0 });
    for (let i = 0; i < 3; i++) await downloadMovie(small, oneMiB, 'free', { outDir: join(p.world.dir, `many-${i}`) });
    const refused = await downloadRequest(small, oneMiB);
    expect(refused).toMatchObject({ flag: false, code: 'DAILY_LIMIT', used_count: 3, limit_count: 3 });
    expect(String(refused.msg)).toContain('all 3 of today');
  });

  it('lets through only what fits of many parallel requests on separate connections', async () => {
    const conns = await Promise.all(Array.from({ length: 6 }, () => p.world.loginAs('racer', 'user')));
    const results = await Promise.all(
      conns.map((conn, i) => downloadMovie(conn, oneMiB, 'free', { outDir: join(p.world.dir, `racer-${i}`) }).then(() => 'ok', (e: Error) => e.message)),
    );
    expect(results.filter((r) => r === 'ok')).toHaveLength(1); // 1 MiB fits 1.5 MiB once
    expect(results.filter((r) => r !== 'ok').every((m) => /allowance/.test(m))).toBe(true);
    expect(await usageRows(p.world, 'racer')).toEqual([expect.objectContaining({ bytes: MiB, count: 1 })]);
  });

  it('a cut download keeps only the bytes sent, and its resume counts only the bytes it sends', async () => {
    const viewer = await p.world.loginAs('resumer', 'user');
    await p.admin.call('set_policy', { name: 'resumer', daily_bytes: 64 * MiB, speed_bps: 512 * KiB });
    const outDir = join(p.world.dir, 'resumer');
    const cut = await downloadMovie(viewer, bigId, 'free', { outDir, onProgress: (done) => done >= MiB && viewer.close() }).catch((e: Error) => e);
    expect(cut).toBeInstanceOf(Error);
    // The cut download gave back its count and the bytes it never sent.
    const [afterCut] = await waitFor(async () => {
      const rows = await usageRows(p.world, 'resumer');
      return rows[0]?.count === 0 ? rows : undefined;
    }, 'the cut download to settle');
    const held = (await stat(join(outDir, 'video-4194304.mp4.part'))).size;
    expect(afterCut!.bytes).toBeGreaterThanOrEqual(held);
    expect(afterCut!.bytes).toBeLessThan(BIG);

    // Exactly what the rest needs: a resume asking to reserve the whole file would be refused.
    await p.admin.call('set_policy', { name: 'resumer', daily_bytes: afterCut!.bytes + (BIG - held) });
    const again = await p.world.loginAs('resumer', 'user');
    let resumedAt = -1;
    const done = await downloadMovie(again, bigId, 'free', { outDir, onResume: (offset) => (resumedAt = offset) });
    expect(done.size).toBe(BIG);
    expect(resumedAt).toBe(held);
    expect(await usageRows(p.world, 'resumer')).toEqual([expect.objectContaining({ bytes: afterCut!.bytes + (BIG - held), count: 1 })]);
  }, 60_000);

  it('refuses downloads when an admin turned them off, and allows them again at the class default', async () => {
    const viewer = await p.world.loginAs('banned', 'user');
    const set = await p.admin.call('set_policy', { name: 'banned', downloads: 0 });
    expect(set.policy).toMatchObject({ downloads: 0, overrides: ['downloads'] });
    const refused = await downloadRequest(viewer, oneMiB);
    expect(refused).toMatchObject({ flag: false, code: 'DOWNLOADS_OFF' });
    expect(String(refused.msg)).toMatch(/downloading is turned off for your account/);
    expect(refused.file_size).toBeUndefined();
    expect(await usageRows(p.world, 'banned')).toEqual([]);
    const back = await p.admin.call('set_policy', { name: 'banned', downloads: null });
    expect(back.policy).toMatchObject({ downloads: 1, overrides: [] });
    const done = await downloadMovie(viewer, oneMiB, 'free', { outDir: join(p.world.dir, 'banned') });
    expect(existsSync(done.path)).toBe(true);
  });

  it('two servers on one database see the same usage: a download on one counts on the other', async () => {
    const second: RunningServer = await startServer({ ...p.world.config, port: 0 }, p.world.server.app.log);
    try {
      const onFirst = await p.world.loginAs('roamer', 'user');
      await downloadMovie(onFirst, oneMiB, 'free', { outDir: join(p.world.dir, 'roamer-1') });
      const onSecond = await ClientConnection.connect({ host: '127.0.0.1', port: second.port });
      try {
        await onSecond.call('login', { name: 'roamer', password: wirePassword('secret-roamer'), user_type: 'user' });
        const status = await onSecond.call('user_status', {});
        expect(status.usage).toMatchObject({ bytes: MiB, count: 1 });
        const refused = await downloadRequest(onSecond, oneMiB);
        expect(refused).toMatchObject({ flag: false, code: 'DAILY_LIMIT', used_bytes: MiB, limit_bytes: LIMIT });
      } finally {
        onSecond.close();
      }
    } finally {
      await second.close();
    }
  });
});
