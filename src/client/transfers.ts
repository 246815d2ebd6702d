/**
 * Uploads and downloads on top of ClientConnection. Both verify whole files with SHA-256:
 * an upload declares it so the server can check what it received; a download lands in a
 * `.part` file that gets its real name only after its hash matches the server's.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Transform } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { Reply } from '../protocol/messages.js';
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
  const { size } = await stat(path);
  const hash = createHash('sha256');
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
    done += (chunk as Buffer).length;
    onProgress?.(done, size);
  }
  return hash.digest('hex');
}

export interface UploadOptions {
  isFree: boolean;
  /** Display name; defaults to the file's base name. */
  name?: string;
  onHashProgress?: Progress;
  onProgress?: Progress;
}

export async function uploadFile(conn: ClientConnection, path: string, options: UploadOptions): Promise<Reply> {
  const { size } = await stat(path);
  const sha256 = await sha256OfFile(path, options.onHashProgress);
  const fileMd5 = await quickMd5(path);
  await conn.call('check_movie', { file_md5: fileMd5, sha256 });
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      sent += chunk.length;
      options.onProgress?.(sent, size);
      callback(null, chunk);
    },
  });
  const source = createReadStream(path, { highWaterMark: 1024 * 1024 }).pipe(counter);
  const header = {
    type: 'update_movie',
    session: conn.session,
    file_name: options.name ?? basename(path),
    file_size: size,
    file_md5: fileMd5,
    is_free: options.isFree ? 1 : 0,
    sha256,
  };
  return expectOk(await conn.sendWithBody(header, source));
}

export interface DownloadOptions {
  outDir: string;
  /** Told how long the server makes a non-VIP viewer wait before the bytes come. */
  onWait?: (seconds: number) => void;
  onProgress?: Progress;
}

export interface DownloadResult {
  path: string;
  size: number;
  sha256: string;
  reply: Reply;
}

/** Makes a server-supplied name safe to use as a local file name. */
export function localNameFor(fileName: string, movieId: number): string {
  const cleaned = basename(fileName.replace(/\\/g, '/'))
    .replace(/[\u0000-\u001f\u007f<>:"/\\|?*]/g, '_')
    .replace(/^\.+/, '')
    .trim();
  return cleaned || `video-${movieId}`;
}

export async function downloadMovie(
  conn: ClientConnection,
  movieId: number,
  movieType: 'free' | 'charge',
  options: DownloadOptions,
): Promise<DownloadResult> {
  await mkdir(options.outDir, { recursive: true });
  const hash = createHash('sha256');
  let partPath: string | undefined;
  let finalPath = '';
  let file: ReturnType<typeof createWriteStream> | undefined;
  let received = 0;
  const header = { type: 'download_movie', session: conn.session, movie_id: movieId, movie_type: movieType };
  try {
    const reply = await conn.requestWithBody(header, async (reply) => {
      if (!reply.flag) return undefined;
      finalPath = join(options.outDir, localNameFor(String(reply.file_name ?? ''), movieId));
      partPath = `${finalPath}.part`;
      file = createWriteStream(partPath);
      const total = Number(reply.file_size);
      if (Number(reply.wait_time) > 0) options.onWait?.(Number(reply.wait_time));
      return {
        sink: file,
        onChunk: (chunk) => {
          hash.update(chunk);
          received += chunk.length;
          options.onProgress?.(received, total);
        },
      };
    });
    expectOk(reply);
    if (file) {
      file.end();
      await finished(file);
    }
    const sha256 = hash.digest('hex');
    if (reply.sha256 && reply.sha256 !== sha256) {
      throw new ServerError(`download corrupted: SHA-256 ${sha256} does not match the server's ${String(reply.sha256)}; the bad bytes were discarded`, 'INTEGRITY');
    }
    if (partPath) {
      await rename(partPath, finalPath);
    } else {
      finalPath = join(options.outDir, localNameFor(String(reply.file_name ?? ''), movieId));
      await writeEmpty(finalPath);
    }
    return { path: finalPath, size: received, sha256, reply };
  } catch (error) {
    file?.destroy();
    if (partPath) await unlink(partPath).catch(() => undefined);
    throw error;
  }
}

async function writeEmpty(path: string): Promise<void> {
  const handle = await open(path, 'w');
  await handle.close();
}
