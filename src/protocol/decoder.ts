import { ProtocolError } from './errors.js';
import { LENGTH_PREFIX_BYTES, bodySizeOf as defaultBodySizeOf } from './frame.js';

export type DecodedEvent =
  | { kind: 'header'; header: Record<string, unknown>; bodySize: number }
  /** `remaining`: body bytes still to come after this chunk; 0 means the body is complete. */
  | { kind: 'body'; chunk: Buffer; remaining: number };

export interface FrameDecoderOptions {
  /** Caps the memory one peer can make us hold for a single header. */
  maxHeaderBytes?: number;
  /** Decides how many raw bytes follow a header (the server may restrict it to uploads). */
  bodySizeOf?: (header: Record<string, unknown>) => number;
}

export const DEFAULT_MAX_HEADER_BYTES = 65_536;
const EMPTY = Buffer.alloc(0);
const INITIAL_OWN_CAPACITY = 4_096;
/** `own` kept for reuse once everything is read: a burst of pipelined frames can grow it to a MiB, an idle connection keeps at most this. */
const MAX_IDLE_OWN_CAPACITY = 16_384;
/**
 * What a queued chunk costs beyond its bytes: its Buffer, ArrayBuffer and backing store
 * (measured: ~380 B of RSS per 1-byte chunk on Node 20), so 1-byte writes count as held.
 */
export const CHUNK_OVERHEAD_BYTES = 384;
/** Body bytes fewer than this left in a chunk are joined with the next queued chunk. */
const JOIN_BELOW = 16_384;

/**
 * A pull decoder: the connection asks for the next event when it is ready, so it can stop
 * after a header while an async handler runs and resume later without losing bytes.
 *
 * Buffering follows pg-protocol: a chunk is kept as-is when nothing is left over, else the
 * new bytes are copied into the decoder's own buffer. The decoder never writes into a Buffer
 * it was given, because callers (and body events) may still hold views of it.
 * Chunks that arrive while bytes are still unread wait in a queue, untouched, and are copied
 * only if a header spans them: body bytes (a whole video) pass through without a copy.
 */
export class FrameDecoder {
  private readonly maxHeaderBytes: number;
  private readonly bodySizeOf: (header: Record<string, unknown>) => number;
  private readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  /** Either a chunk received from append (read-only to us) or `own`. */
  private buffer: Buffer = EMPTY;
  private offset = 0;
  private end = 0;
  /** Reused scratch space for leftovers; only ever holds copies. */
  private own: Buffer = EMPTY;
  /** Chunks appended while `buffer` still had unread bytes, in order. */
  private queued: Buffer[] = [];
  private queuedBytes = 0;

