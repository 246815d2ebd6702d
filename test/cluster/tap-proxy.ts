/**
 * A pass-through TCP proxy in front of the balancer for one client, so the test knows which
 * node serves it: it records the local port of each upstream connection, which HAProxy
 * passes on in its PROXY line and the node logs with every line of that connection. The
 * client-to-server direction can be held to `upBytesPerSecond`, so an upload is still
 * running when the test kills its node.
 */
import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TapProxy {
  port: number;
  /** Local ports of the upstream connections, oldest first. */
  readonly upstreamPorts: number[];
  close(): Promise<void>;
}

const TICK_MS = 20;

export async function startTapProxy(targetPort: number, upBytesPerSecond = Infinity): Promise<TapProxy> {
  const sockets = new Set<Socket>();
  const upstreamPorts: number[] = [];
  const server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort }, () => upstreamPorts.push(upstream.localPort!));
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => {
        sockets.delete(s);
        clearInterval(timer);
        client.destroy();
        upstream.destroy();
      });
    }
    upstream.pipe(client);
    let timer: NodeJS.Timeout | undefined;
    if (upBytesPerSecond === Infinity) {
      client.pipe(upstream);
      return;
    }
    // Up: at most upBytesPerSecond, the client paused while more than a second's worth waits.
    const queue: Buffer[] = [];
    let queued = 0;
    const perTick = Math.max(1, Math.floor((upBytesPerSecond * TICK_MS) / 1000));
    timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const piece = head.subarray(0, budget);
        upstream.write(piece);
        budget -= piece.length;
        queued -= piece.length;
        if (piece.length === head.length) queue.shift();
        else queue[0] = head.subarray(piece.length);
      }
      if (queued < upBytesPerSecond) client.resume();
    }, TICK_MS);
    client.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued >= upBytesPerSecond) client.pause();
    });
    client.once('end', () => {
      const flush = setInterval(() => {
        if (queued === 0) {
          clearInterval(flush);
          upstream.end();
        }
      }, TICK_MS);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    upstreamPorts,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
