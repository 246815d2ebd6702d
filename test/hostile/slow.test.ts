/**
 * Slow clients that try to hold a connection slot: slowloris (a header one byte a second),
 * fifty of them at once, a reader that asks for a video and never reads it, and bodies
 * trickled below the minimum transfer rate both ways. Each is cut off by a deadline
 * (header, idle) or the rate while the bystander is served meanwhile.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, readlink, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { Upload } from '../../src/orm/models/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { frame } from '../helpers/raw.js';
import { startWorld } from '../helpers/world.js';
import {
  download,
  endpointOf,
  expectErrorReply,
  nextLoopback,
  sha256,
  startArena,
  storeVideo,
  waitFor,
  type Arena,
  type Peer,
  type StoredVideo,
} from './arena.js';


const HEADER_DEADLINE_SECONDS = 2;
const IDLE_SECONDS = 2;
const request = frame({ type: 'login', name: 'bystander', password: wirePassword('bystander-pw'), user_type: 'user' });

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

/**
 * Bodies trickled below the minimum transfer rate (--min-transfer-rate): the idle timeout
 * restarts on every byte, so only the rate cuts them. A small window keeps each case short.
 */
const RATE = 256 * 1024; // bytes per second
const WINDOW_SECONDS = 1;
const rateLimits = { minTransferRate: RATE, transferWindowSeconds: WINDOW_SECONDS };
const SLOW_LOG = 'transfer below the minimum rate, closing';

