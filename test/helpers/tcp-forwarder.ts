/**
 * The skeleton every test proxy shares: a loopback listener on port 0 that opens one upstream
 * connection per client and hands the pair to `onPair`, which moves the bytes. Tests cut
 * connections on purpose, so socket errors are swallowed; either side closing destroys both.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface Forwarder {
  port: number;
  /** Destroys every open connection now; the listener keeps accepting new ones. */
  dropAll(): void;
  /** Destroys every connection and stops listening. */
  close(): Promise<void>;
}

export interface ForwarderOptions {
  /** Upstream ending cleanly leaves the client open: `onPair` still holds bytes for it and ends it itself. */
  clientOutlivesUpstreamEnd?: boolean;
}

export type PairHandler = (client: Socket, upstream: Socket) => void;

export async function startForwarder(targetPort: number, onPair: PairHandler, options: ForwarderOptions = {}): Promise<Forwarder> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    let upstreamEnded = false;
    if (options.clientOutlivesUpstreamEnd) upstream.once('end', () => (upstreamEnded = true));
    const destroyPair = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    client.once('close', destroyPair);
    upstream.once('close', () => upstreamEnded || destroyPair());
    onPair(client, upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const dropAll = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    port: (server.address() as AddressInfo).port,
    dropAll,
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
