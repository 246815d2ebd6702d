/**
 * The download speed of viewer policies, on SQLite and MySQL: a normal viewer's download takes
 * at least the time its speed implies, two downloads of one account share the speed, a VIP is
 * not throttled. Only lower bounds on time (an upper bound would fail on a loaded machine);
 * that the VIP is not slowed is read from the server's own record of the download.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CATCH_UP_MS } from '../../src/server/policies/speed-budget.js';
import { databaseKinds } from '../helpers/databases.js';
import { fileSha256, waitFor } from '../transfers/helpers.js';
import { KiB, MiB, startPolicyWorld, timedDownload, type PolicyWorld } from './helpers.js';

const SPEED = 256 * KiB;
/** The most an idle account may send before the speed holds it back (the bucket's credit). */
const BURST = (SPEED * CATCH_UP_MS) / 1000;

describe.each(databaseKinds)('download speed by policy (%s)', (kind) => {
  let p: PolicyWorld;

  beforeAll(async () => {
    p = await startPolicyWorld(kind, [MiB, 512 * KiB], { normalSpeedBps: SPEED, vipSpeedBps: 0 });
  });
  afterAll(async () => p?.world.close());

  it('a normal viewer downloads 1 MiB at 256 KiB/s in no less than the time the speed implies', async () => {
    const viewer = await p.world.loginAs('slow', 'user');
    const { seconds, result } = await timedDownload(p.world, viewer, p.movies.get(MiB)!, 'slow');
    expect(result.size).toBe(MiB);
    expect(await fileSha256(result.path)).toBe(result.sha256);
    expect(seconds).toBeGreaterThanOrEqual((MiB - BURST) / SPEED);
  }, 30_000);

  it('two downloads of one account at once share the speed: together no faster than one', async () => {
    const [a, b] = [await p.world.loginAs('pair', 'user'), await p.world.loginAs('pair', 'user')];
    const id = p.movies.get(512 * KiB)!;
    const started = performance.now();
    const both = await Promise.all([timedDownload(p.world, a, id, 'pair-a'), timedDownload(p.world, b, id, 'pair-b')]);
    const all = (performance.now() - started) / 1000;
    for (const { result } of both) expect(result.size).toBe(512 * KiB);
    // Alone each would take 2 s; sharing, the pair takes what 1 MiB takes at the speed.
    expect(all).toBeGreaterThanOrEqual((MiB - BURST) / SPEED);
    // And each one was held back by the other, not only the second: neither got the whole speed.
    for (const { seconds } of both) expect(seconds).toBeGreaterThan((512 * KiB) / SPEED + 0.5);
  }, 30_000);

  it('a VIP viewer is not throttled; a normal one at the same moment is, at the class speed', async () => {
    const vip = await p.world.loginAs('gold', 'user');
    await vip.call('buy_vip', {});
    const id = p.movies.get(512 * KiB)!;
    await timedDownload(p.world, vip, id, 'gold');
    const normal = await p.world.loginAs('plain', 'user');
    await timedDownload(p.world, normal, id, 'plain');
    const connOf = (name: string) => p.world.logs.find((line) => line.msg === 'logged in' && line.name === name)?.conn;
    // The server logs a download once its record is written, which may be after the client has the bytes.
    const speedOf = (name: string) =>
      waitFor(() => p.world.logs.find((line) => line.msg === 'download sent' && line.conn === connOf(name)), `the download of ${name} logged`);
    expect((await speedOf('gold')).speed_bps).toBe(0);
    expect((await speedOf('plain')).speed_bps).toBe(SPEED);
  }, 30_000);
});
