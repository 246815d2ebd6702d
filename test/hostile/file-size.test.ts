/**
 * Lies about file_size. One that is no byte count (negative, fractional, a string, past
 * 2^53) breaks the framing: an error frame and a close. One larger than the bytes sent
 * leaves the upload waiting until the idle timeout closes it; the partial is never
 * published (an original client's is deleted, one with a declared SHA-256 is kept to be
 * resumed). One smaller than the bytes sent stores exactly the declared bytes, and the
 * surplus is read as the next frame and refused as one, without touching any stored file.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { frame, prefixed } from '../helpers/raw.js';
import { expectErrorReply, sha256, startArena, type Arena, type Changes, type Peer } from './arena.js';


const IDLE_SECONDS = 1;

describe.each(databaseKinds)('file_size lies (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { idleTimeoutSeconds: IDLE_SECONDS });
  });
  afterAll(async () => arena?.close());

  /** A raw connection logged in as the arena's admin. */
  async function adminPeer(): Promise<{ peer: Peer; session: string }> {
    const peer = await arena.peer();
    const reply = await peer.request({ type: 'login', name: 'curator', password: wirePassword('secret-curator'), user_type: 'admin' });
    expect(reply.flag).toBe(true);
    return { peer, session: String(reply.session) };
  }

  const upload = (session: string, fileSize: unknown, extra: Record<string, unknown> = {}) => ({
    type: 'update_movie',
    session,
    file_name: 'liar.mp4',
    file_size: fileSize,
    file_md5: randomBytes(16).toString('hex'),
    is_free: 1,
    ...extra,
  });

  it.each<[string, unknown]>([
    ['-1', -1],
    ['-2^31', -(2 ** 31)],
    ['1.5', 1.5],
    ['0.000001', 0.000001],
    ['"100" (a string)', '100'],
    ['2^53', 2 ** 53],
    ['true', true],
    ['[]', []],
  ])('a file_size of %s breaks the framing: BAD_FRAME, then a close', async (_name, fileSize) => {
    const watch = await arena.watch();
    const { peer, session } = await adminPeer();
    peer.send(upload(session, fileSize), randomBytes(100));
    expectErrorReply(await peer.next(), 'BAD_FRAME');
    expect((await peer.next()) as string).toBe('closed');
    await watch.unharmed();
  });

  it('a file_size of 1e400 (Infinity once parsed) breaks the framing too', async () => {
    const watch = await arena.watch();
    const { peer, session } = await adminPeer();
    const text = JSON.stringify(upload(session, 0)).replace('"file_size":0', '"file_size":1e400');
    peer.write(prefixed(Buffer.byteLength(text), text));
    expectErrorReply(await peer.next(), 'BAD_FRAME');
    expect(await peer.closedWithin(3000)).toBe(true);
    await watch.unharmed();
  });

  describe('larger than the bytes sent, then the sender stalls', () => {
    it('an original client (no SHA-256): closed by the idle timeout, the partial deleted, nothing published', async () => {
      const watch = await arena.watch();
      const { peer, session } = await adminPeer();
      // A slow disk (as on a loaded machine): the partial is deleted before the last frame
      // goes out all the same, so a client that reads TIMEOUT finds nothing left behind.
      const media = arena.world.server.app.media;
      const discard = media.discard.bind(media);
      media.discard = async (path) => {
        await new Promise((resolve) => setTimeout(resolve, 400));
        return discard(path);
      };
      try {
        peer.send(upload(session, 100_000), randomBytes(30_000));
        const reply = await peer.next((IDLE_SECONDS + 3) * 1000);
        expectErrorReply(reply, 'TIMEOUT');
        await watch.unharmed();
        expect(await peer.closedWithin(3000)).toBe(true);
      } finally {
        media.discard = discard;
      }
    });

    it('a resumable upload (SHA-256 declared): closed by the idle timeout, the partial kept only for a resume', async () => {
      const watch = await arena.watch();
      const whole = randomBytes(100_000);
      const sent = 30_000;
      const { peer, session } = await adminPeer();
      peer.send(upload(session, whole.length, { sha256: sha256(whole) }), whole.subarray(0, sent));
      expectErrorReply(await peer.next((IDLE_SECONDS + 3) * 1000), 'TIMEOUT');
      expect(await peer.closedWithin(3000)).toBe(true);

      // Nothing is published; every byte sent waits under .incoming/ (the idle timeout came
      // long after the last of them arrived), and the upload row says so.
      const changes = await watch.changes();
      expect(changes).toEqual({ files: { added: [expect.stringMatching(/^\.incoming\/[0-9a-f-]{36}\.part$/)] } });
      const partial = await readFile(join(arena.world.config.mediaDir, changes.files!.added![0]));
      expect(partial.length).toBe(sent);
      expect(sha256(partial)).toBe(sha256(whole.subarray(0, sent)));
      const [row] = await arena.rows<{ received_bytes: number; holder: string | null }>('SELECT received_bytes, holder FROM upload WHERE sha256 = ?', [sha256(whole)]);
      expect(row).toMatchObject({ holder: null });
      expect(Number(row.received_bytes)).toBe(sent);
      await watch.served();

      // Only the same admin, declaring the same file, can carry on from there.
      const again = await adminPeer();
      const check = await again.peer.request({ type: 'check_movie', session: again.session, file_md5: 'm', sha256: sha256(whole), size: whole.length });
      expect(check).toMatchObject({ flag: true, offset: partial.length });
      const rest = whole.subarray(partial.length);
      const done = await again.peer.request(upload(again.session, rest.length, { sha256: sha256(whole), offset: partial.length }), rest);
      expect(done).toMatchObject({ flag: true });
      const [movie] = await arena.rows<{ path: string }>('SELECT path FROM movie WHERE id = ?', [Number(done.movie_id)]);
      expect(sha256(await readFile(join(arena.world.config.mediaDir, movie.path)))).toBe(sha256(whole));
    });
  });

  describe('smaller than the bytes sent: the surplus is read as the next frame', () => {
    const declared = randomBytes(10);
    const surpluses: [string, Buffer][] = [
      ['0xFF bytes (a negative length)', Buffer.concat([Buffer.alloc(4, 0xff), randomBytes(1000)])],
      ['JSON without a length prefix', Buffer.from(JSON.stringify({ type: 'delete_movie', session: 'x', movie_id: 1 }))],
      ['the rest of a video (a length over the limit)', Buffer.concat([Buffer.from([0x00, 0x00, 0x00, 0x20]), randomBytes(5000)])],
    ];

    it.each(surpluses)('%s: exactly the declared bytes are stored, the surplus gets BAD_FRAME', async (_name, surplus) => {
      const bytes = Buffer.concat([randomBytes(4), declared.subarray(4)]); // a new video each time
      const watch = await arena.watch();
      const { peer, session } = await adminPeer();
      peer.send(upload(session, bytes.length), Buffer.concat([bytes, surplus]));
      const stored = await peer.next();
      expect(stored).toMatchObject({ flag: true });
      expectErrorReply(await peer.next(), 'BAD_FRAME');
      expect(await peer.closedWithin(3000)).toBe(true);

      const changes = await watch.changes();
      expectOnlyOneNewVideo(changes, bytes.length);
      const path = String(changes.movie!.added![0].path);
      expect(sha256(await readFile(join(arena.world.config.mediaDir, path)))).toBe(sha256(bytes));
      await watch.served();
    });

    it('with the SHA-256 of everything sent declared: INTEGRITY, then BAD_FRAME, and nothing is kept', async () => {
      const bytes = randomBytes(10);
      const surplus = Buffer.concat([Buffer.alloc(4, 0xff), randomBytes(100)]);
      const watch = await arena.watch();
      const { peer, session } = await adminPeer();
      const everything = Buffer.concat([bytes, surplus]);
      peer.send(upload(session, bytes.length, { sha256: sha256(everything) }), everything);
      expectErrorReply(await peer.next(), 'INTEGRITY');
      expectErrorReply(await peer.next(), 'BAD_FRAME');
      expect(await peer.closedWithin(3000)).toBe(true);
      await watch.unharmed();
    });

    it('a surplus that happens to be a whole frame is served as the next request (it is one)', async () => {
      const bytes = randomBytes(10);
      const watch = await arena.watch();
      const { peer, session } = await adminPeer();
      peer.send(upload(session, bytes.length), Buffer.concat([bytes, frame({ type: 'server_info' }), prefixed(-1)]));
      expect(await peer.next()).toMatchObject({ flag: true, movie_id: expect.any(Number) });
      expect(await peer.next()).toMatchObject({ flag: true, version: expect.any(String) });
      expectErrorReply(await peer.next(), 'BAD_FRAME');
      expectOnlyOneNewVideo(await watch.changes(), bytes.length);
      await watch.served();
    });
  });

  it.each(['server_info', 'login', 'check_notice', 'no_such_type'])(
    'a body announced on %s is read and dropped, never parsed as frames',
    async (type) => {
      const watch = await arena.watch();
      const peer = await arena.peer();
      const body = Buffer.concat([encodeFrame({ type: 'register', name: 'smuggled', password: 'p', user_type: 'user' }), randomBytes(500)]);
      peer.send({ type, name: 'nobody', password: 'x', user_type: 'user', session: 'x', file_size: body.length }, body);
      const reply = await peer.next();
      expect(reply).toMatchObject({ flag: type === 'server_info' });
      expect(await peer.request({ type: 'server_info' })).toMatchObject({ flag: true });
      peer.destroy();
      await watch.unharmed();
    },
  );
});

function expectOnlyOneNewVideo(changes: Changes, size: number) {
  expect(Object.keys(changes).sort()).toEqual(['files', 'movie']);
  expect(changes.movie).toEqual({ added: [expect.objectContaining({ size, is_delete: 0, name: 'liar.mp4' })] });
  expect(changes.files).toEqual({ added: [changes.movie!.added![0].path] });
}
