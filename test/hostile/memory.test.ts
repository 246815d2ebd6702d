/**
 * Memory a client can make the server hold, counted the way the server counts it (its
 * connection's `heldBytes`: the decoder's buffers and queued chunks with their per-chunk
 * overhead, what the socket is paused on): bytes sent while a request is busy (a non-VIP
 * viewer's wait before a download), the same as 1-byte writes, and a burst of pipelined
 * frames after which the connection goes idle.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/server/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { expectErrorReply, startArena, waitFor, type Arena, type Peer, type Watch } from './arena.js';

const KiB = 1024;
/** What a busy connection may hold: the small read buffer and one socket read past it. */
const BUSY_BOUND = 64 * KiB + 64 * KiB;

describe.each(databaseKinds)('memory held per connection (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { freeWaitSeconds: 3, requestsPerSecond: 0 });
    (await arena.world.loginAs('waiter', 'user')).close();
  });
  afterAll(async () => arena?.close());

  const connectionOf = (peer: Peer): Connection => {
    const conn = [...arena.world.server.connections].find((c) => c.socket.remotePort === peer.local.port && c.socket.remoteAddress === peer.local.address);
    if (!conn) throw new Error('the server holds no connection for this peer');
    return conn;
  };

  /** The downloads went through (their records), and nothing else changed. */
  async function onlyDownloadsRecorded(watch: Watch, count: number): Promise<void> {
    await waitFor(async () => ((await watch.changes()).download_record?.added?.length ?? 0) >= count, 5000, 'the download records');
    const changes = await watch.changes();
    expect(Object.keys(changes)).toEqual(['download_record']);
    expect(changes.download_record!.added).toHaveLength(count);
  }

  /** A viewer whose free download waits 3 s: the request is busy meanwhile. */
  async function busyViewer(): Promise<{ peer: Peer; conn: Connection }> {
    const peer = await arena.peer();
    const login = await peer.request({ type: 'login', name: 'waiter', password: wirePassword('secret-waiter'), user_type: 'user' });
    peer.send({ type: 'download_movie', session: login.session, movie_id: arena.free.id, movie_type: 'free' });
    expect(await peer.next()).toMatchObject({ flag: true, wait_time: 3 });
    return { peer, conn: connectionOf(peer) };
  }

  it('stops reading at a small buffer while a request is busy', async () => {
    const watch = await arena.watch();
    const viewers = await Promise.all(Array.from({ length: 4 }, () => busyViewer()));
    for (const { peer } of viewers) peer.write(Buffer.alloc(2 * 1024 * KiB, 0xff));
    await waitFor(() => viewers.every(({ conn }) => conn.socket.isPaused()), 5000, 'every socket paused');
    for (const { conn } of viewers) expect(conn.heldBytes).toBeLessThanOrEqual(BUSY_BOUND);
    // Once the wait is over the file goes out, then the junk breaks the framing.
    for (const { peer } of viewers) {
      await peer.closedWithin(10_000);
      expect(peer.bodies[0]).toEqual(arena.free.bytes);
      expectErrorReply(peer.replies.at(-1), 'BAD_FRAME');
    }
    await onlyDownloadsRecorded(watch, viewers.length);
    await watch.served();
  });

  it('counts 1-byte writes as the memory they hold, not as bytes', async () => {
    const watch = await arena.watch();
    const { peer, conn } = await busyViewer();
    let peak = 0;
    for (let i = 0; i < 20_000 && !conn.socket.isPaused(); i++) {
      peer.write(Buffer.from([0xff]));
      await new Promise((resolve) => setImmediate(resolve));
      peak = Math.max(peak, conn.heldBytes);
    }
    expect(conn.socket.isPaused()).toBe(true);
    expect(peak).toBeLessThanOrEqual(BUSY_BOUND);
    await peer.closedWithin(10_000);
    await onlyDownloadsRecorded(watch, 1);
    await watch.served();
  });

  it('keeps little once idle after a burst of pipelined frames', async () => {
    const watch = await arena.watch();
    const peer = await arena.peer();
    const frame = encodeFrame({ type: 'server_info', padding: 'x'.repeat(40) });
    const count = Math.ceil((131 * KiB) / frame.length);
    peer.write(Buffer.concat(Array.from({ length: count }, () => frame)));
    await waitFor(() => peer.replies.length === count, 10_000, 'every reply');
    expect(peer.replies.every((r) => r.flag === true)).toBe(true);
    expect(connectionOf(peer).heldBytes).toBeLessThanOrEqual(16 * KiB);
    peer.destroy();
    await watch.unharmed();
  });
});
