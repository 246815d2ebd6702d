/**
 * How bytes flow, seen from a raw socket, on SQLite and MySQL: the non-VIP wait happens on
 * the server (no byte of the video is sent before it ends), and a reader that stops reading
 * does not make the server buffer the video (bounded by socket state, not by time).
 */
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/upload.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import type { Connection } from '../../src/server/connection.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { fileSha256, MiB, waitFor } from './helpers.js';

/** A client that decodes by hand, so a test sees exactly when each byte arrives and can stop reading. */
class RawClient {
  readonly decoder = new FrameDecoder({ maxHeaderBytes: 1 << 20 });
  private wake?: () => void;
  /** Body bytes received so far, and when the first one came. */
  bodyBytes = 0;
  firstBodyAt = 0;
  readonly hash = createHash('sha256');

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.append(chunk);
      this.wake?.();
    });
  }

  static async open(port: number): Promise<RawClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new RawClient(socket);
  }

  send(header: object): void {
    this.socket.write(encodeFrame(header));
  }

  /** The next header; body bytes met on the way are counted and hashed. */
  async nextHeader(): Promise<Record<string, unknown>> {
    for (;;) {
      const event = this.decoder.next();
      if (event?.kind === 'header') return event.header;
      if (event?.kind === 'body') this.take(event.chunk);
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Reads body bytes until `size` of them arrived. */
  async readBody(size: number): Promise<void> {
    while (this.bodyBytes < size) {
      const event = this.decoder.next();
      if (event?.kind === 'body') this.take(event.chunk);
      else if (event) throw new Error('a header inside the body');
      else await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Body events already decoded but not taken: bytes that arrived and wait in our buffer. */
  pendingBodyBytes(): number {
    return this.decoder.bufferedBytes;
  }

  private take(chunk: Buffer): void {
    if (this.bodyBytes === 0) this.firstBodyAt = performance.now();
    this.bodyBytes += chunk.length;
    this.hash.update(chunk);
  }

  async login(name: string): Promise<string> {
    this.send({ type: 'login', name, password: wirePassword(`secret-${name}`), user_type: 'user' });
    return String((await this.nextHeader()).session);
  }

  close(): void {
    this.socket.destroy();
  }
}

describe.each(databaseKinds)('bytes on the wire (%s)', (kind) => {
  let world: World;
  let movieId: number;
  let source: string;
  const SIZE = 64 * MiB;

  beforeAll(async () => {
    world = await startWorld(kind, { freeWaitSeconds: 1 });
    const admin = await world.loginAs('boss', 'admin');
    source = await world.makeFile('film.mp4', SIZE);
    movieId = Number((await uploadFile(admin, source, { isFree: true })).movie_id);
  });
  afterAll(async () => world?.close());

  /** The server's side of a raw client's socket. */
  function serverSideOf(client: RawClient): Connection {
    const found = [...world.server.connections].find((conn) => conn.socket.remotePort === client.socket.localPort);
    if (!found) throw new Error('no server connection for this client');
    return found;
  }

  it('sends no byte of a free video to a non-VIP viewer before the wait is over', async () => {
    await world.loginAs('bob', 'user');
    const client = await RawClient.open(world.server.port);
    try {
      const session = await client.login('bob');
      const server = serverSideOf(client);
      const requestedAt = performance.now();
      client.send({ type: 'download_movie', session, movie_id: movieId, movie_type: 'free' });
      const header = await client.nextHeader();
      expect(header).toMatchObject({ flag: true, wait_time: 1, file_size: SIZE });
      // The header is here and nothing after it: not in our buffer, not written by the server.
      expect(client.pendingBodyBytes()).toBe(0);
      expect(server.socket.bytesWritten).toBe(client.socket.bytesRead);

      await client.readBody(SIZE);
      expect(client.firstBodyAt - requestedAt).toBeGreaterThanOrEqual(990); // the server slept first
      expect(client.hash.digest('hex')).toBe(await fileSha256(source));
    } finally {
      client.close();
    }
  });

  it('does not buffer a video for readers that stop reading', async () => {
    await world.loginAs('vip', 'user').then((conn) => conn.call('buy_vip', {})); // no wait
    const readers = await Promise.all(Array.from({ length: 4 }, () => RawClient.open(world.server.port)));
    try {
      for (const reader of readers) {
        const session = await reader.login('vip');
        reader.send({ type: 'download_movie', session, movie_id: movieId, movie_type: 'free' });
        expect(await reader.nextHeader()).toMatchObject({ flag: true, wait_time: 0 });
        reader.socket.pause(); // and never read again, until the end of the test
      }
      const servers = readers.map((reader) => serverSideOf(reader));
      // Wait until every server-side socket is stuck: nothing handed to the kernel for a while.
      let last = servers.map((s) => s.socket.bytesWritten);
      let still = 0;
      await waitFor(() => {
        const now = servers.map((s) => s.socket.bytesWritten);
        still = now.every((n, i) => n === last[i]) ? still + 1 : 0;
        last = now;
        return still >= 10; // 200 ms without progress
      }, 'the server to stop writing to the stalled readers');

      for (const server of servers) {
        expect(server.socket.writableLength).toBeLessThan(1 * MiB); // waiting for 'drain', not queueing the file
        expect(server.socket.bytesWritten).toBeLessThan(SIZE / 2); // the rest is still on disk
        expect(server.isClosed).toBe(false);
      }

      // Reading again gets the whole video, intact.
      const sha = await fileSha256(source);
      for (const reader of readers) {
        reader.socket.resume();
        await reader.readBody(SIZE);
        expect(reader.hash.digest('hex')).toBe(sha);
      }
    } finally {
      for (const reader of readers) reader.close();
    }
  });
});
