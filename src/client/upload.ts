/**
 * Uploads on top of ClientConnection: the file is hashed while it is sent and its SHA-256
 * follows the bytes, so the server verifies what it received; a cut upload resumes from
 * the bytes the server holds.
 */
import { createHash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import { TRAILER_TYPE } from '../protocol/frame.js';
import type { Reply } from '../protocol/messages.js';
import { hashFilePrefix, sha256OfFile, type Progress } from '../transfer/file-hash.js';
import { createSha256Sink, type Sha256Sink } from '../transfer/sha256-sink.js';
import { expectOk, type ClientConnection } from './connection.js';

/**
 * The original clients' `file_md5`: MD5 over 10 bytes at offsets 0, size/3, 2*size/3 and
 * size-10. A weak fingerprint, sent only so the original duplicate check keeps working.
 */
export async function quickMd5(path: string): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const third = Math.floor(size / 3);
    const md5 = createHash('md5');
    for (const offset of [0, third, third * 2, Math.max(0, size - 10)]) {
      const buffer = Buffer.alloc(10);
      const { bytesRead } = await file.read(buffer, 0, 10, offset);
      md5.update(buffer.subarray(0, bytesRead));
    }
    return md5.digest('hex');
  } finally {
    await file.close();
  }
}

export interface UploadOptions {
  isFree: boolean;
  /** Display name; defaults to the file's base name. */
  name?: string;
  onHashProgress?: Progress;
  onProgress?: Progress;
  /** Continue a cut upload of the same file from the bytes the server holds (default true). */
  resume?: boolean;
  /** Told when the server already holds the first `offset` bytes, so only the rest is sent. */
  onResume?: (offset: number, total: number) => void;
}

/**
 * Uploads a file. check_movie comes first: it refuses an upload over the quota before any
 * byte is sent, and says how much of a cut upload the server holds; only the rest is sent.
 * The reply's `offset` says where the bytes started.
 *
 * The file is read once: it is hashed while it is sent and its SHA-256 follows the bytes
 * (`sha256_trailer`). Only when the server already stores a video with the same quick
 * fingerprint is the file hashed first, so a duplicate is refused before it is sent.
 */
export async function uploadFile(conn: ClientConnection, path: string, options: UploadOptions): Promise<Reply> {
  const { size } = await stat(path);
  const fileMd5 = await quickMd5(path);
  let check = await conn.call('check_movie', { file_md5: fileMd5, size, sha256_trailer: true });
  let sha256: string | undefined;
  if (check.sha256_needed === true) {
    sha256 = await sha256OfFile(path, options.onHashProgress);
    check = await conn.call('check_movie', { file_md5: fileMd5, sha256, size });
  }
  let offset = options.resume === false ? 0 : offsetWithin(check.offset, size);
  for (let retried = false; ; retried = true) {
    const reply = await sendFrom(conn, path, { size, offset, sha256, fileMd5, options });
    if (reply.flag || retried) return expectOk(reply);
    // Once more from where the server really is: it holds less than it said (another node
    // cut it back), or the bytes it held were bad and it dropped them.
    if (reply.code === 'RESUME_MISMATCH') offset = offsetWithin(reply.offset, size);
    else if (reply.code === 'INTEGRITY' && offset > 0) offset = 0;
    else return expectOk(reply);
  }
}

interface UploadPlan {
  size: number;
  offset: number;
  /** Known before sending (then declared in the header), or undefined: hashed while sending and sent after the bytes. */
  sha256?: string;
  fileMd5: string;
  options: UploadOptions;
}

async function sendFrom(conn: ClientConnection, path: string, { size, offset, sha256, fileMd5, options }: UploadPlan): Promise<Reply> {
  if (offset > 0) options.onResume?.(offset, size);
  const hasher = sha256 ? undefined : createSha256Sink({ expectedBytes: size });
  try {
    if (hasher && offset > 0) await hashFilePrefix(path, offset, hasher); // the part a resumed upload does not send
    const pieces = piecesOf(path, offset, size, hasher, (sent) => options.onProgress?.(sent, size));
    const source = Readable.from(pieces, { objectMode: false, highWaterMark: SEND_READ_BYTES });
    const header = {
      type: 'update_movie',
      session: conn.session,
      file_name: options.name ?? basename(path),
      file_size: size - offset,
      file_md5: fileMd5,
      is_free: options.isFree ? 1 : 0,
      ...(sha256 ? { sha256 } : { sha256_trailer: true }),
      ...(offset > 0 ? { offset } : {}),
    };
    const trailer = hasher ? async () => ({ type: TRAILER_TYPE, sha256: await hasher.finish() }) : undefined;
    return await conn.sendWithBody(header, source, trailer);
  } finally {
    await hasher?.close();
  }
}

/** Bytes per read when sending a file. */
const SEND_READ_BYTES = 1024 * 1024;

/**
 * The bytes of `path` from `start` to `end`, in pieces, the next one read while this one is
 * sent; each is handed to `hasher` (if any) first. Each piece is a fresh buffer: the socket
 * may still hold the one before.
 */
async function* piecesOf(
  path: string,
  start: number,
  end: number,
  hasher: Sha256Sink | undefined,
  onSent: (position: number) => void,
): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    const readAt = (position: number) => {
      const buffer = Buffer.allocUnsafeSlow(Math.min(SEND_READ_BYTES, end - position));
      return file.read(buffer, 0, buffer.length, position);
    };
    let position = start;
    let pending = position < end ? readAt(position) : undefined;
    while (pending) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) throw new Error(`${path} ended after ${position} of ${end} bytes`);
      position += bytesRead;
      pending = position < end ? readAt(position) : undefined;
      const piece = buffer.subarray(0, bytesRead);
      if (hasher && !hasher.write(piece)) await hasher.drained();
      yield piece;
      onSent(position);
    }
  } finally {
    await file.close();
  }
}

/** A server-reported offset, if it is a usable position in a file of `size` bytes. */
function offsetWithin(value: unknown, size: number): number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= size ? value : 0;
}