  private bodyRemaining = 0;
  private failure: unknown = undefined;
  private failed = false;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxHeaderBytes ?? DEFAULT_MAX_HEADER_BYTES;
    if (!Number.isSafeInteger(max) || max < 1 || max > 0x7fff_ffff) {
      throw new RangeError(`maxHeaderBytes must be an integer from 1 to ${0x7fff_ffff}, got ${max}`);
    }
    this.maxHeaderBytes = max;
    this.bodySizeOf = options.bodySizeOf ?? defaultBodySizeOf;
  }

  /** Unconsumed bytes held (a partial frame, or whatever the caller has not pulled yet). */
  get bufferedBytes(): number {
    return this.end - this.offset + this.queuedBytes;
  }

  /**
   * Memory this decoder keeps referenced: its own buffer, the chunk it reads from, and the
   * queued chunks with their overhead. Callers pause their source on this, not on bytes.
   */
  get heldBytes(): number {
    const reading = this.buffer === this.own ? 0 : this.buffer.length;
    return this.own.length + reading + this.queuedBytes + this.queued.length * CHUNK_OVERHEAD_BYTES;
  }

  /** True between a header that announced a body and the last byte of that body. */
  get inBody(): boolean {
    return this.bodyRemaining > 0;
  }

  append(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.offset === this.end && this.queuedBytes === 0) {
      // Nothing left over: no copy at all, the common case for whole frames.
      this.buffer = chunk;
      this.offset = 0;
      this.end = chunk.length;
      return;
    }
    this.queued.push(chunk);
    this.queuedBytes += chunk.length;
  }

  /** The next header or body chunk, or undefined when more bytes are needed. */
  next(): DecodedEvent | undefined {
    if (this.failed) throw this.failure;
    try {
      return this.bodyRemaining > 0 ? this.readBody() : this.readHeader();
    } catch (error) {
      // The byte position is unknowable after any of these, so the stream stays broken.
      this.failed = true;
      this.failure = error;
      throw error;
    }
  }

  private readHeader(): DecodedEvent | undefined {
    let available = this.end - this.offset;
    while (available < LENGTH_PREFIX_BYTES || available < LENGTH_PREFIX_BYTES + this.checkedLength()) {
      if (!this.takeQueued()) return undefined;
      available = this.end - this.offset;
    }
    const length = this.buffer.readInt32LE(this.offset);
    const start = this.offset + LENGTH_PREFIX_BYTES;
    const header = this.parseHeader(this.buffer.subarray(start, start + length));
    const bodySize = this.bodySizeOf(header);
    if (!Number.isSafeInteger(bodySize) || bodySize < 0) {
      throw new ProtocolError('BAD_FILE_SIZE', `body size ${bodySize} is not a byte count`);
    }
    this.consume(LENGTH_PREFIX_BYTES + length);
    this.bodyRemaining = bodySize;
    return { kind: 'header', header, bodySize };
  }

  private readBody(): DecodedEvent | undefined {
    // A sliver left over is joined with what follows (one small copy) so bodies do not come
    // in slivers; otherwise queued chunks are handed out as they are.
    while (this.end - this.offset < Math.min(this.bodyRemaining, JOIN_BELOW) && this.takeQueued());
    const size = Math.min(this.end - this.offset, this.bodyRemaining);
    if (size === 0) return undefined;
    const view = this.buffer.subarray(this.offset, this.offset + size);
    // A view into `own` would be overwritten by the next append; a caller's chunk is never written.
    const chunk = this.buffer === this.own ? Buffer.from(view) : view;
    this.consume(size);
    this.bodyRemaining -= size;
    return { kind: 'body', chunk, remaining: this.bodyRemaining };
  }

  /** The length prefix at `offset` (4 bytes are there), checked before waiting for the bytes: never buffer an oversized header. */
  private checkedLength(): number {
    const length = this.buffer.readInt32LE(this.offset);
    this.checkLength(length);
    return length;
  }

  /** The next queued chunk: taken as it is when nothing is left over, else copied after the leftover. */
  private takeQueued(): boolean {
    const chunk = this.queued.shift();
    if (!chunk) return false;
    this.queuedBytes -= chunk.length;
    if (this.offset === this.end) {
      this.buffer = chunk;
      this.offset = 0;
      this.end = chunk.length;
    } else {
      this.appendToOwn(chunk);
    }
    return true;
  }

  private checkLength(length: number): void {
    if (length < 0) {
      throw new ProtocolError('NEGATIVE_LENGTH', `length prefix ${length} is negative`);
    }
    if (length === 0) {
      throw new ProtocolError('EMPTY_HEADER', 'length prefix is 0: a header must be a JSON object');
    }
    if (length > this.maxHeaderBytes) {
      throw new ProtocolError(
        'HEADER_TOO_LARGE',
        `header of ${length} bytes exceeds the ${this.maxHeaderBytes}-byte limit`,
      );
    }
  }

  private parseHeader(bytes: Buffer): Record<string, unknown> {
    let text: string;
    try {
      text = this.utf8.decode(bytes);
    } catch (cause) {
      throw new ProtocolError('BAD_UTF8', 'header is not valid UTF-8', { cause });
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (cause) {
      // Includes RangeError from absurdly deep nesting.
      throw new ProtocolError('BAD_JSON', 'header is not valid JSON', { cause });
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      const what = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      throw new ProtocolError('NOT_OBJECT', `header is ${what}, not a JSON object`);
    }
    return value as Record<string, unknown>;
  }

  private consume(bytes: number): void {
    this.offset += bytes;
    if (this.offset === this.end) {
      // Drop the reference so a fully read chunk can be collected; `own` is rewound for reuse,
      // unless a burst grew it past what is worth keeping for an idle connection.
      if (this.own.length > MAX_IDLE_OWN_CAPACITY) this.own = EMPTY;
      this.buffer = EMPTY;
      this.offset = 0;
      this.end = 0;
    }
  }

  /** Leftover + chunk into `own`: append in place, else compact, else grow by doubling. */
  private appendToOwn(chunk: Buffer): void {
    const leftover = this.end - this.offset;
    const needed = leftover + chunk.length;
    if (this.buffer === this.own && this.end + chunk.length <= this.own.length) {
      chunk.copy(this.own, this.end);
      this.end += chunk.length;
      return;
    }
    if (this.own.length < needed) {
      let capacity = Math.max(this.own.length, INITIAL_OWN_CAPACITY);
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafe(capacity);
      this.buffer.copy(grown, 0, this.offset, this.end);
      this.own = grown;
    } else if (this.buffer === this.own) {
      this.own.copyWithin(0, this.offset, this.end); // compact in place
    } else {
      this.buffer.copy(this.own, 0, this.offset, this.end);
    }
    this.buffer = this.own;
    this.offset = 0;
    this.end = leftover;
    chunk.copy(this.own, this.end);
    this.end += chunk.length;
  }
}
