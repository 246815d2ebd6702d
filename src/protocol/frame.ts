import { ProtocolError } from './errors.js';

/** Python's `struct.pack('i', n)`: a signed 32-bit int, little-endian on every original platform. */
export const LENGTH_PREFIX_BYTES = 4;

/** Builds the whole frame in one allocation so it goes to the socket in a single write. */
export function encodeFrame(header: object): Buffer {
  return encodeJsonFrame(JSON.stringify(header));
}

/** The frame of a header already written as JSON (a page assembled from cached pieces). */
export function encodeJsonFrame(json: string): Buffer {
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + jsonBytes);
  frame.writeInt32LE(jsonBytes, 0);
  frame.write(json, LENGTH_PREFIX_BYTES, 'utf8');
  return frame;
}

/**
 * How many raw bytes follow this header. A `file_size` that is not a usable byte count
 * is fatal: nobody can tell where the next frame starts.
 */
export function bodySizeOf(header: Record<string, unknown>): number {
  const size = header.file_size;
  if (size === undefined) return 0;
  if (typeof size === 'number' && Number.isSafeInteger(size) && size >= 0) return size + 0; // +0 turns -0 into 0
  throw new ProtocolError('BAD_FILE_SIZE', `file_size ${describe(size)} is not a byte count`);
}

function describe(value: unknown): string {
  const text = typeof value === 'number' ? String(value) : JSON.stringify(value) ?? String(value);
  return text.length > 40 ? `${text.slice(0, 40)}...` : text;
}

/**
 * Whether one more frame follows this header's raw bytes: an upload (`update_movie`) with
 * `sha256_trailer` (a cinebox extension) sends the SHA-256 of its bytes after them, as
 * `{ type: "upload_sha256", sha256 }`, so it can hash while it sends instead of reading the
 * file twice. No other type has one, whatever fields it carries.
 */
export function hasTrailer(header: Record<string, unknown>): boolean {
  return header.type === 'update_movie' && header.sha256_trailer === true && header.file_size !== undefined;
}

/** The type of the frame that ends an upload with `sha256_trailer`. */
export const TRAILER_TYPE = 'upload_sha256';
