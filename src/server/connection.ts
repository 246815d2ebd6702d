/**
 * One client connection: it owns the socket, the frame decoder and the session, and runs
 * one request at a time (the protocol is strictly one request, one reply, in order).
 * Reading is pull-based so an upload body flows into its file at the disk's pace: the
 * socket is paused whenever the decoder holds more than it should, which is TCP
 * backpressure all the way back to the sender.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { drained } from '../transfer/drain.js';
import { encodeFrame, FrameDecoder, hasTrailer, ProtocolError } from '../protocol/index.js';
import { TransferWatch } from '../transfer/transfer-watch.js';
import { ERRORS } from '../protocol/error-codes.js';

/** Unparsed bytes a connection may hold before it stops reading from the socket. */
const READ_HIGH_WATER = 1024 * 1024;
/** The most one socket read hands over (libuv reads 64 KiB at a time): an upload's unit of progress. */
const READ_GRAIN = 64 * 1024;

export class ConnectionClosed extends Error {
  constructor() {
    super('connection closed');
    this.name = 'ConnectionClosed';
  }
}

export interface Session {
  token: string;
  userId: number;
  lastUsed: number;
}

export type RequestHandler = (conn: Connection, header: Record<string, unknown>, body?: IncomingBody) => Promise<void>;

/** What one connection may take; past a limit it gets an error frame, then it is closed. */
export interface ConnectionLimits {
  maxHeaderBytes: number;
  headerDeadlineMs: number;
  idleTimeoutMs: number;
  maxUploadBytes: number;
  requestsPerSecond: number;
  /** Minimum average bytes per second of a raw body over `transferWindowMs`; 0 = none (see transfer-watch.ts). */
  minTransferRate: number;
  transferWindowMs: number;
}

let nextConnectionId = 1;

