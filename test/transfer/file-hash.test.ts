/** The one helper that hashes a file's first N bytes (client resume, server resume, whole-file hash). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFilePrefix, sha256OfFile } from '../../src/transfer/file-hash.js';
import { createSha256Sink } from '../../src/transfer/sha256-sink.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const data = randomBytes(5 * 1024 * 1024 + 7); // more than two of the helper's 2 MiB reads
let dir: string;
let path: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cinebox-file-hash-'));
  path = join(dir, 'video.bin');
  await writeFile(path, data);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('hashFilePrefix', () => {
  it.each([0, 1, 2 * 1024 * 1024, 3 * 1024 * 1024 + 1, data.length])('hashes exactly the first %i bytes, then the sink takes the rest', async (length) => {
    const sink = createSha256Sink({ expectedBytes: data.length });
    const seen: number[] = [];
    await hashFilePrefix(path, length, sink, (done) => seen.push(done));
    sink.write(data.subarray(length));
    expect(await sink.finish()).toBe(sha256(data));
    expect(seen.at(-1) ?? 0).toBe(length);
  });

  it('refuses a file shorter than the length asked for', async () => {
    const sink = createSha256Sink({ expectedBytes: data.length });
    await expect(hashFilePrefix(path, data.length + 1, sink)).rejects.toThrow(`file ended after ${data.length} of ${data.length + 1} bytes`);
    await sink.close();
  });

  it('sha256OfFile is the whole file', async () => {
    expect(await sha256OfFile(path)).toBe(sha256(data));
  });
});