/** Descriptors of this process (the server runs in it) open on `path`. */
async function handlesOn(path: string): Promise<number> {
  const fds = await readdir('/proc/self/fd').catch(() => [] as string[]);
  const targets = await Promise.all(fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')));
  return targets.filter((target) => target === path).length;
}

describe.each(databaseKinds)('transfers below the minimum rate (%s)', (kind) => {
  let arena: Arena;
  let big: StoredVideo;
  beforeAll(async () => {
    arena = await startArena(kind, rateLimits);
    big = await storeVideo(arena.admin, 'big.mp4', true, 24 * 1024 * 1024); // also an upload at full speed
  });
  afterAll(async () => arena?.close());

  const slowLogs = (direction: string, address?: string) =>
    arena.world.logs.filter((line) => line.msg === SLOW_LOG && line.direction === direction && line.addr === address);

  it('an upload trickled below the rate gets TIMEOUT at its first whole window; its partial is kept and resumes; the bystander is served', async () => {
    const watch = await arena.watch();
    const source = await arena.world.makeFile('trickled.mp4', 512 * 1024);
    const bytes = await readFile(source);
    const sha = sha256(bytes);
    const peer = await arena.peer();
    const login = await peer.request({ type: 'login', name: 'curator', password: wirePassword('secret-curator'), user_type: 'admin' });
    expect(login).toMatchObject({ flag: true });
    const head = 64 * 1024; // a quarter of what one window asks for
    const started = Date.now();
    peer.send(
      { type: 'update_movie', session: login.session, file_name: 'trickled.mp4', file_size: bytes.length, file_md5: await quickMd5(source), is_free: 1, sha256: sha },
      bytes.subarray(0, head),
    );
    let sent = head;
    while (!peer.closed && sent < bytes.length && Date.now() - started < 10_000) {
      peer.write(bytes.subarray(sent, sent + 1)); // one byte every 50 ms: never idle, far too slow
      sent++;
      await peer.closedWithin(50);
    }
    const seconds = (Date.now() - started) / 1000;
    expect(peer.closed).toBe(true);
    expect(seconds).toBeGreaterThanOrEqual(WINDOW_SECONDS * 0.9); // a throttle's lower bound: a whole window is measured
    expect(peer.replies).toHaveLength(2);
    expectErrorReply(peer.replies[1], 'TIMEOUT');
    // Cut by the rate, at the first whole window: that window still holds the 64 KiB head
    // (any later one holds only trickled bytes), and it moved under the minimum.
    const [cut] = slowLogs('upload', peer.local.address);
    expect(slowLogs('upload', peer.local.address)).toHaveLength(1);
    expect(cut).toMatchObject({ bytesPerSecond: RATE, windowSeconds: WINDOW_SECONDS });
    expect(Number(cut.windowBytes)).toBeGreaterThanOrEqual(head);
    expect(Number(cut.windowBytes)).toBeLessThan(RATE * WINDOW_SECONDS);

    // The partial is released for a resume, exactly like any other cut upload.
    const db = arena.world.server.app.db;
    let row: Upload | undefined;
    await waitFor(async () => {
      row = await Upload.selectOne(db, { sha256: sha });
      return row?.holder === null;
    }, 5000, 'the cut upload to be released');
    const onDisk = (await stat(arena.world.server.app.media.incomingPathOf(row!.temp_name))).size;
    expect(onDisk).toBeGreaterThanOrEqual(head);
    expect(onDisk).toBeLessThan(bytes.length);
    expect(Number(row!.received_bytes)).toBe(onDisk);

    const admin = await arena.world.loginAs('curator', 'admin');
    let resumedAt = -1;
    const reply = await uploadFile(admin, source, { isFree: true, onResume: (offset) => (resumedAt = offset) });
    expect(reply).toMatchObject({ flag: true, sha256: sha, offset: onDisk });
    expect(resumedAt).toBe(onDisk);
    admin.close();
    await watch.served();
  });

  it('an upload of a few MiB at a normal pace (4x the minimum, over several windows) is not cut', async () => {
    const cutsBefore = arena.world.logs.filter((line) => line.msg === SLOW_LOG).length;
    const admin = await arena.world.loginAs('curator', 'admin');
    const bytes = randomBytes(3 * 1024 * 1024);
    const piece = 32 * 1024;
    async function* paced() {
      for (let at = 0; at < bytes.length; at += piece) {
        yield bytes.subarray(at, at + piece);
        await sleep((piece / (4 * RATE)) * 1000);
      }
    }
    const started = Date.now();
    const reply = await admin.sendWithBody(
      { type: 'update_movie', session: admin.session, file_name: 'paced.mp4', file_size: bytes.length, file_md5: sha256(bytes).slice(0, 32), is_free: 1, sha256: sha256(bytes) },
      Readable.from(paced()),
    );
    expect(reply).toMatchObject({ flag: true });
    expect(Date.now() - started).toBeGreaterThan(2 * WINDOW_SECONDS * 1000); // it did span windows
    admin.close();
    expect(arena.world.logs.filter((line) => line.msg === SLOW_LOG)).toHaveLength(cutsBefore);
  });

  it.each(['stops reading', 'trickles (1 KiB every 100 ms)'] as const)(
    'a download reader that %s is cut by the minimum rate; its connection and file handle are released; the bystander is served',
    async (mode) => {
      const watch = await arena.watch();
      const [{ path }] = await arena.rows<{ path: string }>('SELECT path FROM movie WHERE id = ?', [big.id]);
      const videoPath = join(arena.world.config.mediaDir, path);
      const socket = connect({ host: '127.0.0.1', port: arena.port, localAddress: nextLoopback() });
      socket.on('error', () => undefined);
      const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.write(request);
      const session = await new Promise<string>((resolve) => socket.once('data', (chunk: Buffer) => resolve(JSON.parse(chunk.subarray(4).toString()).session)));
      socket.pause();
      const client = endpointOf(socket);
      const handlesBefore = await handlesOn(videoPath);
      socket.write(frame({ type: 'download_movie', session, movie_id: big.id, movie_type: 'free' }));
      const trickle = mode === 'stops reading' ? undefined : setInterval(() => socket.read(1024), 100);
      try {
        await waitFor(async () => (await handlesOn(videoPath)) > handlesBefore, 5000, 'the server to open the video');
        // A generous deadline for the condition; which rule cut it is checked on the log below.
        await waitFor(() => !arena.serves(client), 15_000, 'the server to drop the reader');
      } finally {
        clearInterval(trickle);
      }
      socket.resume(); // read what is left, up to the server's close (the client never closes it)
      await closed;
      // Cut by the rate (the idle timeout is 10 minutes here): a whole window moved under the minimum.
      expect(slowLogs('download', client.address)).toHaveLength(1);
      const [cut] = slowLogs('download', client.address);
      expect(cut).toMatchObject({ bytesPerSecond: RATE, windowSeconds: WINDOW_SECONDS });
      expect(Number(cut.windowBytes)).toBeLessThan(RATE * WINDOW_SECONDS);
      await waitFor(async () => (await handlesOn(videoPath)) === handlesBefore, 5000, 'the video file handle to be closed');
      // No download record: the download never finished.
      expect(await watch.changes()).toEqual({});
      await watch.served();
    },
  );

  it('the non-VIP wait before a free download does not count against the rate', async () => {
    const world = await startWorld(kind, { ...rateLimits, freeWaitSeconds: 3 * WINDOW_SECONDS });
    try {
      const admin = await world.loginAs('curator', 'admin');
      const video = await storeVideo(admin, 'waited.mp4', true, 4 * 1024 * 1024);
      const viewer = await world.loginAs('viewer', 'user');
      const started = Date.now();
      const { reply, bytes } = await download(viewer, video.id, 'free');
      expect(reply).toMatchObject({ flag: true });
      expect(Date.now() - started).toBeGreaterThanOrEqual(3 * WINDOW_SECONDS * 1000);
      expect(sha256(bytes)).toBe(sha256(video.bytes));
      expect(world.logs.filter((line) => line.msg === SLOW_LOG)).toEqual([]);
    } finally {
      await world.close();
    }
  });
});
