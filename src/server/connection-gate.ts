/**
 * Counts and limits connections from their first moment: the TCP `connection` event, before
 * any TLS or HMAC handshake. A socket still in a handshake holds a file descriptor and
 * memory like any other, so it counts against --max-connections and
 * --max-connections-per-address until it closes; otherwise a crowd of silent sockets would
 * pass every limit while "not connected yet".
 */
import type { Socket } from 'node:net';
import { ERRORS } from '../protocol/error-codes.js';

export interface GateLimits {
  maxConnections: number;
  maxConnectionsPerAddress: number;
}

export interface Refusal {
  code: typeof ERRORS.BUSY.code | typeof ERRORS.SHUTTING_DOWN.code;
  msg: string;
}

export class ConnectionGate {
  private total = 0;
  private readonly perAddress = new Map<string, number>();
  /** Each socket held, with the address it is counted under. */
  private readonly sockets = new Map<Socket, string>();
  private accepting = true;
  /** Bytes of sockets already closed; those open are read from the sockets (metrics). */
  private closedRead = 0;
  private closedWritten = 0;

  constructor(private readonly limits: GateLimits) {}

  get open(): number {
    return this.total;
  }

  /** Bytes read from every socket admitted so far (on the wire: under TLS, the encrypted bytes). */
  get bytesRead(): number {
    let total = this.closedRead;
    for (const socket of this.sockets.keys()) total += socket.bytesRead;
    return total;
  }

  get bytesWritten(): number {
    let total = this.closedWritten;
    for (const socket of this.sockets.keys()) total += socket.bytesWritten;
    return total;
  }

  /** Stops admitting: every later socket gets SHUTTING_DOWN. */
  close(): void {
    this.accepting = false;
  }

  /** SHUTTING_DOWN once closed: for a socket admitted before, whose handshake ended after. */
  get closedRefusal(): Refusal | undefined {
    return this.accepting ? undefined : { code: ERRORS.SHUTTING_DOWN.code, msg: 'the server is shutting down' };
  }

  /** Closes every socket still held (at the end of a shutdown: those in a handshake have no Connection to close them). */
  destroyAll(): void {
    for (const socket of this.sockets.keys()) socket.destroy();
  }

  /** Admits `socket` (counted until it closes) or says why not. */
  admit(socket: Socket): Refusal | undefined {
    const address = socket.remoteAddress ?? 'unknown';
    if (!this.accepting) return { code: ERRORS.SHUTTING_DOWN.code, msg: 'the server is shutting down' };
    if (this.total >= this.limits.maxConnections) return { code: ERRORS.BUSY.code, msg: 'the server has too many connections, try again later' };
    const refusal = this.roomFor(address);
    if (refusal) return refusal;
    this.total++;
    this.count(address, 1);
    this.sockets.set(socket, address);
    socket.once('close', () => {
      this.total--;
      this.count(this.sockets.get(socket)!, -1);
      this.sockets.delete(socket);
      this.closedRead += socket.bytesRead;
      this.closedWritten += socket.bytesWritten;
    });
    return undefined;
  }

  /**
   * Counts an admitted socket under `address` from now on (the client its PROXY line named),
   * or says why not: that address is at its limit. A refused socket still counts where it was until it closes.
   */
  move(socket: Socket, address: string): Refusal | undefined {
    const from = this.sockets.get(socket);
    if (from === undefined || from === address) return undefined;
    const refusal = this.roomFor(address);
    if (refusal) return refusal;
    this.count(from, -1);
    this.count(address, 1);
    this.sockets.set(socket, address);
    return undefined;
  }

  private roomFor(address: string): Refusal | undefined {
    if ((this.perAddress.get(address) ?? 0) >= this.limits.maxConnectionsPerAddress) return { code: ERRORS.BUSY.code, msg: 'too many connections from your address' };
    return undefined;
  }

  private count(address: string, delta: number): void {
    const now = (this.perAddress.get(address) ?? 0) + delta;
    if (now > 0) this.perAddress.set(address, now);
    else this.perAddress.delete(address);
  }

  /** Sockets counted under `address` now (tests, metrics). */
  heldBy(address: string): number {
    return this.perAddress.get(address) ?? 0;
  }
}
