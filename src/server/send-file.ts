/**
 * Sends a download: the reply header, the non-VIP wait, then the file's bytes at the pace
 * the client reads them. The file handle is closed whatever happens.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { ConnectionClosed, type Connection } from './connection.js';
import type { FileReply } from './file-reply.js';

export async function sendFile(conn: Connection, reply: FileReply): Promise<void> {
  const started = performance.now();
  try {
    await conn.send(reply.header);
    if (reply.waitSeconds > 0) {
      await sleep(reply.waitSeconds * 1000, undefined, { signal: conn.closedSignal }).catch(() => {
        throw new ConnectionClosed();
      });
    }
    const source = reply.file.createReadStream({ start: reply.start, highWaterMark: 256 * 1024, autoClose: false });
    await conn.sendBody(source);
    await reply.onSent?.();
    const seconds = (performance.now() - started) / 1000;
    conn.log.info({ movie: reply.header.movie_id, bytes: reply.header.file_size, seconds }, 'download sent');
  } finally {
    await reply.file.close();
  }
}
