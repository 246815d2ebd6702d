/**
 * Runs one request: route it, turn any error into a reply frame, make sure an announced
 * body has been read off the wire, then send the reply (and the file, for downloads).
 * A handler error never reaches the connection; only a lost connection ends it.
 */
import { ProtocolError } from '../protocol/errors.js';
import { isMessageType } from '../protocol/messages.js';
import { ConnectionClosed } from './connection-closed.js';
import type { Connection } from './connection.js';
import type { IncomingBody } from './incoming-body.js';
import type { App } from './context.js';
import { replyForError, UnknownType } from './errors.js';
import { FileReply } from './downloads/file-reply.js';
import { EncodedReply } from './encoded-reply.js';
import { routes, type Result } from './handlers.js';
import { ReplyThen } from './reply-then.js';
import { sendFile } from './downloads/send-file.js';
import { ERRORS } from '../protocol/error-codes.js';

export function createDispatcher(app: App) {
  const { metrics } = app;
  return async function dispatch(conn: Connection, header: Record<string, unknown>, body?: IncomingBody): Promise<void> {
    const type = header.type;
    // Only known types become label values: a client must not be able to mint new series.
    const label = isMessageType(type) ? type : 'unknown';
    const started = performance.now();
    let result: Result;
    let code = CLOSED;
    const uploading = label === 'update_movie' && body !== undefined;
    if (uploading) metrics.transfers.inc({ direction: 'upload' });
    try {
      try {
        if (!isMessageType(type)) throw new UnknownType(`unknown message type ${describeType(type)}`);
        result = await routes[type](header, { app, conn, body });
      } catch (error) {
        // Both end the connection: the client left, or the framing is lost (a bad trailer).
        if (error instanceof ConnectionClosed || error instanceof ProtocolError) throw error;
        const reply = replyForError(error);
        if (reply.code === ERRORS.INTERNAL.code) conn.log.error({ err: error, type }, 'handler failed');
        result = printable(reply);
      } finally {
        if (uploading) metrics.transfers.dec({ direction: 'upload' });
      }
      if (body && !body.consumed) await body.discard();
      code = resultCode(result);
      metrics.latency.observe({ type: label }, (performance.now() - started) / 1000);
      if (result instanceof FileReply) {
        metrics.transfers.inc({ direction: 'download' });
        await sendFile(conn, result).finally(() => metrics.transfers.dec({ direction: 'download' }));
      } else if (result instanceof EncodedReply) await conn.sendFrame(result.frame);
      else if (result instanceof ReplyThen) {
        await conn.send(result.reply);
        result.afterSent();
      } else await conn.send(result);
    } finally {
      metrics.countRequest(label, code);
    }
  };
}

/** The code a request that ended its connection is counted under (the client left, a broken frame). */
const CLOSED = 'CLOSED';

/** OK for a success, else the reply's error code: the `code` label of cinebox_requests_total. */
function resultCode(result: Result): string {
  if (result instanceof FileReply || result instanceof EncodedReply) return 'OK';
  const reply = (result instanceof ReplyThen ? result.reply : result) as { flag?: unknown; code?: unknown };
  if (reply.flag === false) return typeof reply.code === 'string' ? reply.code : 'ERROR';
  return 'OK';
}

/**
 * Names a bad `type` without serialising it whole: it may be 10,000 nested arrays, which
 * JSON.stringify cannot take (that was an INTERNAL reply).
 */
function describeType(type: unknown): string {
  if (typeof type === 'string') return JSON.stringify(type.length > 80 ? `${type.slice(0, 80)}...` : type);
  if (type === undefined || type === null) return '(none given)';
  return `(${Array.isArray(type) ? 'an array' : `a ${typeof type}`}, not a string)`;
}

/**
 * Error messages may quote what the client sent (`no user "…"`); control characters in them
 * (NUL, terminal escapes) are shown as \uXXXX so they cannot reach a client's terminal raw.
 */
function printable<T extends { msg: string }>(reply: T): T {
  const msg = reply.msg.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return msg === reply.msg ? reply : { ...reply, msg };
}
