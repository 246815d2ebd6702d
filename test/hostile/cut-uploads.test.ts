/**
 * Rounds of stalled uploads that each declare 1 GiB (so they hash on the worker thread),
 * send a little (16 KiB), and are cut. A stalled transfer holds only what it was sent, and
 * what a cut one held is freed when it is cut: the process's memory may not grow from round
 * to round. Needs a hashing worker (two cores).
 */
import { availableParallelism } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { sha256, startArena, waitFor, type Arena, type Peer } from './arena.js';

const MiB = 1024 * 1024;
const ROUNDS = 8;
const PER_ROUND = 120;
const withWorker = availableParallelism() > 1;
// A full collection before each measure, so garbage not yet collected does not count as held.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;
if (!withWorker) console.warn('one core: no hashing worker, the cut-upload memory test is skipped');

describe.skipIf(!withWorker).each(databaseKinds)('cut uploads free their memory (%s)', (kind) => {
  let arena: Arena;
  let session: string;
  beforeAll(async () => {
    arena = await startArena(kind, { maxUploadBytes: 2 * 1024 * MiB, adminQuotaBytes: 0, maxConnectionsPerAddress: 1000 });
    (await arena.world.loginAs('staller', 'admin')).close();
  });
  afterAll(async () => arena?.close());

  async function stalledRound(round: number): Promise<void> {
    const peers: Peer[] = await Promise.all(Array.from({ length: PER_ROUND }, () => arena.peer()));
    await Promise.all(
      peers.map(async (peer, i) => {
        const login = await peer.request({ type: 'login', name: 'staller', password: wirePassword('secret-staller'), user_type: 'admin' }, undefined, 60_000);
        session = String(login.session);
        const digest = sha256(Buffer.from(`round ${round} upload ${i}`));
        peer.send({ type: 'update_movie', session, file_name: `stall-${round}-${i}.mp4`, file_size: 1024 * MiB, file_md5: digest.slice(0, 32), is_free: 1, sha256: digest }, Buffer.alloc(16 * 1024, i));
      }),
    );
    await waitFor(async () => (await arena.rows('SELECT id FROM upload WHERE received_bytes >= 0')).length >= PER_ROUND * (round + 1), 20_000, 'every upload started');
    for (const peer of peers) peer.destroy();
    await waitFor(async () => (await arena.rows('SELECT id FROM upload WHERE holder IS NOT NULL')).length === 0, 20_000, 'every cut upload released');
  }

  it(`keeps the memory flat over ${ROUNDS} rounds of ${PER_ROUND} cut 1 GiB uploads`, async () => {
    const watch = await arena.watch();
    const rss: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await stalledRound(round);
      collectGarbage();
      rss.push(process.memoryUsage().rss);
    }
    // A leak grows the process every round; what is not a leak grows it once. The first
    // round fills the allocator and the spare batches, and some runs take one step of
    // 30-50 MiB of native memory at a random later round (JS heap and array buffers flat),
    // then stay flat; steps of ±10 MiB are noise. So over seven rounds the process may not
    // grow by more than that one step. Measured: when each stalled upload took a 1 MiB
    // batch, 133, 141, 150, 157, 165, 227 MiB in six rounds (+86 from round 1); now e.g.
    // 149, 145, 146, 148, 157, 189, 190, 192 (+47) or 151, 148, 161, 159, 165, 202, 204, 203 (+55).
    const mib = rss.map((v) => v / MiB);
    expect(mib.at(-1)! - mib[1]!, `RSS after each round (MiB): ${mib.map(Math.round).join(', ')}`).toBeLessThan(80);
    await watch.served();
  }, 120_000);
});
