import { ProtocolError } from '../protocol/errors.js';
import { ConnectionClosed } from './connection-closed.js';
import type { Connection } from './connection.js';

/** The most one socket read hands over (libuv reads 64 KiB at a time): an upload's unit of progress. */
const READ_GRAIN = 64 * 1024;

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
    this.conn.bodyReading = true;
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
      this.conn.bodyReading = false;
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
        // The same deadline as any header once its first byte is here: a trickled trailer cannot hold the slot.
        this.conn.watchHeaderDeadline();
        await this.conn.moreData();
        continue;
      }
      this.conn.clearHeaderDeadline();
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