export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly log: Logger;
  session?: Session;
  private readonly decoder: FrameDecoder;
  private wake?: () => void;
  private closed = false;
  /** A last frame went out (closeWith): nothing more is read. */
  private ending = false;
  private busy = false;
  private draining = false;
  private headerTimer?: NodeJS.Timeout;
  private readonly rate: TokenBucket;
  private readonly closing = new AbortController();

  constructor(
    readonly socket: Socket,
    log: Logger,
    private readonly limits: ConnectionLimits,
    /** Bytes that arrived with the handshake, ahead of the first frame. */
    initial?: Buffer,
  ) {
    this.remoteAddress = socket.remoteAddress ?? 'unknown';
    this.log = log.child({ conn: this.id, addr: this.remoteAddress });
    this.decoder = new FrameDecoder({ maxHeaderBytes: limits.maxHeaderBytes });
    this.rate = new TokenBucket(limits.requestsPerSecond, limits.requestsPerSecond * 2);
    if (initial?.length) this.decoder.append(initial);
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.closeWith({ flag: false, code: ERRORS.TIMEOUT.code, msg: 'idle for too long, closing' }));
    socket.on('data', (chunk: Buffer) => {
      this.decoder.append(chunk);
      if (this.decoder.bufferedBytes >= READ_HIGH_WATER) socket.pause();
      this.wakeReader();
    });
    socket.on('close', () => {
      this.closed = true;
      this.session = undefined;
      clearTimeout(this.headerTimer);
      this.closing.abort();
      this.wakeReader();
    });
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'socket error'));
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Aborts when the socket closes, so waits on this connection's behalf end with it. */
  get closedSignal(): AbortSignal {
    return this.closing.signal;
  }

  /** Serves requests until the client leaves, breaks the framing or exceeds a limit. */
  async serve(handle: RequestHandler): Promise<void> {
    try {
      for (;;) {
        if (this.draining) return this.closeQuietly();
        const event = this.decoder.next();
        if (!event) {
          this.watchHeaderDeadline();
          await this.moreData();
          continue;
        }
        this.clearHeaderDeadline();
        if (event.kind !== 'header') throw new Error('body bytes outside a request');
        const refusal = this.refusal(event.bodySize);
        if (refusal) return this.closeWith(refusal);
        const trailer = hasTrailer(event.header);
        const body = event.bodySize > 0 || trailer ? new IncomingBody(this, event.bodySize, trailer) : undefined;
        this.busy = true;
        try {
          await handle(this, event.header, body);
        } finally {
          this.busy = false;
        }
      }
    } catch (error) {
      if (error instanceof ConnectionClosed) return;
      if (error instanceof ProtocolError) {
        this.log.warn({ code: error.code, err: error.message }, 'bad frame, closing');
        this.closeWith({ flag: false, msg: error.message, code: ERRORS.BAD_FRAME.code });
        return;
      }
      this.log.error({ err: error }, 'connection failed');
      this.socket.destroy();
    }
  }

  /** Limits checked per request before it runs; a refusal ends the connection. */
  private refusal(bodySize: number): object | undefined {
    if (bodySize > this.limits.maxUploadBytes) {
      this.log.warn({ bytes: bodySize }, 'upload over the size limit, closing');
      return { flag: false, code: ERRORS.TOO_LARGE.code, msg: `uploads are limited to ${this.limits.maxUploadBytes} bytes` };
    }
    if (!this.rate.take()) {
      this.log.warn('request rate over the limit, closing');
      return { flag: false, code: ERRORS.RATE_LIMITED.code, msg: `more than ${this.limits.requestsPerSecond} requests per second, closing` };
    }
    return undefined;
  }

  /** A started header must be complete in time, so one-byte-a-second clients cannot hold a slot. */
  private watchHeaderDeadline(): void {
    if (this.headerTimer || this.decoder.bufferedBytes === 0 || this.decoder.inBody) return;
    this.headerTimer = setTimeout(() => {
      this.log.warn('header not completed in time, closing');
      this.closeWith({ flag: false, code: ERRORS.TIMEOUT.code, msg: 'header not completed in time, closing' });
    }, this.limits.headerDeadlineMs);
    this.headerTimer.unref();
  }

  private clearHeaderDeadline(): void {
    clearTimeout(this.headerTimer);
    this.headerTimer = undefined;
  }

  /**
   * Graceful shutdown: an idle connection closes now; a busy one finishes its current
   * request (a running transfer) and then closes.
   */
  drain(): void {
    this.draining = true;
    if (!this.busy) this.closeQuietly();
  }

  private closeQuietly(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Writes one whole frame in one write (see the README on Nagle and delayed ACKs). */
  async send(reply: object): Promise<void> {
    if (this.closed) throw new ConnectionClosed();
    if (!this.socket.write(encodeFrame(reply))) await drained(this.socket, () => new ConnectionClosed());
  }

  /** Streams raw bytes after a header, at the pace the client reads them. */
  async sendBody(source: Readable): Promise<void> {
    for await (const chunk of source) {
      if (this.closed) throw new ConnectionClosed();
      if (!this.socket.write(chunk as Buffer)) await drained(this.socket, () => new ConnectionClosed());
    }
  }

  /** Sends a last error frame, then closes once it is flushed. */
  closeWith(reply: object): void {
    if (!this.closed && this.socket.writable) this.socket.end(encodeFrame(reply));
    setTimeout(() => this.socket.destroy(), 2000).unref();
    this.ending = true;
    this.wakeReader();
  }

  /**
   * Watches one raw body against the minimum transfer rate (undefined when it is off). A body
   * too slow is cut: an upload gets a last TIMEOUT frame (its reader stops at once), a
   * download, in the middle of its bytes, can only be closed.
   */
  watchTransfer(direction: 'upload' | 'download', grainBytes: number): TransferWatch | undefined {
    const rate = { bytesPerSecond: this.limits.minTransferRate, windowMs: this.limits.transferWindowMs };
    return TransferWatch.start(rate, grainBytes, ({ bytesPerSecond, windowSeconds, windowBytes }) => {
      this.log.warn({ direction, windowBytes, windowSeconds, bytesPerSecond }, 'transfer below the minimum rate, closing');
      if (direction === 'download') {
        this.socket.destroy();
        return;
      }
      const msg = `the upload moved ${windowBytes} bytes in ${windowSeconds} s, under the minimum of ${bytesPerSecond} bytes/s; closing (an upload with sha256 keeps its bytes for a resume)`;
      this.closeWith({ flag: false, code: ERRORS.TIMEOUT.code, msg });
    });
  }

  hasSession(token: string): boolean {
    const own = this.session?.token;
    if (!own || own.length !== token.length) return false;
    return timingSafeEqual(Buffer.from(own), Buffer.from(token));
  }

  /** Resolves when more bytes arrive; throws once the socket is gone. */
  moreData(): Promise<void> {
    if (this.closed || this.ending) return Promise.reject(new ConnectionClosed());
    this.socket.resume();
    return new Promise<void>((resolve) => (this.wake = resolve)).then(() => {
      if (this.ending || (this.closed && this.decoder.bufferedBytes === 0)) throw new ConnectionClosed();
    });
  }

  /** The decoder, for IncomingBody only. */
  nextEvent() {
    return this.decoder.next();
  }

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/**
 * The raw bytes announced by a request's `file_size`, and the trailer frame after them when
 * the header has `sha256_trailer`. A handler either consumes them (into an upload's sink) or
 * leaves them; whatever it leaves is read and dropped before the reply is sent, because the
 * client always sends the bytes (and trailer) and only then reads the reply.
 */
export class IncomingBody {
  private remaining: number;
  private started = false;
  private trailerRead = false;

  constructor(
    private readonly conn: Connection,
    readonly size: number,
    private readonly trailerFollows = false,
  ) {
    this.remaining = size;
  }

  get consumed(): boolean {
    return this.remaining === 0 && (!this.trailerFollows || this.trailerRead);
  }

  /** Bytes received so far (useful after a failure, to keep a partial upload). */
  get received(): number {
    return this.size - this.remaining;
  }

  /**
   * Reads the whole body, handing each piece to `onChunk` (which copies it: the piece is not
   * kept); a promise it returns pauses reading until it settles (backpressure).
   */
  async consume(onChunk?: (chunk: Buffer) => void | Promise<void>): Promise<void> {
    if (this.started) throw new Error('body already read');
    this.started = true;
    const watch = this.conn.watchTransfer('upload', READ_GRAIN);
    try {
      while (this.remaining > 0) {
        if (watch?.tripped) throw new ConnectionClosed();
        const event = this.conn.nextEvent();
        if (!event) {
          await this.conn.moreData();
          continue;
        }
        if (event.kind !== 'body') throw new Error('decoder lost the body');
        this.remaining = event.remaining;
        watch?.add(event.chunk.length);
        const busy = onChunk?.(event.chunk);
        if (busy) await (watch ? watch.excuse(busy) : busy);
      }
    } finally {
      watch?.stop();
    }
  }

  /**
   * The frame after the bytes of an upload with `sha256_trailer` (consume them first).
   * A frame that announces bytes of its own breaks the framing (ProtocolError).
   */
  async trailer(): Promise<Record<string, unknown>> {
    if (!this.trailerFollows || this.trailerRead || this.remaining > 0) throw new Error('no trailer to read now');
    for (;;) {
      const event = this.conn.nextEvent();
      if (!event) {
        await this.conn.moreData();
        continue;
      }
      if (event.kind !== 'header' || event.bodySize > 0) {
        throw new ProtocolError('BAD_TRAILER', 'the frame after the bytes of an upload with sha256_trailer must be its sha256, with no bytes');
      }
      this.trailerRead = true;
      return event.header;
    }
  }

  async discard(): Promise<void> {
    if (this.remaining > 0) {
      this.started = false;
      await this.consume();
    }
    if (this.trailerFollows && !this.trailerRead) await this.trailer();
  }
}

/** Allows `rate` events per second on average with bursts up to `burst`; a rate of 0 means no limit. */
class TokenBucket {
  private tokens: number;
  private last = performance.now();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }

  take(): boolean {
    if (this.rate <= 0) return true;
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
