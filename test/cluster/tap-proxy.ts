/**
 * A pass-through TCP proxy in front of the balancer for one client, so the test knows which
 * node serves it: it records the local port of each upstream connection, which HAProxy
 * passes on in its PROXY line and the node logs with every line of that connection. The
 * client-to-server direction can be held to `upBytesPerSecond`, so an upload is still
 * running when the test kills its node.
 */
import { pacedCopy } from '../helpers/paced-copy.js';
import { startForwarder } from '../helpers/tcp-forwarder.js';

export interface TapProxy {
  port: number;
  /** Local ports of the upstream connections, oldest first. */
  readonly upstreamPorts: number[];
  close(): Promise<void>;
}

export async function startTapProxy(targetPort: number, upBytesPerSecond = Infinity): Promise<TapProxy> {
  const upstreamPorts: number[] = [];
  const forwarder = await startForwarder(targetPort, (client, upstream) => {
    upstream.once('connect', () => upstreamPorts.push(upstream.localPort!));
    upstream.pipe(client);
    if (upBytesPerSecond === Infinity) client.pipe(upstream);
    // Up: at most upBytesPerSecond, the client paused while more than a second's worth waits.
    else pacedCopy(client, upstream, { bytesPerSecond: upBytesPerSecond, pauseAbove: upBytesPerSecond, resumeBelow: upBytesPerSecond });
  });
  return { port: forwarder.port, upstreamPorts, close: forwarder.close };
}
