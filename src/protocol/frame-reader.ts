/**
 * Frames pulled off a socket, for both ends of a connection: each chunk goes to the decoder,
 * the socket pauses once the decoder holds `highWaterMark` bytes of memory (its heldBytes:
 * bytes and per-chunk overhead, so 1-byte writes count as what they cost) (TCP backpressure back to
 * the sender), and a reader waiting in `more()` wakes.
 */
import type { Readable } from 'node:stream';
import { FrameDecoder, type DecodedEvent } from './decoder.js';

export interface FrameReaderOptions {
  maxHeaderBytes: number;
  /** Memory held (the decoder's heldBytes) before the socket is paused; `setHighWaterMark` changes it. */
  highWaterMark: number;
}

export class FrameReader {
  private readonly decoder: FrameDecoder;
  private wake?: () => void;
  private sourceEnded = false;
  private highWaterMark: number;

  constructor(
    private readonly source: Readable,
    options: FrameReaderOptions,
  ) {
    this.decoder = new FrameDecoder({ maxHeaderBytes: options.maxHeaderBytes });
    this.highWaterMark = options.highWaterMark;
    source.on('data', (chunk: Buffer) => {
      this.decoder.append(chunk);
      if (this.decoder.heldBytes >= this.highWaterMark) source.pause();
      this.interrupt();
    });
    source.on('close', () => {
      this.sourceEnded = true;
      this.interrupt();
    });
  }

  /** True once the socket has closed: what is buffered is all that will come. */
  get ended(): boolean {
    return this.sourceEnded;
  }

  get bufferedBytes(): number {
    return this.decoder.bufferedBytes;
  }

  /** Memory the decoder holds (what the socket is paused on). */
  get heldBytes(): number {
    return this.decoder.heldBytes;
  }

  /** A larger window while a body streams to disk, a small one otherwise; applies from the next chunk. */
  setHighWaterMark(bytes: number): void {
    this.highWaterMark = bytes;
  }

  /** Whether the decoder is in the middle of a body. */
  get inBody(): boolean {
    return this.decoder.inBody;
  }

  /** Bytes that arrived some other way ahead of the frames (e.g. with a handshake). */
  append(bytes: Buffer): void {
    this.decoder.append(bytes);
  }

  /** The next decoded event, if the bytes for one are here; a body piece is a view, copy it before waiting. */
  next(): DecodedEvent | undefined {
    return this.decoder.next();
  }

  /** Resumes the socket and resolves at the next chunk, at its close, or at `interrupt()`. */
  more(): Promise<void> {
    if (this.sourceEnded) return Promise.resolve();
    this.source.resume();
    return new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** Wakes a reader waiting in `more()` (its owner decided to stop reading). */
  interrupt(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}
