/**
 * A TCP proxy that cuts a connection at a chosen moment of a chosen request, as a node dying
 * or a network cut would: after the server's reply to it began (so whatever the server
 * commits before replying is committed) with at most `afterBytes` of it delivered, or after
 * `afterBytes` of the request's own body went up. Each cut happens once, in order; the
 * connections after the last cut pass untouched.
 */
import { FrameDecoder } from '../../src/protocol/index.js';
import { startForwarder } from './tcp-forwarder.js';

export interface Cut {
  /** The request type whose exchange is cut. */
  type: string;
  /** `reply`: cut in the server's answer; `request`: cut in the request's body. */
  during: 'reply' | 'request';
  /** Bytes let through first (of the reply, or of the body after its header). */
  afterBytes?: number;
}

export interface CutProxy {
  port: number;
  /** Cuts done so far. */
  readonly done: number;
  /** Closes every connection now, between requests (as a server draining idle connections does). */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startCutProxy(targetPort: number, cuts: Cut[]): Promise<CutProxy> {
  let next = 0;
  const forwarder = await startForwarder(targetPort, (client, upstream) => {
    const decoder = new FrameDecoder({ maxHeaderBytes: 16 * 1024 * 1024 });
    /** The cut armed on this connection: its request was seen. */
    let armed: { cut: Cut; left: number } | undefined;
    const cutNow = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (armed?.cut.during === 'request') {
        const piece = chunk.subarray(0, armed.left);
        upstream.write(piece);
        armed.left -= piece.length;
        if (armed.left <= 0) cutNow();
        return;
      }
      upstream.write(chunk);
      if (armed || next >= cuts.length) return;
      decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) {
        if (event.kind === 'header' && event.header.type === cuts[next]!.type) {
          const cut = cuts[next++]!;
          armed = { cut, left: cut.afterBytes ?? 0 };
          break;
        }
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (armed?.cut.during !== 'reply') return void client.write(chunk);
      const piece = chunk.subarray(0, armed.left);
      if (piece.length > 0) client.write(piece);
      armed.left -= piece.length;
      if (armed.left <= 0) cutNow();
    });
  });
  return {
    port: forwarder.port,
    get done() {
      return next;
    },
    dropAll: forwarder.dropAll,
    close: forwarder.close,
  };
}
