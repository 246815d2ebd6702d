/**
 * A TCP proxy whose server-to-client direction moves at most `bytesPerSecond`, so a test
 * can watch what a client does while a download is still arriving. Requests pass at once.
 */
import { bytesPerTick, pacedCopy } from './paced-copy.js';
import { startForwarder } from './tcp-forwarder.js';

export interface SlowProxy {
  port: number;
  close(): Promise<void>;
}

export async function startSlowProxy(targetPort: number, bytesPerSecond: number): Promise<SlowProxy> {
  const perTick = bytesPerTick(bytesPerSecond);
  const forwarder = await startForwarder(
    targetPort,
    (client, upstream) => {
      client.pipe(upstream);
      pacedCopy(upstream, client, { bytesPerSecond, pauseAbove: 8 * perTick, resumeBelow: 4 * perTick });
    },
    // The server's last bytes are still queued here when it closes: the copy ends the client.
    { clientOutlivesUpstreamEnd: true },
  );
  return { port: forwarder.port, close: forwarder.close };
}
