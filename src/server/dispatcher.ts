/**
 * Runs one request: route it, turn any error into a reply frame, make sure an announced
 * body has been read off the wire, then send the reply (and the file, for downloads).
 * A handler error never reaches the connection; only a lost connection ends it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { isMessageType } from '../protocol/messages.js';
import { ConnectionClosed, type Connection, type IncomingBody } from './connection.js';
import type { App } from './context.js';
import { replyForError, UnknownType } from './errors.js';
import { FileReply } from './file-reply.js';
import { routes, type Result } from './handlers.js';

export function createDispatcher(app: App) {
  return async function dispatch(conn: Connection, header: Record<string, unknown>, body?: IncomingBody): Promise<void> {
    const type = header.type;
    let result: Result;
    try {
      if (!isMessageType(type)) throw new UnknownType(`unknown message type ${JSON.stringify(type ?? null).slice(0, 80)}`);
      result = await routes[type](header, { app, conn, body });
    } catch (error) {
      if (error instanceof ConnectionClosed) throw error;
      if (replyForError(error).code === 'INTERNAL') conn.log.error({ err: error, type }, 'handler failed');
      result = replyForError(error);
    }
    if (body && !body.consumed) await body.discard();
    if (result instanceof FileReply) await sendFile(conn, result);
    else await conn.send(result);
  };
}

async function sendFile(conn: Connection, reply: FileReply): Promise<void> {
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
