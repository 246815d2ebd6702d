/** The SHA-256 of a file's first N bytes: a whole file, or the part a resumed transfer already holds. */
import { open, stat } from 'node:fs/promises';
import { createSha256Sink, type Sha256Sink } from './sha256-sink.js';

/** Called with bytes done so far and the total. */
export type Progress = (done: number, total: number) => void;

/** Bytes per read when hashing a file: large reads, few trips to the thread pool. */
const HASH_READ_BYTES = 2 * 1024 * 1024;

/**
 * Feeds the first `length` bytes of the file at `path` to `sink` (hashed only, never written).
 * The next piece is read while this one is hashed, so the pass costs little more than the hashing.
 */
export async function hashFilePrefix(path: string, length: number, sink: Sha256Sink, onProgress?: Progress): Promise<void> {
  const file = await open(path, 'r');
  try {
    const size = Math.min(HASH_READ_BYTES, length);
    const buffers = [Buffer.allocUnsafeSlow(size), Buffer.allocUnsafeSlow(size)];
    const readAt = (i: number, position: number) => file.read(buffers[i]!, 0, Math.min(size, length - position), position);
    let done = 0;
    let pending = length > 0 ? readAt(0, 0) : undefined;
    for (let i = 0; pending; i ^= 1) {
      const { bytesRead } = await pending;
      if (bytesRead === 0) throw new Error(`file ended after ${done} of ${length} bytes`);
      const piece = buffers[i]!.subarray(0, bytesRead);
      done += bytesRead;
      if (!sink.hashOnly(piece)) await sink.drained();
      pending = done < length ? readAt(i ^ 1, done) : undefined;
      onProgress?.(done, length);
    }
  } finally {
    await file.close();
  }
}

/** The hex SHA-256 of the whole file at `path`. */
export async function sha256OfFile(path: string, onProgress?: Progress): Promise<string> {
  const { size } = await stat(path);
  const sink = createSha256Sink({ expectedBytes: size });
  try {
    await hashFilePrefix(path, size, sink, onProgress);
    return await sink.finish();
  } finally {
    await sink.close();
  }
}
