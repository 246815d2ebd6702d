/**
 * A TCP proxy whose server-to-client direction moves at most `bytesPerSecond`, so a test
 * can watch what a client does while a download is still arriving. Requests pass at once.
 */
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export interface SlowProxy {
  port: number;
  close(): Promise<void>;
}

const TICK_MS = 20;

export async function startSlowProxy(targetPort: number, bytesPerSecond: number): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sockets.delete(s));
    }
    client.pipe(upstream);
    let queue: Buffer[] = [];
    let queued = 0;
    let ended = false;
    const perTick = Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000));
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const piece = head.subarray(0, budget);
        client.write(piece);
        budget -= piece.length;
        queued -= piece.length;
        if (piece.length === head.length) queue.shift();
        else queue[0] = head.subarray(piece.length);
      }
      if (queued < 4 * perTick) upstream.resume();
      if (ended && queued === 0) {
        clearInterval(timer);
        client.end();
      }
    }, TICK_MS);
    upstream.on('data', (chunk: Buffer) => {
      queue.push(chunk);
      queued += chunk.length;
      if (queued > 8 * perTick) upstream.pause();
    });
    upstream.once('end', () => (ended = true));
    const stop = () => {
      clearInterval(timer);
      queue = [];
      client.destroy();
      upstream.destroy();
    };
    client.once('close', stop);
    upstream.once('close', () => ended || stop());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
