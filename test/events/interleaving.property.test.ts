/**
 * Events and replies interleaved on one connection never split a frame or a body. A
 * subscribed viewer, speaking raw frames, runs a random sequence of requests (downloads with
 * multi-megabyte bodies, lists) and reads at a random pace, while notices are published at
 * random moments on another connection. Every reply must come whole and in order, every body
 * must hash to its file, and every event must arrive once, in id order, between them.
 */
import { connect, type Socket } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { encodeFrame, FrameDecoder, type DecodedEvent } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { fileSha256, sha256 } from '../transfers/helpers.js';
import { startWorld, type World } from '../helpers/world.js';
import { sleep } from './helpers.js';

/** One raw connection, read by pulling decoded events, with reading paused at will. */
class RawPeer {
  private readonly decoder = new FrameDecoder({ maxHeaderBytes: 1 << 20 });
  private wake?: () => void;
  private closed = false;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk) => {
      this.decoder.append(chunk);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
  }

  static async open(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise((resolve) => socket.once('connect', resolve));
    return new RawPeer(socket);
  }

  send(header: object): void {
    this.socket.write(encodeFrame(header));
  }

  async next(): Promise<DecodedEvent> {
    for (;;) {
      const event = this.decoder.next();
      if (event) return event;
      if (this.closed) throw new Error('the server closed the connection');
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = undefined;
    }
  }
}

type Op = 'download-small' | 'download-big' | 'list' | 'notices';

describe('events interleaved with replies and bodies on one connection', () => {
  let world: World;
  let admin: ClientConnection;
  const movies: Record<'small' | 'big', { id: number; sha256: string; size: number }> = {} as never;

  beforeAll(async () => {
    world = await startWorld('sqlite', { requestsPerSecond: 0 });
    admin = await world.loginAs('boss', 'admin');
    await world.loginAs('viewer', 'user');
    for (const [key, size] of [['small', 200_000], ['big', 3 * 1024 * 1024 + 11]] as const) {
      const path = await world.makeFile(`${key}.mp4`, size);
      const reply = await uploadFile(admin, path, { isFree: true });
      movies[key] = { id: Number(reply.movie_id), sha256: await fileSha256(path), size };
    }
    // A notice before the first run: check_notice answers NOT_FOUND while there is none, and a
    // first run starting with 'notices' would otherwise fail on that, not on the interleaving.
    await admin.call('release_notice', { title: 'first', content: 'before the runs' });
  }, 60_000);
  afterAll(async () => world?.close());

  it('never splits a frame or a body, and delivers every event once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom<Op>('download-small', 'download-big', 'list', 'notices'), { minLength: 2, maxLength: 6 }),
        fc.array(fc.integer({ min: 0, max: 25 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 10 }),
        async (ops, publishGaps, readPauses) => {
          const peer = await RawPeer.open(world.server.port);
          let publishing: Promise<void> | undefined;
          try {
            peer.send({ type: 'login', name: 'viewer', password: wirePassword('secret-viewer'), user_type: 'user' });
            const login = await peer.next();
            const session = (login as { header: Record<string, unknown> }).header.session;
            peer.send({ type: 'subscribe', session });
            const subscribed = (await peer.next()) as { kind: 'header'; header: Record<string, unknown> };
            expect(subscribed.header).toMatchObject({ flag: true, msg: 'subscribed' });
            const start = Number(subscribed.header.last_id);

            const events: number[] = [];
            // Notices go out at random moments while the viewer works.
            publishing = (async () => {
              for (const gap of publishGaps) {
                await sleep(gap);
                await admin.call('release_notice', { title: `n${gap}`, content: 'interleaved' });
              }
            })();

            let pause = 0;
            const readPaced = async () => {
              const ms = readPauses[pause++ % readPauses.length]!;
              if (ms > 0) {
                peer.socket.pause();
                await sleep(ms);
                peer.socket.resume();
              }
              return peer.next();
            };
            /** The next header that is not an event (events met on the way are recorded). */
            const reply = async () => {
              for (;;) {
                const event = await readPaced();
                if (event.kind !== 'header') throw new Error(`body bytes where a frame should start (${event.chunk.length} bytes)`);
                if (event.header.type === 'event') {
                  events.push(Number(event.header.id));
                  continue;
                }
                return event;
              }
            };

            for (const op of ops) {
              if (op === 'download-small' || op === 'download-big') {
                const movie = movies[op === 'download-small' ? 'small' : 'big'];
                peer.send({ type: 'download_movie', session, movie_id: movie.id, movie_type: 'free' });
                const header = await reply();
                expect(header.header).toMatchObject({ flag: true, file_size: movie.size });
                const chunks: Buffer[] = [];
                let remaining = header.bodySize;
                while (remaining > 0) {
                  const part = await readPaced();
                  if (part.kind !== 'body') throw new Error('a frame inside a body');
                  chunks.push(Buffer.from(part.chunk));
                  remaining = part.remaining;
                }
                expect(sha256(Buffer.concat(chunks))).toBe(movie.sha256);
              } else {
                peer.send(op === 'list' ? { type: 'get_movie_list', session, movie_type: 'all' } : { type: 'check_notice', session });
                const header = await reply();
                expect(header.header.flag).toBe(true);
                expect(header.bodySize).toBe(0);
                expect(header.header[op === 'list' ? 'movie_list' : 'back_notice_list']).toBeDefined();
              }
            }
            await publishing;
            // Whatever is still on its way arrives after the last reply, whole.
            peer.send({ type: 'server_info' });
            await reply();
            const expected = Array.from({ length: publishGaps.length }, (_, i) => start + 1 + i);
            for (let i = 0; events.length < expected.length && i < 100; i++) {
              peer.send({ type: 'server_info' });
              await reply();
              await sleep(10);
            }
            expect(events).toEqual(expected);
          } finally {
            peer.socket.destroy();
            // A failed run's notices must not land in the next (shrinking) run as extra events.
            await publishing?.catch(() => undefined);
          }
        },
      ),
      { numRuns: Number(process.env.CINEBOX_FUZZ_RUNS ?? 15) },
    );
  }, 240_000);
});
