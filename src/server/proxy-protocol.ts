/**
 * The PROXY protocol, version 1 (HAProxy's `send-proxy`): a balancer in TCP mode writes one
 * text line before the client's bytes, naming the client's real address, so the limits per
 * address, the login guard and the logs see the client and not the balancer.
 *
 *   PROXY TCP4 203.0.113.7 192.0.2.1 51234 1688\r\n
 *
 * The line is at most 107 bytes (the spec's bound); anything else is refused.
 */
import { isIPv4, isIPv6, type Socket } from 'node:net';

/** The spec's longest v1 line, CRLF included. */
export const PROXY_V1_MAX_BYTES = 107;

const PREFIX = Buffer.from('PROXY ');

/** Who the balancer says the client is; `unknown` lines (its own health checks) name nobody. */
export type ProxyClient = { address: string; port: number } | { address: undefined; port: undefined };

export class ProxyHeaderError extends Error {}

/** Parses one line without its CRLF; throws ProxyHeaderError when it is not a valid v1 line. */
export function parseProxyLine(line: string): ProxyClient {
  const parts = line.split(' ');
  if (parts[0] !== 'PROXY') throw new ProxyHeaderError('not a PROXY line');
  if (parts[1] === 'UNKNOWN') return { address: undefined, port: undefined };
  if (parts.length !== 6) throw new ProxyHeaderError('a PROXY line has 6 fields');
  const [, family, source, destination, sourcePort, destinationPort] = parts as [string, string, string, string, string, string];
  const valid = family === 'TCP4' ? isIPv4 : family === 'TCP6' ? isIPv6 : undefined;
  if (!valid) throw new ProxyHeaderError(`unknown PROXY family ${JSON.stringify(family.slice(0, 8))}`);
  if (!valid(source) || !valid(destination)) throw new ProxyHeaderError(`bad ${family} address in the PROXY line`);
  for (const port of [sourcePort, destinationPort]) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(port) || Number(port) > 65535) throw new ProxyHeaderError('bad port in the PROXY line');
  }
  return { address: source, port: Number(sourcePort) };
}

/**
 * Reads the PROXY line off a fresh socket within `timeoutMs`. Resolves to the client it names
 * and the bytes that came after the line (the client's first bytes), leaving the socket
 * paused; rejects on garbage (at its first wrong byte), an overlong line, a close or the deadline.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number): Promise<ProxyClient & { rest: Buffer }> {
  return new Promise((resolve, reject) => {
    let held = Buffer.alloc(0);
    const timer = setTimeout(() => done(new ProxyHeaderError(`no PROXY line within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      held = Buffer.concat([held, chunk]);
      const prefix = Math.min(held.length, PREFIX.length);
      if (!held.subarray(0, prefix).equals(PREFIX.subarray(0, prefix))) return done(new ProxyHeaderError('the connection did not start with a PROXY line'));
      const end = held.indexOf('\r\n');
      if (end < 0) {
        if (held.length >= PROXY_V1_MAX_BYTES) done(new ProxyHeaderError(`PROXY line longer than ${PROXY_V1_MAX_BYTES} bytes`));
        return;
      }
      if (end + 2 > PROXY_V1_MAX_BYTES) return done(new ProxyHeaderError(`PROXY line longer than ${PROXY_V1_MAX_BYTES} bytes`));
      try {
        const client = parseProxyLine(held.subarray(0, end).toString('latin1'));
        done(undefined, { ...client, rest: held.subarray(end + 2) });
      } catch (error) {
        done(error as Error);
      }
    };
    const onClose = () => done(new ProxyHeaderError('connection closed before its PROXY line'));
    let settled = false;
    function done(error?: Error, value?: ProxyClient & { rest: Buffer }) {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
      socket.off('end', onClose);
      if (error) reject(error);
      else resolve(value!);
    }
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.once('end', onClose);
    socket.resume();
  });
}
