/**
 * One client connection: it owns the socket, the frame reader, the outbound writer and the
 * session, and runs one request at a time (the protocol is strictly one request, one reply,
 * in order). Reading is pull-based, so an upload flows into its file at the disk's pace.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameReader, hasTrailer, ProtocolError } from '../protocol/index.js';
import { TokenBucket } from '../transfer/token-bucket.js';
import { TransferWatch } from '../transfer/transfer-watch.js';
import { ConnectionClosed } from './connection-closed.js';
import { IncomingBody } from './incoming-body.js';
import { OutboundWriter } from './outbound-writer.js';
import { ERRORS } from '../protocol/error-codes.js';

/**
 * Memory a connection may hold (its decoder's heldBytes) before it stops reading from the
 * socket: a MiB while an upload body is being read (the disk's pace), a small buffer
 * otherwise, so a client sending while its request is busy (a viewer's wait before a
 * download) holds 64 KiB, not a MiB, per connection.
 */
const BODY_HIGH_WATER = 1024 * 1024;
const IDLE_HIGH_WATER = 64 * 1024;
/** How long a closing connection waits for its request to clean up before the last frame. */
const CLEANUP_WAIT_MS = 2000;

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
  /** Every frame and body this connection sends goes through it. */
  readonly out: OutboundWriter;
  private readonly reader: FrameReader;
  /** A last frame went out (closeWith): nothing more is read. */
  private ending = false;
  private busy = false;
  /** The request being served, so a closing connection can let it clean up first. */
  private inFlight?: Promise<void>;
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
    /** The client as a PROXY line named it; by default the socket's peer. */
    peer?: { address: string; port?: number },
  ) {
    this.remoteAddress = peer?.address ?? socket.remoteAddress ?? 'unknown';
    this.log = log.child({ conn: this.id, addr: this.remoteAddress, port: peer ? peer.port : socket.remotePort });
    this.reader = new FrameReader(socket, { maxHeaderBytes: limits.maxHeaderBytes, highWaterMark: IDLE_HIGH_WATER });
    this.out = new OutboundWriter(socket, this.closing.signal);
    this.rate = new TokenBucket(limits.requestsPerSecond, limits.requestsPerSecond * 2);
    if (initial?.length) this.reader.append(initial);
    socket.setNoDelay(true);
    socket.setTimeout(limits.idleTimeoutMs, () => this.closeWith({ flag: false, code: ERRORS.TIMEOUT.code, msg: 'idle for too long, closing' }));
    socket.on('close', () => {
      this.session = undefined;
      clearTimeout(this.headerTimer);
      this.closing.abort();
    });
    socket.on('error', (error) => this.log.debug({ err: error.message }, 'socket error'));
  }

  get isClosed(): boolean {
    return this.closing.signal.aborted;
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
        const event = this.reader.next();
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
        this.inFlight = handle(this, event.header, body);
        try {
          await this.inFlight;
        } finally {
          this.busy = false;
          this.inFlight = undefined;
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
  /** Memory this connection holds for bytes not processed yet (what reading pauses on). */
  get heldBytes(): number {
    return this.reader.heldBytes;
  }

  /** While an upload body is read (IncomingBody), the socket may run ahead by the larger buffer. */
  set bodyReading(reading: boolean) {
    this.reader.setHighWaterMark(reading ? BODY_HIGH_WATER : IDLE_HIGH_WATER);
  }

  /** Also for the trailer frame after an upload's bytes (IncomingBody.trailer). */
  watchHeaderDeadline(): void {
    if (this.headerTimer || this.reader.bufferedBytes === 0 || this.reader.inBody) return;
    this.headerTimer = setTimeout(() => {
      this.log.warn('header not completed in time, closing');
      this.closeWith({ flag: false, code: ERRORS.TIMEOUT.code, msg: 'header not completed in time, closing' });
    }, this.limits.headerDeadlineMs);
    this.headerTimer.unref();
  }

  clearHeaderDeadline(): void {
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
    this.out.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  /** Sends one frame (through the outbound writer, after anything queued before it). */
  send(reply: object): Promise<void> {
    return this.out.send(reply);
  }

  /** An already encoded frame (an event: the same bytes for every subscriber), through the same writer. */
  sendFrame(frame: Buffer): Promise<void> {
    return this.out.sendEncoded(frame);
  }

  /**
   * Sends a last error frame, then closes once it is flushed. A request still running (an
   * upload cut by a timeout) first cleans up, so a client that reads the frame can resume at
   * once: its partial is released or deleted by then. A reply body in flight is cut at once.
   */
  closeWith(reply: object): void {
    if (this.ending) return;
    this.ending = true;
    this.reader.interrupt();
    setTimeout(() => this.socket.destroy(), CLEANUP_WAIT_MS + 2000).unref();
    const running = this.inFlight;
    if (!running || this.out.inBody) return this.out.end(reply);
    this.out.seal();
    void settledWithin(running, CLEANUP_WAIT_MS).then(() => this.out.end(reply));
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
  async moreData(): Promise<void> {
    if (this.isClosed || this.ending) throw new ConnectionClosed();
    await this.reader.more();
    if (this.ending || (this.isClosed && this.reader.bufferedBytes === 0)) throw new ConnectionClosed();
  }

  /** The next decoded event, for IncomingBody only. */
  nextEvent() {
    return this.reader.next();
  }
}

/** Resolves once `work` settles (either way) or `ms` pass, whichever is first. */
function settledWithin(work: Promise<unknown>, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    work.then(
      () => { clearTimeout(timer); resolve(); },
      () => { clearTimeout(timer); resolve(); },
    );
  });
}
