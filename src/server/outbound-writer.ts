/**
 * Everything a connection sends, in one queue: a frame (`send`) or a reply with a body
 * (`sendWithBody`: header, any wait, every body byte) goes out whole, so a frame sent at any
 * moment (a pushed event) never lands inside another reply or its bytes.
 */
import type { Socket } from 'node:net';
import { encodeFrame } from '../protocol/frame.js';
import { drained } from '../transfer/drain.js';
import { ConnectionClosed } from './connection-closed.js';

/** Writes a reply's body inside its turn. */
export interface BodyWriter {
  /** Resolves once the socket has handed `chunk` to the kernel (the caller's backpressure); rejects once the connection is gone. */
  write(chunk: Buffer): Promise<void>;
}

export class OutboundWriter {
  private turn: Promise<unknown> = Promise.resolve();
  /** Between a body reply's header and its last byte: nothing else may be written. */
  private bodyOpen = false;
  private ended = false;
  /** Only the last frame (end) may still go out: the connection is closing once its request has cleaned up. */
  private sealed = false;

  constructor(
    private readonly socket: Socket,
    /** Aborts when the socket closes. */
    private readonly closed: AbortSignal,
  ) {}

  /** Writes one whole frame in one write (see the README on Nagle and delayed ACKs), after what is queued before it. */
  send(frame: object): Promise<void> {
    return this.inTurn(() => this.writeFrame(frame));
  }

  /** Writes a frame encoded once for many connections (a pushed event), after what is queued before it. */
  sendEncoded(frame: Buffer): Promise<void> {
    return this.inTurn(() => this.writeBytes(frame));
  }

  /** Writes `header`, then runs `body` with the socket to itself; frames sent meanwhile wait until it is done. */
  sendWithBody<T>(header: object, body: (out: BodyWriter) => Promise<T>): Promise<T> {
    return this.inTurn(async () => {
      await this.writeFrame(header);
      this.bodyOpen = true;
      try {
        return await body({ write: (chunk) => this.writeChunk(chunk) });
      } finally {
        this.bodyOpen = false;
      }
    });
  }

  /** True between a body reply's header and its last byte, where no frame can be written. */
  get inBody(): boolean {
    return this.bodyOpen;
  }

  /** From now on every frame but the last (`end`) is refused; the caller ends the connection soon. */
  seal(): void {
    this.sealed = true;
  }

  /**
   * Ends the connection now, with a last frame when given. In the middle of a body the frame
   * would be read as body bytes, so then the socket is cut instead (the client keeps a partial).
   */
  end(frame?: object): void {
    if (this.closed.aborted || this.ended || !this.socket.writable) return;
    this.ended = true;
    if (this.bodyOpen) this.socket.destroy();
    else if (frame) this.socket.end(encodeFrame(frame));
    else this.socket.end();
  }

  private inTurn<T>(task: () => Promise<T>): Promise<T> {
    const run = this.turn.then(task);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private writeFrame(frame: object): Promise<void> {
    return this.writeBytes(encodeFrame(frame));
  }

  private async writeBytes(frame: Buffer): Promise<void> {
    if (this.closed.aborted || this.ended || this.sealed) throw new ConnectionClosed();
    if (!this.socket.write(frame)) await drained(this.socket, () => new ConnectionClosed());
  }

  private writeChunk(chunk: Buffer): Promise<void> {
    const { socket, closed } = this;
    return new Promise((resolve, reject) => {
      if (closed.aborted || socket.destroyed) return reject(new ConnectionClosed());
      const onClose = () => reject(new ConnectionClosed());
      closed.addEventListener('abort', onClose, { once: true });
      socket.write(chunk, (error) => {
        closed.removeEventListener('abort', onClose);
        if (error) reject(new ConnectionClosed());
        else resolve();
      });
    });
  }
}
