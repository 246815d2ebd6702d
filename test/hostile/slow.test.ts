/**
 * Slow clients that try to hold a connection slot: slowloris (a header one byte a second),
 * fifty of them at once, and a reader that asks for a video and never reads it. Each is cut
 * off by a deadline (header, idle) while the bystander is served meanwhile.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { frame } from '../helpers/raw.js';
import { endpointOf, expectErrorReply, startArena, storeVideo, waitFor, type Arena, type Peer } from './arena.js';


const HEADER_DEADLINE_SECONDS = 2;
const IDLE_SECONDS = 2;

/** Writes `bytes` one per second until the server closes the socket; returns how many went out. */
async function drip(peer: Peer, bytes: Buffer): Promise<number> {
  let sent = 0;
  while (!peer.closed && sent < bytes.length) {
    peer.write(bytes.subarray(sent, sent + 1));
    sent++;
    await peer.closedWithin(1000);
  }
  return sent;
}

describe.each(databaseKinds)('slow clients (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { headerDeadlineSeconds: HEADER_DEADLINE_SECONDS, idleTimeoutSeconds: IDLE_SECONDS });
  });
  afterAll(async () => arena?.close());

  const request = frame({ type: 'login', name: 'bystander', password: wirePassword('bystander-pw'), user_type: 'user' });

  it('slowloris clients (one byte a second), fifty at once: each gets TIMEOUT at the header deadline, the bystander is served meanwhile', async () => {
    const watch = await arena.watch();
    const peers = await Promise.all(Array.from({ length: 50 }, () => arena.peer()));
    const dripping = Promise.all(peers.map((peer) => drip(peer, request)));
    await waitFor(() => peers.every((peer) => arena.serves(peer.local)), 5000, 'the server to see them all');
    await watch.served(); // while they are still dripping
    const sent = await dripping;
    for (const [i, peer] of peers.entries()) {
      expect(sent[i]).toBeLessThan(request.length); // the header was never completed
      expect(peer.replies).toHaveLength(1);
      expectErrorReply(peer.replies[0], 'TIMEOUT');
    }
    await waitFor(() => peers.every((peer) => !arena.serves(peer.local)), 5000, 'the slots to be freed');
    expect(await watch.changes()).toEqual({ download_record: { added: [expect.anything()] } }); // the bystander's own download
  });

  it('a reader that asks for a video and never reads is closed by the idle timeout', async () => {
    const admin = await arena.world.loginAs('curator', 'admin'); // the arena's own admin went idle long ago
    const big = await storeVideo(admin, 'big.mp4', true, 24 * 1024 * 1024);
    admin.close();
    const watch = await arena.watch();
    const socket = connect({ host: '127.0.0.1', port: arena.port });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(request);
    const session = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.subarray(4).toString()).session)));
    socket.pause(); // from here on nothing is read: the server's writes back up
    socket.write(frame({ type: 'download_movie', session, movie_id: big.id, movie_type: 'free' }));
    const client = endpointOf(socket);
    expect(arena.serves(client)).toBe(true);
    await waitFor(() => !arena.serves(client), (IDLE_SECONDS + 10) * 1000, 'the server to drop the reader');
    socket.destroy();
    await closed;
    // No download record: the download never finished.
    await watch.unharmed();
  });
});
