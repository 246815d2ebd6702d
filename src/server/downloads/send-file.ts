/**
 * Sends a download: the reply header, the non-VIP wait, then the file's bytes at the pace the
 * client reads them, through two reused buffers (one read from the file while the other is in
 * the socket), so a slow reader holds two buffers and the GC no fresh one per read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { TransferWatch } from '../../transfer/transfer-watch.js';
import { ConnectionClosed } from '../connection-closed.js';
import type { Connection } from '../connection.js';
import type { BodyWriter } from '../outbound-writer.js';
import type { FileReply } from './file-reply.js';

/** Bytes per read: large reads cost fewer trips to the thread pool; with many downloads at once each gets less, so memory stays flat. */
const MAX_CHUNK = 256 * 1024;
const MIN_CHUNK = 64 * 1024;
const PACED_MIN_CHUNK = 16 * 1024;
/** Buffer memory shared by all running downloads when many run at once. */
const BUFFER_BUDGET = 8 * 1024 * 1024;

let running = 0;

export async function sendFile(conn: Connection, reply: FileReply): Promise<void> {
  const progress: DownloadProgress = { sent: 0, waitStarted: 0, streaming: 0 };
  let completed = false;
  try {
    // The header, the wait and the bytes are one turn of the writer: nothing else goes out between them.
    await conn.out.sendWithBody(reply.header, async (body) => {
      progress.waitStarted = performance.now();
      if (reply.waitSeconds > 0) {
        await sleep(reply.waitSeconds * 1000, undefined, { signal: conn.closedSignal }).catch(() => {
          throw new ConnectionClosed();
        });
      }
      progress.streaming = performance.now();
      running++;
      try {
        await streamFile(conn, body, reply, progress);
      } finally {
        running--;
      }
    });
    completed = true;
    await reply.onSent?.();
    // speed_bps: the account's speed budget; 0 = unthrottled
    conn.log.info({ ...downloadFields(reply, progress), speed_bps: reply.grant?.speed?.bytesPerSecond ?? 0 }, 'download sent');
  } catch (error) {
    // The client left (or was cut for trickling): say how far it got, it may resume from there.
    if (error instanceof ConnectionClosed) conn.log.warn(downloadFields(reply, progress), 'download cut');
    throw error;
  } finally {
    await reply.file.close();
    await reply.grant?.settle(reply.sentBytes, completed);
  }
}

interface DownloadProgress {
  /** Bytes the socket took. */
  sent: number;
  /** performance.now() after the header went out, and when the bytes began (0: not yet). */
  waitStarted: number;
  streaming: number;
}

/**
 * Who, what and how much, for the log: `seconds` is the bytes' time only; the non-VIP wait
 * before them is `wait_seconds`, so a slow download and a waiting viewer are told apart.
 */
function downloadFields(reply: FileReply, progress: DownloadProgress) {
  const { header } = reply;
  const now = performance.now();
  return {
    user: reply.userId,
    movie: header.movie_id,
    name: header.file_name,
    offset: reply.start,
    bytes: progress.sent,
    total: header.total_size ?? reply.start + header.file_size,
    seconds: progress.streaming > 0 ? (now - progress.streaming) / 1000 : 0,
    wait_seconds: progress.waitStarted > 0 ? ((progress.streaming || now) - progress.waitStarted) / 1000 : 0,
  };
}

/**
 * Reads `file_size` bytes from `start` into the socket, one buffer read while the other is
 * sent; bytes count for the minimum rate once the socket took them (the wait does not).
 */
async function streamFile(conn: Connection, body: BodyWriter, reply: FileReply, progress: { sent: number }): Promise<void> {
  let remaining = reply.header.file_size;
  if (remaining === 0) return;
  const speed = reply.grant?.speed;
  const chunkSize = chunkSizeFor(remaining, speed?.bytesPerSecond);
  const buffers = [Buffer.allocUnsafeSlow(chunkSize), Buffer.allocUnsafeSlow(chunkSize)];
  const sent: Promise<void>[] = [Promise.resolve(), Promise.resolve()];
  let position = reply.start;
  const watch = conn.watchTransfer('download', chunkSize);
  try {
    for (let i = 0; remaining > 0; i ^= 1) {
      if (watch?.tripped) throw new ConnectionClosed();
      // Buffer i was last sent two rounds ago and awaited in the round before: it is free.
      const reading = reply.file.read(buffers[i]!, 0, Math.min(chunkSize, remaining), position);
      const { bytesRead } = await (watch ? watch.excuse(reading) : reading);
      if (bytesRead === 0) throw new Error(`video file ended ${remaining} bytes early`);
      position += bytesRead;
      remaining -= bytesRead;
      await sent[i ^ 1];
      // The account's speed (policies/speed-budget.ts): waiting on it is the server's doing, not the client's.
      if (speed) await excused(watch, speed.take(bytesRead, conn.closedSignal).catch(() => { throw new ConnectionClosed(); }));
      sent[i] = body.write(buffers[i]!.subarray(0, bytesRead));
      sent[i]!.then(() => {
        watch?.add(bytesRead);
        progress.sent += bytesRead;
        reply.sentBytes += bytesRead;
      }, () => undefined); // awaited next round; a failure must not be unhandled meanwhile
    }
    await Promise.all(sent);
  } finally {
    watch?.stop();
  }
}

/** A paced download reads about 50 ms of its speed at a time, so downloads sharing a budget take turns finely. */
function chunkSizeFor(size: number, bytesPerSecond?: number): number {
  const share = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(BUFFER_BUDGET / (2 * running))));
  const paced = bytesPerSecond ? Math.min(share, Math.max(PACED_MIN_CHUNK, Math.floor(bytesPerSecond / 20))) : share;
  return Math.min(paced, size);
}

function excused<T>(watch: TransferWatch | undefined, work: Promise<T>): Promise<T> {
  return watch ? watch.excuse(work) : work;
}
