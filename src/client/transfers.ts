/**
 * Uploads and downloads on top of ClientConnection. Both verify whole files with SHA-256:
 * an upload declares it so the server can check what it received; a download lands in a
 * `.part` file that gets its real name only after its hash matches the server's. Both
 * resume: a cut transfer continues from the bytes already on the receiving side.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, rename, stat, truncate, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { TRAILER_TYPE } from '../protocol/frame.js';
import type { Reply } from '../protocol/messages.js';
import { createSha256Sink, openFileSink, type Sha256Sink } from '../transfer/sha256-sink.js';
import { ClientConnection, expectOk, ServerError } from './connection.js';

/** Called with bytes done so far and the total. */
export type Progress = (done: number, total: number) => void;

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

export async function sha256OfFile(path: string, onProgress?: Progress): Promise<string> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const hasher = createSha256Sink({ expectedBytes: size });
    try {
      await hashPrefix(file, size, hasher, onProgress);
      return await hasher.finish();
    } finally {
      await hasher.close();
    }
  } finally {
    await file.close();
  }
}

/** Bytes per read when hashing a file: large reads, few trips to the thread pool. */
const HASH_READ_BYTES = 2 * 1024 * 1024;

/**
 * Feeds the first `length` bytes of `file` to `hasher`. The next piece is read (on the thread
 * pool) while this one is hashed, so the pass costs little more than the hashing.
 */
