/**
 * The client side of the wire: connect, send a request, read its reply, stream a body.
 * Menus, subcommands and tests all go through this one class; UI code never touches a
 * socket. Requests are strictly sequential, as the protocol is.
 */
import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { Readable, Writable } from 'node:stream';
import { drained } from '../transfer/drain.js';
import { handshakeProof, NONCE_BYTES, readExactly } from '../protocol/handshake.js';
import { encodeFrame, FrameReader, type DecodedEvent } from '../protocol/index.js';
import { isEventFrame, type MessageType, type Reply, type RequestInput } from '../protocol/messages.js';

export interface ConnectOptions {
  host: string;
  port: number;
  /** Milliseconds to wait for the connection (and the handshake, if any). */
  timeoutMs?: number;
  /** Speak TLS; `ca` (PEM) trusts a self-signed server certificate. */
  tls?: boolean | { ca?: string | Buffer };
  /** Answer the server's handshake nonce with HMAC-SHA256(secret, nonce). */
  clientSecret?: string;
}

/** The server answered `flag: false`. */
export class ServerError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly reply?: Reply,
  ) {
    super(message);
    this.name = 'ServerError';
  }
}

/** The connection could not be made or was lost; `message` says where and what to try. */
export class ConnectionError extends Error {
  constructor(
    message: string,
    /**
     * False when the connection was found closed before a byte of the request was written:
     * the server cannot have acted on it, so even a request that is unsafe to repeat may be sent again.
     */
    readonly sent = true,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/** Sees each body chunk before its sink; a returned promise pauses reading until it settles (backpressure). */
export type ChunkHook = (chunk: Buffer) => void | Promise<void>;

/** Gets the frames of a subscription (`event`, `events_ended`), whenever they arrive. */
export type UnaskedListener = (frame: Record<string, unknown>) => void;

/** Fields of a request other than `type` and `session` (the client adds those). */
export type Fields<T extends MessageType> = Omit<RequestInput<T>, 'type' | 'session'>;

export class ClientConnection {
  private readonly reader: FrameReader;
  private failure?: Error;
  private queue: Promise<unknown> = Promise.resolve();
  /** A reply header taken off the decoder while looking for events, kept for its reader. */
  private held?: DecodedEvent;
  private unasked?: UnaskedListener;
  /** The session token of the last successful login on this connection. */
  session?: string;

  private constructor(
    private readonly socket: Socket,
    readonly where: string,
  ) {
    socket.setNoDelay(true);
    this.reader = new FrameReader(socket, { maxHeaderBytes: 16 * 1024 * 1024, highWaterMark: 4 * 1024 * 1024 });
    // After the reader's own listener: the chunk is decoded by now.
    socket.on('data', () => this.takeUnasked());
    socket.on('error', (error) => (this.failure ??= new ConnectionError(`connection to ${where} failed: ${error.message}`)));
  }

  static async connect({ host, port, timeoutMs = 10_000, tls, clientSecret }: ConnectOptions): Promise<ClientConnection> {
    const where = `${host}:${port}`;
    const socket = await openSocket(host, port, tls, timeoutMs);
    if (!clientSecret) return new ClientConnection(socket, where);
    try {
      const { bytes: nonce, rest } = await readExactly(socket, NONCE_BYTES, timeoutMs);
      socket.write(handshakeProof(clientSecret, nonce));
      const conn = new ClientConnection(socket, where);
      if (rest.length) conn.reader.append(rest);
      return conn;
    } catch (error) {
      socket.destroy();
      throw new ConnectionError(`handshake with ${where} failed: ${(error as Error).message} (does the server expect a client secret?)`);
    }
  }

  /** Sends a raw header and returns the raw reply, whatever its flag. */
  request(header: Record<string, unknown>): Promise<Reply> {
    return this.exclusive(async () => {
      await this.write(encodeFrame(header));
      return this.readReply();
    });
  }

  /** A typed request that adds the session and throws ServerError on `flag: false`. */
  async call<T extends MessageType>(type: T, fields: Fields<T>): Promise<Reply> {
    const header = { type, ...(this.session ? { session: this.session } : {}), ...fields };
    const reply = expectOk(await this.request(header));
    if (type === 'login') this.session = String(reply.session);
    if (type === 'logout') this.session = undefined;
    return reply;
  }

  /**
   * Sends a header announcing `file_size`, then exactly that many bytes from `body`, then
   * (when given, for a header with `sha256_trailer`) the frame `trailer` makes once the bytes
   * are out, and reads the reply. If the trailer cannot be made, the connection is closed:
   * the server would wait for it.
   */
  sendWithBody(
    header: Record<string, unknown> & { file_size: number },
    body: Readable,
    trailer?: () => Promise<Record<string, unknown>>,
  ): Promise<Reply> {
    return this.exclusive(async () => {
      await this.write(encodeFrame(header));
      for await (const chunk of body) await this.write(chunk as Buffer);
      if (trailer) {
        const frame = await trailer().catch((error: unknown) => {
          this.close();
          throw error;
        });
        await this.write(encodeFrame(frame));
      }
      return this.readReply();
    });
  }

  /**
   * Sends a request whose reply may announce a body; the body goes to `sink` via
   * `onHeader`, which may refuse it by returning undefined (then it is read and dropped).
   */
  requestWithBody(
    header: Record<string, unknown>,
    onHeader: (reply: Reply) => Promise<{ sink?: Writable; onChunk?: ChunkHook } | undefined>,
  ): Promise<Reply> {
    return this.exclusive(async () => {
      await this.write(encodeFrame(header));
      const { header: reply, bodySize } = await this.readHeader();
      if (bodySize > 0) {
        const target = await onHeader(reply);
        await this.readBody(bodySize, target?.sink, target?.onChunk);
      }
      return reply;
    });
  }

  /**
   * Where event frames go. They may arrive at any time between replies (never inside one);
   * with no listener they are dropped.
   */
  onUnasked(listener: UnaskedListener | undefined): void {
    this.unasked = listener;
    this.takeUnasked();
  }

  /** Resolves when the connection closes (a watcher waits on it). */
  get closed$(): Promise<void> {
    if (this.reader.ended) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('close', () => resolve()));
  }

  /** The socket closed: by us, by the server, or lost. */
  get isClosed(): boolean {
    return this.socket.destroyed || this.reader.ended;
  }

  close(): void {
    this.socket.end();
    this.socket.destroy();
  }

  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const guarded = () => {
      // Closed already (a server that drained this idle connection, a reset): nothing of this request goes out.
      if (this.reader.ended || this.socket.destroyed) throw new ConnectionError(this.lost().message, false);
      return task();
    };
    const run = this.queue.then(guarded, guarded);
    this.queue = run.catch(() => undefined).finally(() => this.takeUnasked());
    return run;
  }

