/**
 * Uploads that send their SHA-256 after the bytes (`sha256_trailer`), on SQLite and MySQL:
 * the client reads the file once, hashing while it sends; the server checks the trailer
 * against its own hash of what it received, and finds a cut upload again by size and quick
 * fingerprint, which is only a hint: the whole file is checked at the end.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { Movie, Upload } from '../../src/orm/models/index.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { fileSha256, MiB, sha256, waitFor } from './helpers.js';

type Header = Record<string, unknown> & { file_size: number };

describe.each(databaseKinds)('uploads that send their SHA-256 after the bytes (%s)', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld(kind, { uploadLeaseSeconds: 1 });
  });
  afterAll(async () => world?.close());

  const db = () => world.server.app.db;
  const incoming = () => readdir(world.server.app.media.incomingDir);

  /** Records every header the client sends with a body (what went on the wire first). */
  function recordHeaders(conn: ClientConnection): Header[] {
    const headers: Header[] = [];
    const send = conn.sendWithBody.bind(conn);
    conn.sendWithBody = (header, body, trailer) => {
      headers.push(header);
      return send(header, body, trailer);
    };
    return headers;
  }

  function uploadHeader(conn: ClientConnection, bytes: Buffer, fields: Record<string, unknown> = {}): Header {
    return { type: 'update_movie', session: conn.session, file_name: 'raw.mp4', file_size: bytes.length, file_md5: 'raw-md5', is_free: 1, sha256_trailer: true, ...fields };
  }

  const trailer = (digest: string) => () => Promise.resolve({ type: 'upload_sha256', sha256: digest });

  async function releasedRow(fileMd5: string) {
    return waitFor(async () => {
      const row = await Upload.selectOne(db(), { file_md5: fileMd5 });
      return row && row.holder === null ? row : undefined;
    }, 'the cut upload to be released');
  }

  it('reads a new file once: no SHA-256 before the bytes, the trailer after them, stored byte for byte', async () => {
    const admin = await world.loginAs('once', 'admin');
    const headers = recordHeaders(admin);
    const source = await world.makeFile('once.mp4', 12 * MiB);
    let hashed = 0;
    const reply = await uploadFile(admin, source, { isFree: true, onHashProgress: (done) => (hashed = done) });
    expect(hashed).toBe(0);
    expect(headers).toHaveLength(1);
    expect(headers[0]).toMatchObject({ type: 'update_movie', sha256_trailer: true, file_size: 12 * MiB });
    expect(headers[0]).not.toHaveProperty('sha256');
    const movie = (await Movie.selectOne(db(), { id: Number(reply.movie_id) }))!;
    expect(movie.sha256).toBe(await fileSha256(source));
    expect(sha256(await readFile(join(world.config.mediaDir, movie.path)))).toBe(movie.sha256);
    expect(await Upload.count(db(), { file_md5: await quickMd5(source) })).toBe(0);
  });

  it('a trailer that does not match the bytes: INTEGRITY, no video, no partial, the connection still serves', async () => {
    const admin = await world.loginAs('liar', 'admin');
    const bytes = Buffer.alloc(3 * MiB, 5);
    const reply = await admin.sendWithBody(uploadHeader(admin, bytes, { file_md5: 'liar-md5' }), Readable.from([bytes]), trailer('0'.repeat(64)));
    expect(reply).toMatchObject({ flag: false, code: 'INTEGRITY' });
    expect(await Movie.count(db(), { sha256: sha256(bytes) })).toBe(0);
    expect(await Upload.count(db(), { file_md5: 'liar-md5' })).toBe(0);
    expect(await incoming()).toEqual([]);
    expect(await admin.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });

  it('a trailer that differs from the sha256 before the bytes is refused, and keeps the bytes for a resume', async () => {
    const admin = await world.loginAs('twofaced', 'admin');
    const bytes = Buffer.alloc(1 * MiB, 6);
    const header = uploadHeader(admin, bytes, { file_md5: 'twofaced-md5', sha256: sha256(bytes) });
    const reply = await admin.sendWithBody(header, Readable.from([bytes]), trailer('1'.repeat(64)));
    expect(reply).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    expect(reply.msg).toMatch(/differs/);
    expect(await Movie.count(db(), { sha256: sha256(bytes) })).toBe(0);
    expect(Number((await releasedRow('twofaced-md5')).received_bytes)).toBe(bytes.length);
    expect(await admin.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });

  it('a frame with bytes of its own where the trailer belongs breaks the framing: BAD_FRAME, closed; the partial stays, others are served', async () => {
    const admin = await world.loginAs('framer', 'admin');
    const bytes = Buffer.alloc(64 * 1024, 7);
    const bad = () => Promise.resolve({ type: 'upload_sha256', sha256: sha256(bytes), file_size: 5 });
    const reply = await admin.sendWithBody(uploadHeader(admin, bytes, { file_md5: 'framer-md5' }), Readable.from([bytes]), bad);
    expect(reply).toMatchObject({ flag: false, code: 'BAD_FRAME' });
    await expect(admin.request({ type: 'server_info' })).rejects.toThrow();
    expect(Number((await releasedRow('framer-md5')).received_bytes)).toBe(bytes.length);
    const other = await world.loginAs('framer-bystander', 'user');
    expect(await other.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });

  it('only update_movie has a trailer: another type carrying sha256_trailer and bytes is answered without waiting for one', async () => {
    const admin = await world.loginAs('nottrailed', 'admin');
    const header = { type: 'check_movie', session: admin.session, file_md5: 'x', sha256_trailer: true, file_size: 10 };
    const reply = await admin.sendWithBody(header, Readable.from([Buffer.alloc(10)]));
    expect(reply).toMatchObject({ flag: true });
    expect(await admin.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });

  it('a client that leaves before its trailer keeps every byte; the next upload sends none, only the trailer', async () => {
    const source = await world.makeFile('untrailed.mp4', 5 * MiB);
    const fileMd5 = await quickMd5(source);
    const bytes = await readFile(source);
    const first = await world.loginAs('untrailed', 'admin');
    const leave = () => Promise.reject(new Error('client killed before its trailer'));
    const header = uploadHeader(first, bytes, { file_md5: fileMd5, file_name: 'untrailed.mp4' });
    await expect(first.sendWithBody(header, Readable.from([bytes]), leave)).rejects.toThrow(/killed/);
    const row = await releasedRow(fileMd5);
    expect(Number(row.received_bytes)).toBe(5 * MiB);

    const again = await world.loginAs('untrailed', 'admin');
    const headers = recordHeaders(again);
    let resumedAt = -1;
    const reply = await uploadFile(again, source, { isFree: true, onResume: (offset) => (resumedAt = offset) });
    expect(resumedAt).toBe(5 * MiB);
    expect(headers).toEqual([expect.objectContaining({ file_size: 0, offset: 5 * MiB, sha256_trailer: true })]);
    expect(reply).toMatchObject({ flag: true, offset: 5 * MiB, sha256: sha256(bytes) });
    expect(await Upload.count(db(), { id: row.id })).toBe(0);
  });

  it('a trailer that comes after another attempt took the partial over publishes nothing: CONFLICT, the partial is left to its new owner', async () => {
    const admin = await world.loginAs('late', 'admin');
    const bytes = Buffer.alloc(2 * MiB, 8);
    const late = async () => {
      // While the client dawdles, another node takes the partial over (its lease is fresh).
      const row = await waitFor(() => Upload.selectOne(db(), { file_md5: 'late-md5' }), 'the upload row');
      await waitFor(async () => (await world.server.app.media.sizeOf(world.server.app.media.incomingPathOf(row.temp_name))) === bytes.length, 'every byte on disk');
      await Upload.updateWhere(db(), { holder: 'another-node', updated_time: new Date() }, { id: row.id });
      return { type: 'upload_sha256', sha256: sha256(bytes) };
    };
    const reply = await admin.sendWithBody(uploadHeader(admin, bytes, { file_md5: 'late-md5' }), Readable.from([bytes]), late);
    expect(reply).toMatchObject({ flag: false, code: 'CONFLICT' });
    expect(await Movie.count(db(), { sha256: sha256(bytes) })).toBe(0);
    const row = (await Upload.selectOne(db(), { file_md5: 'late-md5' }))!;
    expect(row.holder).toBe('another-node');
    expect(await world.server.app.media.sizeOf(world.server.app.media.incomingPathOf(row.temp_name))).toBe(bytes.length);
  });

  it('hashes first when a stored video has the same quick fingerprint: a duplicate is refused before any byte is sent', async () => {
    const admin = await world.loginAs('twice', 'admin');
    const source = await world.makeFile('twice.mp4', 2 * MiB);
    await uploadFile(admin, source, { isFree: true });
    const headers = recordHeaders(admin);
    let hashed = 0;
    let sent = 0;
    const error = await uploadFile(admin, source, { isFree: true, onHashProgress: (done) => (hashed = done), onProgress: (done) => (sent = done) }).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'CONFLICT' });
    expect(hashed).toBe(2 * MiB);
    expect(sent).toBe(0);
    expect(headers).toEqual([]);
  });

  it('a look-alike of a stored video (same size and fingerprint, other bytes) is hashed first, then uploaded with its sha256 up front', async () => {
    const admin = await world.loginAs('lookalike', 'admin');
    const [original, lookalike] = await lookAlikes('stored', 3 * MiB);
    await uploadFile(admin, original, { isFree: true });
    const headers = recordHeaders(admin);
    const reply = await uploadFile(admin, lookalike, { isFree: true });
    expect(headers).toEqual([expect.objectContaining({ sha256: await fileSha256(lookalike) })]);
    expect(headers[0]).not.toHaveProperty('sha256_trailer');
    const movie = (await Movie.selectOne(db(), { id: Number(reply.movie_id) }))!;
    expect(sha256(await readFile(join(world.config.mediaDir, movie.path)))).toBe(await fileSha256(lookalike));
  });

  it("continues a cut upload's look-alike partial, finds out at the end, and starts over: the right file is stored", async () => {
    const admin = await world.loginAs('mixup', 'admin');
    const [first, second] = await lookAlikes('partial', 4 * MiB);
    const fileMd5 = await quickMd5(first);
    expect(await quickMd5(second)).toBe(fileMd5);
    // The first file's upload is cut after half of it.
    const firstBytes = await readFile(first);
    const cutConn = await world.loginAs('mixup', 'admin');
    const media = world.server.app.media;
    const half = async function* () {
      yield firstBytes.subarray(0, 2 * MiB);
      await waitFor(async () => {
        const row = await Upload.selectOne(db(), { file_md5: fileMd5 });
        return row && (await media.sizeOf(media.incomingPathOf(row.temp_name))) === 2 * MiB;
      }, 'the server to hold the first half');
      cutConn.close();
    };
    await cutConn.sendWithBody(uploadHeader(cutConn, firstBytes, { file_md5: fileMd5 }), Readable.from(half()), trailer(sha256(firstBytes))).catch(() => undefined);
    const partial = await releasedRow(fileMd5);
    expect(Number(partial.received_bytes)).toBe(2 * MiB);

    const offsets: number[] = [];
    const reply = await uploadFile(admin, second, { isFree: true, onResume: (offset) => offsets.push(offset) });
    expect(offsets).toEqual([2 * MiB]); // tried the partial once...
    expect(reply).toMatchObject({ flag: true, offset: 0 }); // ...then sent the whole file
    const movie = (await Movie.selectOne(db(), { id: Number(reply.movie_id) }))!;
    expect(sha256(await readFile(join(world.config.mediaDir, movie.path)))).toBe(await fileSha256(second));
    expect(await Upload.count(db(), { file_md5: fileMd5 })).toBe(0);
  });

  /**
   * Two files of `size` random bytes that agree on the 40 bytes the quick fingerprint reads
   * (at 0, size/3, 2*size/3 and size-10) and differ everywhere else.
   */
  async function lookAlikes(name: string, size: number): Promise<[string, string]> {
    const a = join(world.dir, `${name}-a.mp4`);
    const b = join(world.dir, `${name}-b.mp4`);
    const bytesA = await readFile(await world.makeFile(`${name}-a.mp4`, size));
    const bytesB = await readFile(await world.makeFile(`${name}-b.mp4`, size));
    const third = Math.floor(size / 3);
    for (const at of [0, third, third * 2, size - 10]) bytesA.copy(bytesB, at, at, at + 10);
    await writeFile(b, bytesB);
    return [a, b];
  }
});