async function hashPrefix(file: FileHandle, length: number, hasher: Sha256Sink, onProgress?: Progress): Promise<void> {
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
    if (!hasher.hashOnly(piece)) await hasher.drained();
    pending = done < length ? readAt(i ^ 1, done) : undefined;
    onProgress?.(done, length);
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
    if (hasher && offset > 0) await hashFile(path, offset, hasher); // the part a resumed upload does not send
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

export interface DownloadOptions {
  outDir: string;
  /** Told how long the server makes a non-VIP viewer wait before the bytes come. */
  onWait?: (seconds: number) => void;
  onProgress?: Progress;
  /** Continue from the `.part` a cut download of this video left in outDir (default true). */
  resume?: boolean;
  /** Told when the bytes continue a partial file, from `offset` of `total`. */
  onResume?: (offset: number, total: number) => void;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  reply: Reply;
  /** Where this download's bytes started: > 0 when it continued a partial file. */
  offset: number;
}

/** Makes a server-supplied name safe to use as a local file name. */
export function localNameFor(fileName: string, movieId: number): string {
  const cleaned = basename(fileName.replace(/\\/g, '/'))
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_')
    .replace(/^\.+/, '')
    .trim();
  return cleaned || `video-${movieId}`;
}

/**
 * Downloads a video into `NAME.part` and renames it to NAME once the SHA-256 of the whole
 * file matches the server's. A cut download keeps its `.part` (and a small record of what
 * it is, `.cinebox-<id>.partial.json`); the next download of the same video asks for the
 * rest. A partial that turns out not to match is deleted and the download starts over
 * from 0, so bad bytes never get the final name.
 */
export async function downloadMovie(
  conn: ClientConnection,
  movieId: number,
  movieType: 'free' | 'charge',
  options: DownloadOptions,
): Promise<DownloadResult> {
  await mkdir(options.outDir, { recursive: true });
  // Found even with resume off: it is ours to replace, not a stranger's file to step around.
  const partial = await findPartial(options.outDir, movieId);
  const first = await downloadOnce(conn, movieId, movieType, options, partial);
  if (first !== 'restart') return first;
  const again = await downloadOnce(conn, movieId, movieType, options, undefined);
  if (again === 'restart') throw new ServerError('the server resumed a download that was not asked to resume', 'INTEGRITY');
  return again;
}

/** What a cut download left: its `.part` and what it is part of. */
interface PartialDownload {
  recordPath: string;
  partPath: string;
  /** The name the verified file was to get. */
  finalName: string;
  size: number;
  sha256: string;
  totalSize: number;
}

interface PartialRecord {
  movie_id: number;
  part: string;
  /** The final name it is a part of (records from before it had `NAME.part` only). */
  name?: string;
  sha256: string;
  total_size: number;
}

function recordPathFor(outDir: string, movieId: number): string {
  return join(outDir, `.cinebox-${movieId}.partial.json`);
}

async function findPartial(outDir: string, movieId: number): Promise<PartialDownload | undefined> {
  const recordPath = recordPathFor(outDir, movieId);
  try {
    const record = JSON.parse(await readFile(recordPath, 'utf8')) as PartialRecord;
    if (record.movie_id !== movieId || basename(record.part) !== record.part || !record.part.endsWith('.part')) return undefined;
    const partPath = join(outDir, record.part);
    const { size } = await stat(partPath);
    const finalName = typeof record.name === 'string' ? basename(record.name) : record.part.slice(0, -'.part'.length);
    return { recordPath, partPath, finalName, size, sha256: String(record.sha256), totalSize: Number(record.total_size) };
  } catch {
    return undefined; // no record, no part, or an unreadable record: start from 0
  }
}

/** Where the bytes of one download attempt go. */
interface Target {
  partPath: string;
  finalPath: string;
  recordPath: string;
  start: number;
  total: number;
  file: Sha256Sink;
}

/** One request; 'restart' when the partial it continued proved not to belong or not to match. */
async function downloadOnce(
  conn: ClientConnection,
  movieId: number,
  movieType: 'free' | 'charge',
  options: DownloadOptions,
  partial: PartialDownload | undefined,
): Promise<DownloadResult | 'restart'> {
  let target: Target | undefined;
  let restart = false;
  let received = 0;

  const prepare = async (reply: Reply): Promise<Target | undefined> => {
    const start = Number(reply.offset ?? 0); // a server without resume sends everything
    const total = reply.total_size !== undefined ? Number(reply.total_size) : start + Number(reply.file_size ?? 0);
    const finalPath = join(options.outDir, localNameFor(String(reply.file_name ?? ''), movieId));
    const continues =
      partial !== undefined &&
      options.resume !== false &&
      partial.finalName === basename(finalPath) &&
      partial.sha256 === reply.sha256 &&
      partial.totalSize === total &&
      start <= partial.size;
    if (start > 0 && !continues) {
      restart = true;
      return undefined;
    }
    if (partial && !continues) await removeQuietly(partial.partPath); // ours (its record names it), and of no use now
    const partPath = continues ? partial.partPath : await unclaimedPartPath(finalPath);
    const recordPath = recordPathFor(options.outDir, movieId);
    if (typeof reply.sha256 === 'string') {
      const record: PartialRecord = { movie_id: movieId, part: basename(partPath), name: basename(finalPath), sha256: reply.sha256, total_size: total };
      await writeFile(recordPath, JSON.stringify(record));
    }
    if (start > 0) await truncate(partPath, start);
    const file = await openFileSink(partPath, { start, expectedBytes: total });
    target = { partPath, finalPath, recordPath, start, total, file };
    if (start > 0) {
      await hashFile(partPath, start, file); // the bytes already here, read back: the whole file is checked
      options.onResume?.(start, total);
    }
    return target;
  };

  const header = {
    type: 'download_movie',
    session: conn.session,
    movie_id: movieId,
    movie_type: movieType,
    ...(partial && options.resume !== false ? { offset: partial.size } : {}),
  };
  try {
    const reply = await conn.requestWithBody(header, async (reply) => {
      if (!reply.flag || !(await prepare(reply))) return undefined;
      if (Number(reply.wait_time) > 0) options.onWait?.(Number(reply.wait_time));
      return {
        onChunk: (chunk) => {
          received += chunk.length;
          options.onProgress?.(target!.start + received, target!.total);
          return target!.file.write(chunk) ? undefined : target!.file.drained();
        },
      };
    });
    expectOk(reply);
    if (!target && !restart) await prepare(reply); // no bytes followed: an empty video, or the partial was whole
    if (restart || !target) {
      if (partial) await discardPartial(partial.partPath, partial.recordPath);
      return 'restart';
    }
    const sha256 = await target.file.finish();
    if (typeof reply.sha256 === 'string' && reply.sha256 !== sha256) {
      await discardPartial(target.partPath, target.recordPath);
      if (target.start > 0) return 'restart';
      throw new ServerError(`download corrupted: SHA-256 ${sha256} does not match the server's ${reply.sha256}; the bad bytes were discarded`, 'INTEGRITY');
    }
    const finalPath = await unclaimedPath(target.finalPath, target.total, sha256);
    await rename(target.partPath, finalPath);
    await removeQuietly(target.recordPath);
    return { path: finalPath, size: target.total, sha256, reply, offset: target.start };
  } catch (error) {
    // Cut short: the .part (with every byte received) and its record stay, so the next
    // download continues from them.
    await target?.file.close();
    throw error;
  }
}

/**
 * Where a verified download may land without destroying another file: the wanted path if
 * it is free or already holds these very bytes, else `name (2).ext`, `name (3).ext`, …
 * (two different videos may share a display name).
 */
async function unclaimedPath(wanted: string, size: number, sha256: string): Promise<string> {
  const dot = wanted.lastIndexOf('.');
  const slash = wanted.lastIndexOf('/');
  const [stem, ext] = dot > slash + 1 ? [wanted.slice(0, dot), wanted.slice(dot)] : [wanted, ''];
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? wanted : `${stem} (${n})${ext}`;
    const existing = await stat(candidate).catch(() => undefined);
    if (!existing) return candidate;
    if (existing.isFile() && existing.size === size && (await sha256OfFile(candidate)) === sha256) return candidate;
  }
}

/**
 * A `.part` path no file holds yet: `NAME.part`, else `NAME (2).part`, … A browser's own
 * partial download (Firefox also writes `NAME.part`) must not be truncated by ours.
 */
async function unclaimedPartPath(finalPath: string): Promise<string> {
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? `${finalPath}.part` : `${finalPath} (${n}).part`;
    if (!(await stat(candidate).catch(() => undefined))) return candidate;
  }
}

/** Feeds the first `length` bytes of the file at `path` to `hasher`. */
async function hashFile(path: string, length: number, hasher: Sha256Sink): Promise<void> {
  const file = await open(path, 'r');
  try {
    await hashPrefix(file, length, hasher);
  } finally {
    await file.close();
  }
}

async function discardPartial(partPath: string, recordPath: string): Promise<void> {
  await removeQuietly(partPath);
  await removeQuietly(recordPath);
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