  /**
   * Hands complete event frames at the front of the decoder to the listener, between replies
   * only: it stops at a body, and at a reply header (kept in `held` for its reader).
   */
  private takeUnasked(): void {
    try {
      while (!this.held && !this.reader.inBody) {
        const event = this.reader.next();
        if (!event) return;
        if (event.kind === 'header' && isEventFrame(event.header)) this.unasked?.(event.header);
        else this.held = event;
      }
    } catch (error) {
      // Broken framing from the server: the reader reports it as the connection's failure.
      this.failure ??= new ConnectionError(`protocol error from ${this.where}: ${(error as Error).message}`);
      this.socket.destroy();
    }
  }

  private async readReply(): Promise<Reply> {
    const { header, bodySize } = await this.readHeader();
    if (bodySize > 0) await this.readBody(bodySize, undefined);
    return header;
  }

  private async readHeader(): Promise<{ header: Reply; bodySize: number }> {
    const event = await this.nextEvent();
    if (event.kind !== 'header') throw new ConnectionError(`protocol error from ${this.where}: unexpected body bytes`);
    return { header: event.header as Reply, bodySize: event.bodySize };
  }

  private async readBody(size: number, sink: Writable | undefined, onChunk?: ChunkHook): Promise<void> {
    let remaining = size;
    while (remaining > 0) {
      const event = await this.nextEvent();
      if (event.kind !== 'body') throw new ConnectionError(`protocol error from ${this.where}: body cut short`);
      remaining = event.remaining;
      const busy = onChunk?.(event.chunk);
      if (busy) await busy;
      if (sink && !sink.write(event.chunk)) await drained(sink);
    }
  }

  private async nextEvent(): Promise<DecodedEvent> {
    for (;;) {
      const held = this.held;
      this.held = undefined;
      const event = held ?? this.reader.next();
      if (event?.kind === 'header' && isEventFrame(event.header)) {
        this.unasked?.(event.header);
        continue;
      }
      if (event) return event;
      if (this.reader.ended) throw this.lost();
      await this.reader.more();
    }
  }

  private async write(data: Buffer): Promise<void> {
    if (this.reader.ended) throw this.lost();
    if (this.socket.write(data)) return;
    // A reset while the socket was full is the connection lost, as any other drop.
    await drained(this.socket, () => this.lost()).catch((error: Error) => {
      throw error instanceof ConnectionError ? error : (this.failure ??= new ConnectionError(`connection to ${this.where} failed: ${error.message}`));
    });
  }

  private lost(): Error {
    return this.failure ?? new ConnectionError(`the server at ${this.where} closed the connection`);
  }
}

function openSocket(host: string, port: number, tls: ConnectOptions['tls'], timeoutMs: number): Promise<Socket> {
  const where = `${host}:${port}`;
  return new Promise((resolve, reject) => {
    const socket = tls
      ? tlsConnect({ host, port, ca: typeof tls === 'object' ? tls.ca : undefined, servername: isIP(host) ? undefined : host })
      : netConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ConnectionError(`no answer from ${where} within ${timeoutMs} ms: is the server running and reachable?`));
    }, timeoutMs);
    socket.once(tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      socket.on('error', () => undefined); // reported through 'close' and the reader from here on
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint =
        error.code === 'ECONNREFUSED'
          ? ' (is `cinebox server` running there? see --host/--port)'
          : tls
            ? ' (TLS: does the server use TLS, and is its certificate trusted? see --ca)'
            : '';
      reject(new ConnectionError(`cannot connect to ${where}: ${error.code ?? error.message}${hint}`));
    });
  });
}

export function expectOk(reply: Reply): Reply {
  if (!reply.flag) throw new ServerError(reply.msg ?? 'the server refused the request', reply.code, reply);
  return reply;
}
