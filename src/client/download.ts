/**
 * Downloads on top of ClientConnection: the bytes land in a `.part` file that gets its real
 * name only after its SHA-256 matches the server's; a cut download continues from its `.part`.
 */
import { mkdir, readFile, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Reply } from '../protocol/messages.js';
import { hashFilePrefix, sha256OfFile, type Progress } from '../transfer/file-hash.js';
import { openFileSink, type Sha256Sink } from '../transfer/sha256-sink.js';
import { expectOk, ServerError, type ClientConnection } from './connection.js';

export interface DownloadOptions {
  outDir: string;
  /** Told how long the server makes a non-VIP viewer wait before the bytes come. */
  onWait?: (seconds: number) => void;
  onProgress?: Progress;
  /** Continue from the `.part` a cut download of this video left in outDir (default true). */
  resume?: boolean;
  /** Told when the bytes continue a partial file, from `offset` of `total`. */
  onResume?: (offset: number, total: number) => void;
  /** Told where the bytes are going before they come (the `.part`, a prefix of the file at every moment): play.ts follows it. */
  onTarget?: (partPath: string, total: number) => void;
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
function localNameFor(fileName: string, movieId: number): string {
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
      await hashFilePrefix(partPath, start, file); // the bytes already here, read back: the whole file is checked
      options.onResume?.(start, total);
    }
    options.onTarget?.(partPath, total);
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

async function discardPartial(partPath: string, recordPath: string): Promise<void> {
  await removeQuietly(partPath);
  await removeQuietly(recordPath);
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}
