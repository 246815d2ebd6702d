/**
 * A TCP forwarder that does what HAProxy's `send-proxy` does: it opens a connection to the
 * server for each client, writes one PROXY protocol v1 line naming the client, then copies
 * bytes both ways. For suites that need a server behind a balancer without HAProxy itself
 * (test/cluster runs the real one).
 */
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import { startForwarder } from './tcp-forwarder.js';

export interface SendProxy {
  port: number;
  close(): Promise<void>;
}

/** The v1 line for a client at `address`:`port` reaching `serverPort`. */
export function proxyLine(address: string, port: number, serverPort: number): string {
  const v4 = address.replace(/^::ffff:/, '');
  return v4.includes(':') ? `PROXY TCP6 ${v4} ::1 ${port} ${serverPort}\r\n` : `PROXY TCP4 ${v4} 127.0.0.1 ${port} ${serverPort}\r\n`;
}

export async function startSendProxy(serverPort: number): Promise<SendProxy> {
  const forwarder = await startForwarder(serverPort, (client, upstream) => {
    upstream.write(proxyLine(client.remoteAddress ?? '127.0.0.1', client.remotePort ?? 0, serverPort));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return { port: forwarder.port, close: forwarder.close };
}

/** A loopback port nothing listens on now. */
export async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}
