/**
 * Sockets that open and never finish a handshake: silent TCP connections to a TLS server,
 * and to a server that asks for the HMAC handshake. They count against the connection
 * limits from their first moment (the TCP connection, not the end of the handshake), the
 * extra ones are refused at once, and the rest are closed at the handshake deadline. The
 * bystander (a real TLS, or HMAC, client) is served throughout.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.js';
import { nextLoopback, startArena, waitFor, type Arena } from './arena.js';

/** A TCP socket that never sends a byte; it records what the server sent and when it closed. */
interface Silent {
  socket: Socket;
  received: Buffer[];
  closed: boolean;
}

function silentSocket(port: number, localAddress: string): Promise<Silent> {
  return new Promise((resolve, reject) => {
    const silent: Silent = { socket: connect({ host: '127.0.0.1', port, localAddress }), received: [], closed: false };
    silent.socket.on('data', (chunk: Buffer) => silent.received.push(chunk));
    silent.socket.on('close', () => (silent.closed = true));
    silent.socket.once('connect', () => resolve(silent));
    silent.socket.once('error', (error) => (silent.closed ? undefined : reject(error)));
  });
}

function openSilent(arena: Arena, addresses: string[], each: number): Promise<Silent[]> {
  return Promise.all(addresses.flatMap((address) => Array.from({ length: each }, () => silentSocket(arena.port, address))));
}

/** The first frame the server sent, if what it sent is a frame (a refusal), not a nonce. */
function frameOf(silent: Silent): Record<string, unknown> | undefined {
  const bytes = Buffer.concat(silent.received);
  if (bytes.length < 4 || bytes.length !== 4 + bytes.readInt32LE(0)) return undefined;
  return JSON.parse(bytes.subarray(4).toString());
}

const closedCount = (sockets: Silent[]) => sockets.filter((s) => s.closed).length;

describe.each(databaseKinds)('handshakes count against the limits (%s)', (kind) => {
  describe('TLS', () => {
    let dir: string;
    let arena: Arena;
    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'cinebox-tls-'));
      const [cert, key] = [join(dir, 'cert.pem'), join(dir, 'key.pem')];
      execFileSync('openssl', [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
        '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
      ], { stdio: 'ignore' });
      const overrides = { tlsCert: cert, tlsKey: key, maxConnections: 40, maxConnectionsPerAddress: 10, handshakeSeconds: 3 };
      arena = await startArena(kind, overrides, { tls: { ca: await readFile(cert) } });
    });
    afterAll(async () => {
      await arena?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('counts silent sockets against the per-address limit and closes the rest at the handshake deadline', async () => {
      const watch = await arena.watch();
      const held = arena.world.server.openSockets();
      const silent = await openSilent(arena, [nextLoopback()], 30);
      await waitFor(() => closedCount(silent) >= 20, 2000, 'the 20 over the limit refused');
      expect(closedCount(silent)).toBe(20);
      expect(arena.world.server.openSockets()).toBe(held + 10);
      await waitFor(() => closedCount(silent) === 30, 10_000, 'the handshake deadline');
      await waitFor(() => arena.world.server.openSockets() === held, 2000, 'the sockets counted out');
      await watch.unharmed();
    });

    it('counts them against the total, so a crowd of them cannot exhaust the descriptors', async () => {
      const watch = await arena.watch();
      const held = arena.world.server.openSockets();
      const addresses = Array.from({ length: 8 }, () => nextLoopback());
      const silent = await openSilent(arena, addresses, 10);
      await waitFor(() => closedCount(silent) >= 80 - (40 - held), 2000, 'the sockets over the total refused');
      expect(arena.world.server.openSockets()).toBe(40);
      await waitFor(() => closedCount(silent) === 80, 10_000, 'the handshake deadline');
      await watch.unharmed();
    });
  });

  describe('HMAC', () => {
    let arena: Arena;
    beforeAll(async () => {
      const overrides = { clientSecret: 'shared-secret', maxConnections: 30, maxConnectionsPerAddress: 1000, handshakeSeconds: 2 };
      arena = await startArena(kind, overrides, { clientSecret: 'shared-secret' });
    });
    afterAll(async () => arena?.close());

    it('sends a nonce only within the total limit, BUSY past it, and closes the silent at the deadline', async () => {
      const watch = await arena.watch();
      const held = arena.world.server.openSockets();
      const silent = await openSilent(arena, Array.from({ length: 60 }, () => nextLoopback()), 1);
      await waitFor(() => closedCount(silent) >= 60 - (30 - held), 2000, 'the sockets over the limit refused');
      const refused = silent.filter((s) => s.closed);
      expect(refused.map(frameOf)).toEqual(refused.map(() => expect.objectContaining({ flag: false, code: 'BUSY' })));
      const waiting = silent.filter((s) => !s.closed);
      expect(waiting).toHaveLength(30 - held);
      for (const s of waiting) expect(Buffer.concat(s.received)).toHaveLength(32);
      await waitFor(() => closedCount(silent) === 60, 10_000, 'the handshake deadline');
      await watch.unharmed();
    });
  });
});
