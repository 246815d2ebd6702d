/**
 * Sends a download: the reply header, the non-VIP wait, then the file's bytes at the pace the
 * client reads them, through two reused buffers (one read from the file while the other is in
 * the socket), so a slow reader holds two buffers and the GC no fresh one per read.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionClosed } from '../connection-closed.js';
import type { Connection } from '../connection.js';
import type { BodyWriter } from '../outbound-writer.js';
import type { FileReply } from './file-reply.js';

/** Bytes per read: large reads cost fewer trips to the thread pool; with many downloads at once each gets less, so memory stays flat. */
const MAX_CHUNK = 256 * 1024;
const MIN_CHUNK = 64 * 1024;
/** Buffer memory shared by all running downloads when many run at once. */
const BUFFER_BUDGET = 8 * 1024 * 1024;

let running = 0;

export async function sendFile(conn: Connection, reply: FileReply): Promise<void> {
  const started = performance.now();
  try {
    // The header, the wait and the bytes are one turn of the writer: nothing else goes out between them.
    await conn.out.sendWithBody(reply.header, async (body) => {
      if (reply.waitSeconds > 0) {
        await sleep(reply.waitSeconds * 1000, undefined, { signal: conn.closedSignal }).catch(() => {
          throw new ConnectionClosed();
        });
      }
      running++;
      try {
        await streamFile(conn, body, reply);
      } finally {
        running--;
      }
    });
    await reply.onSent?.();
    const seconds = (performance.now() - started) / 1000;
    conn.log.info({ movie: reply.header.movie_id, bytes: reply.header.file_size, seconds }, 'download sent');
  } finally {
    await reply.file.close();
  }
}

/**
 * Reads `file_size` bytes from `start` into the socket, one buffer read while the other is
 * sent; bytes count for the minimum rate once the socket took them (the wait does not).
 */
async function streamFile(conn: Connection, body: BodyWriter, reply: FileReply): Promise<void> {
  let remaining = reply.header.file_size;
  if (remaining === 0) return;
  const chunkSize = chunkSizeFor(remaining);
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
      sent[i] = body.write(buffers[i]!.subarray(0, bytesRead));
      sent[i]!.then(() => watch?.add(bytesRead), () => undefined); // awaited next round; a failure must not be unhandled meanwhile
    }
    await Promise.all(sent);
  } finally {
    watch?.stop();
  }
}

function chunkSizeFor(size: number): number {
  const share = Math.max(MIN_CHUNK, Math.min(MAX_CHUNK, Math.floor(BUFFER_BUDGET / (2 * running))));
  return Math.min(share, size);
}
