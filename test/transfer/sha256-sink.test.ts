/**
 * The transfer sink: bytes on disk and the digest, in place and on a worker thread. The
 * tests bring their own one-thread pool, so the worker path runs on any machine, one core included.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HashPool } from '../../src/transfer/hash-pool.js';
import { createSha256Sink, OFF_THREAD_MIN_BYTES, openFileSink, type Sha256Sink } from '../../src/transfer/sha256-sink.js';

const MiB = 1024 * 1024;
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** Feeds `data` in uneven chunks (like socket reads), honouring backpressure. */
async function feed(sink: Sha256Sink, data: Buffer, how: 'write' | 'hashOnly' = 'write'): Promise<boolean> {
  let pushedBack = false;
  for (let at = 0, i = 0; at < data.length; i++) {
    const n = Math.min(data.length - at, [65_536, 1, 333_333, 1_500_000][i % 4]!);
    if (!sink[how](data.subarray(at, at + n))) {
      pushedBack = true;
      await sink.drained();
    }
    at += n;
  }
  return pushedBack;
}

let dir: string;
const pool = new HashPool(1);
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cinebox-sink-'));
});
afterAll(async () => {
  await pool.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['in place', 3 * MiB + 17, false],
  ['on the worker thread', OFF_THREAD_MIN_BYTES + 5 * MiB + 3, true],
])('sha256 sink, %s', (_where, size, offThread) => {
  const data = randomBytes(size);
  let jobsBefore = 0;
  beforeEach(() => {
    jobsBefore = pool.jobsStarted;
  });
  afterEach(() => {
    // The group ran where its name says: one job on the worker per sink, or none.
    expect(pool.jobsStarted - jobsBefore).toBe(offThread ? 1 : 0);
  });

  it('hashes like node:crypto', async () => {
    const sink = createSha256Sink({ expectedBytes: size, pool });
    await feed(sink, data);
    expect(await sink.finish()).toBe(sha256(data));
  });

  it('writes every byte to the file and hashes them', async () => {
    const path = join(dir, `whole-${size}.bin`);
    const sink = await openFileSink(path, { start: 0, expectedBytes: size, pool });
    await feed(sink, data);
    expect(await sink.finish()).toBe(sha256(data));
    expect(sha256(await readFile(path))).toBe(sha256(data));
  });

  it('continues a file: hashes the bytes held, writes only the rest after them', async () => {
    const path = join(dir, `resumed-${size}.bin`);
    const held = Math.floor(size / 3);
    await writeFile(path, data.subarray(0, held));
    const sink = await openFileSink(path, { start: held, expectedBytes: size, pool });
    await feed(sink, data.subarray(0, held), 'hashOnly');
    await feed(sink, data.subarray(held));
    expect(await sink.finish()).toBe(sha256(data));
    expect(sha256(await readFile(path))).toBe(sha256(data));
  });

  it('keeps every byte given when a cut transfer is closed', async () => {
    const path = join(dir, `cut-${size}.bin`);
    const sink = await openFileSink(path, { start: 0, expectedBytes: size, pool });
    const given = data.subarray(0, size - 12_345);
    await feed(sink, given);
    await sink.close();
    await sink.close(); // twice is harmless
    expect(sha256(await readFile(path))).toBe(sha256(given));
  });

  it.skipIf(!existsSync('/dev/full'))('reports a full disk with its code (a real ENOSPC from /dev/full)', async () => {
    const sink = await openFileSink('/dev/full', { start: 0, expectedBytes: size, pool });
    const failure = await (async () => {
      await feed(sink, data);
      return sink.finish();
    })().catch((error: NodeJS.ErrnoException) => error);
    expect(failure).toBeInstanceOf(Error);
    expect((failure as NodeJS.ErrnoException).code).toBe('ENOSPC');
    await sink.close();
  });
});

describe('sha256 sink backpressure', () => {
  it('asks the caller to wait instead of queueing without bound', async () => {
    const size = OFF_THREAD_MIN_BYTES * 3;
    const data = randomBytes(size);
    const sink = createSha256Sink({ expectedBytes: size, pool });
    let refusedAt = -1;
    for (let at = 0; at < size; at += MiB) {
      // No await between writes: the worker cannot answer, so the queue only grows.
      if (!sink.write(data.subarray(at, at + MiB))) {
        refusedAt = at + MiB;
        break;
      }
    }
    expect(refusedAt).toBeGreaterThan(0);
    expect(refusedAt).toBeLessThanOrEqual(OFF_THREAD_MIN_BYTES + 2 * MiB);
    await sink.drained();
    await feed(sink, data.subarray(refusedAt));
    expect(await sink.finish()).toBe(sha256(data));
  });

  it('shares one memory budget among transfers running at once', async () => {
    const six = randomBytes(6 * MiB);
    const alone = createSha256Sink({ expectedBytes: OFF_THREAD_MIN_BYTES, pool });
    expect(alone.write(six)).toBe(true); // 6 MiB queued is within one transfer's 8 MiB
    await alone.close();
    // With 16 transfers running, each may queue a sixteenth of the 64 MiB budget: 4 MiB.
    const many = Array.from({ length: 16 }, () => createSha256Sink({ expectedBytes: OFF_THREAD_MIN_BYTES, pool }));
    expect(many[0]!.write(six)).toBe(false);
    await many[0]!.drained();
    expect(await many[0]!.finish()).toBe(sha256(six));
    await Promise.all(many.map((sink) => sink.close()));
  });
});
