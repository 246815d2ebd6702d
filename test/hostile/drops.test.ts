/**
 * Five hundred admins' connections dropped in the middle of their uploads, all at once.
 * Nothing is published and no movie row appears. What stays under media/.incoming/ follows
 * src/server/admin.ts and uploads.ts as they are: an original client's upload (no SHA-256)
 * is deleted; one that declared its SHA-256 is kept as a resumable partial (every byte sent,
 * with a released `upload` row), and one of them is resumed to prove it.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { sha256, startArena, waitFor, type Arena, type Peer } from './arena.js';


const DROPPED = 500;
const FILE_BYTES = 256 * 1024;
const SENT_BYTES = 64 * 1024;

describe.each(databaseKinds)('uploads dropped mid-way (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind);
  });
  afterAll(async () => arena?.close());

  const incoming = async () => readdir(join(arena.world.config.mediaDir, '.incoming'));

  /** Whether the server's end of each peer's connection has read all that peer wrote. */
  function allBytesRead(peers: Peer[]): boolean {
    const readBy = new Map<string, number>();
    for (const conn of arena.world.server.connections) readBy.set(`${conn.socket.remoteAddress}:${conn.socket.remotePort}`, conn.socket.bytesRead);
    return peers.every((peer) => (readBy.get(`${peer.local.address}:${peer.local.port}`) ?? -1) >= peer.socket.bytesWritten);
  }

  it(`${DROPPED} connections cut in the middle of an upload leave no video and only resumable partials`, { timeout: 60_000 }, async () => {
    const watch = await arena.watch();
    const files = Array.from({ length: DROPPED }, () => randomBytes(FILE_BYTES));
    const resumable = (i: number) => i % 2 === 0; // half declare their SHA-256, half are original clients
    const peers: Peer[] = await Promise.all(files.map(() => arena.peer()));
    await Promise.all(
      peers.map(async (peer, i) => {
        const login = await peer.request({ type: 'login', name: 'curator', password: wirePassword('secret-curator'), user_type: 'admin' }, undefined, 30_000);
        expect(login.flag).toBe(true);
        const header = {
          type: 'update_movie',
          session: login.session,
          file_name: `dropped-${i}.mp4`,
          file_size: FILE_BYTES,
          file_md5: `dropped-${i}`,
          is_free: 1,
          ...(resumable(i) ? { sha256: sha256(files[i]) } : {}),
        };
        peer.send(header, files[i].subarray(0, SENT_BYTES));
      }),
    );
    // Every upload has begun on the server (its temp file exists) and the server has read
    // every byte sent; then all are cut at once.
    await waitFor(async () => (await incoming()).length === DROPPED, 30_000, 'every upload to begin');
    await waitFor(() => allBytesRead(peers), 30_000, 'the server to read every byte sent');
    peers.forEach((peer) => peer.destroy());
    await waitFor(() => peers.every((peer) => !arena.serves(peer.local)), 15_000, 'the server to let go of them');
    await waitFor(async () => (await incoming()).length === DROPPED / 2, 15_000, 'the original clients\' partials to be deleted');
    for (const peer of peers) expect(peer.replies).toHaveLength(1); // the login; no upload ever completed

    const changes = await watch.changes();
    expect(Object.keys(changes)).toEqual(['files']);
    expect(changes.files!.removed ?? changes.files!.changed).toBeUndefined();
    expect(changes.files!.added).toHaveLength(DROPPED / 2);
    for (const name of changes.files!.added!) expect(name).toMatch(/^\.incoming\/[0-9a-f-]{36}\.part$/);

    // Each kept partial holds exactly the bytes its declared file's client sent, recorded in a
    // released upload row (a cut upload syncs its partial before it lets go of the row).
    await waitFor(
      async () => (await arena.rows<{ n: number }>('SELECT COUNT(*) AS n FROM upload WHERE holder IS NOT NULL'))[0].n == 0,
      15_000,
      'the cut uploads to release their rows',
    );
    const rows = await arena.rows<{ sha256: string; temp_name: string; holder: string | null; total_size: number; received_bytes: number }>(
      'SELECT sha256, temp_name, holder, total_size, received_bytes FROM upload',
    );
    expect(rows).toHaveLength(DROPPED / 2);
    const bySha = new Map(files.filter((_, i) => resumable(i)).map((f) => [sha256(f), f]));
    for (const row of rows) {
      expect(row.holder).toBeNull();
      expect(Number(row.total_size)).toBe(FILE_BYTES);
      expect(Number(row.received_bytes)).toBe(SENT_BYTES);
      const file = bySha.get(row.sha256)!;
      expect(file).toBeDefined();
      const partial = await readFile(join(arena.world.config.mediaDir, '.incoming', row.temp_name));
      expect(partial.length).toBe(SENT_BYTES);
      expect(sha256(partial)).toBe(sha256(file.subarray(0, SENT_BYTES)));
    }
    expect(new Set(rows.map((row) => row.sha256)).size).toBe(DROPPED / 2);
    await watch.served();

    // One of them, resumed where the server says, becomes a whole video.
    const admin = await arena.world.loginAs('curator', 'admin');
    const whole = files[0];
    const check = await admin.call('check_movie', { file_md5: 'dropped-0', sha256: sha256(whole), size: whole.length });
    const offset = Number(check.offset);
    const rest = whole.subarray(offset);
    const done = await admin.sendWithBody(
      { type: 'update_movie', session: admin.session, file_name: 'dropped-0.mp4', file_size: rest.length, file_md5: 'dropped-0', is_free: 1, sha256: sha256(whole), offset },
      Readable.from([rest]),
    );
    expect(done).toMatchObject({ flag: true });
    const [movie] = await arena.rows<{ path: string }>('SELECT path FROM movie WHERE id = ?', [Number(done.movie_id)]);
    expect(sha256(await readFile(join(arena.world.config.mediaDir, movie.path)))).toBe(sha256(whole));
    expect(await incoming()).toHaveLength(DROPPED / 2 - 1);
  });
});
