/**
 * Bad input gets a clear error and loses nothing: broken frames close only the offending
 * connection, bad requests get `flag: false` and keep the connection in step, and no row
 * or stored file changes that should not.
 */
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { databaseKinds } from '../helpers/databases.js';
import { frame, prefixed, rawExchange } from '../helpers/raw.js';
import { startWorld, type World } from '../helpers/world.js';

describe.each(databaseKinds)('bad input (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;
  let viewer: ClientConnection;
  let movieId: number;

  const count = async (table: string) => Number((await world.server.app.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`))[0].n);
  const mediaFiles = async () => (await readdir(world.config.mediaDir)).filter((f) => f !== '.incoming').sort();
  const incomingFiles = () => readdir(join(world.config.mediaDir, '.incoming'));
  const uploadFailures = () => world.logs.filter((line) => line.msg === 'upload failed');

  beforeAll(async () => {
    world = await startWorld(kind);
    admin = await world.loginAs('admin1', 'admin');
    viewer = await world.loginAs('viewer1', 'user');
    movieId = Number((await uploadFile(admin, await world.makeFile('a.mp4', 100_000), { isFree: true })).movie_id);
  });
  afterAll(async () => world?.close());

  /** A normal client, connected throughout, still gets served. */
  const stillServes = async () => {
    const reply = await viewer.call('get_movie_list', { movie_type: 'all' });
    expect(reply.movie_list).toEqual([['a.mp4', '免费', movieId]]);
  };

  it.each([
    ['a header over the 64 KiB limit', prefixed(64 * 1024 + 1, 'x'), 'HEADER_TOO_LARGE|exceeds'],
    ['a negative length', prefixed(-5, '{}'), 'negative'],
    ['a zero length', prefixed(0), 'prefix is 0'],
    ['invalid UTF-8', prefixed(4, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])), 'UTF-8'],
    ['invalid JSON', prefixed(5, '{"a":'), 'JSON'],
    ['a JSON array', prefixed(2, '[]'), 'object'],
    ['a JSON string', prefixed(5, '"hey"'), 'object'],
    ['JSON null', prefixed(4, 'null'), 'object'],
    ['a negative file_size', frame({ type: 'update_movie', file_size: -1 }), 'file_size'],
    ['a fractional file_size', frame({ type: 'update_movie', file_size: 1.5 }), 'file_size'],
  ])('%s gets an error frame and a closed socket; others keep being served', async (_name, bytes, msg) => {
    const result = await rawExchange(world.server.port, bytes);
    expect(result.closed).toBe(true);
    expect(result.frames).toHaveLength(1);
    expect(result.frames[0]).toMatchObject({ flag: false, code: 'BAD_FRAME' });
    expect(String(result.frames[0].msg)).toMatch(new RegExp(msg, 'i'));
    await stillServes();
  });

  it('answers an unknown type and a missing field with flag false and keeps the connection', async () => {
    const conn = await world.connect();
    expect(await conn.request({ type: 'rm -rf' })).toMatchObject({ flag: false, code: 'UNKNOWN_TYPE' });
    expect(await conn.request({ no: 'type' })).toMatchObject({ flag: false, code: 'UNKNOWN_TYPE' });
    const missing = await conn.request({ type: 'register', name: 'x' });
    expect(missing).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    expect(String(missing.msg)).toContain('password');
    expect(await conn.request({ type: 'get_movie_list', session: 'x', movie_type: 'everything' })).toMatchObject({ flag: false });
    expect(await conn.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });

  it('lets no viewer call an admin function, and changes nothing', async () => {
    const before = { movies: await count('movie'), notices: await count('notice'), files: await mediaFiles() };
    for (const header of [
      { type: 'check_movie', file_md5: 'abc' },
      { type: 'delete_movie', movie_id: movieId },
      { type: 'release_notice', title: 't', content: 'c' },
    ]) {
      expect(await viewer.request({ ...header, session: viewer.session })).toMatchObject({ flag: false, code: 'FORBIDDEN' });
    }
    // An upload's bytes still follow the refused header; they are read and dropped, not parsed as frames.
    const body = Buffer.concat([frame({ type: 'evil' }), randomBytes(1000)]);
    const refused = await viewer.request({
      type: 'update_movie', session: viewer.session, file_name: 'x.mp4', file_size: 0, file_md5: 'm', is_free: 1,
    });
    expect(refused).toMatchObject({ flag: false, code: 'FORBIDDEN' });
    const raw = await rawExchange(
      world.server.port,
      Buffer.concat([frame({ type: 'update_movie', session: 'guess', file_name: 'x', file_size: body.length, file_md5: 'm', is_free: 1 }), body, frame({ type: 'server_info' })]),
      2,
    );
    expect(raw.frames.map((f) => f.code ?? 'ok')).toEqual(['NOT_LOGGED_IN', 'ok']);
    expect({ movies: await count('movie'), notices: await count('notice'), files: await mediaFiles() }).toEqual(before);
    await stillServes();
  });

  it('accepts a session only on its own connection, and not after logout', async () => {
    const other = await world.connect();
    const stolen = await other.request({ type: 'get_movie_list', session: viewer.session, movie_type: 'all' });
    expect(stolen).toMatchObject({ flag: false, code: 'NOT_LOGGED_IN' });
    const temp = await world.loginAs('leaver', 'user');
    const token = temp.session;
    await temp.call('logout', {});
    const after = await temp.request({ type: 'get_movie_list', session: token, movie_type: 'all' });
    expect(after).toMatchObject({ flag: false, code: 'NOT_LOGGED_IN' });
  });

  it('lets exactly one of 20 racing registrations of one name win', async () => {
    const conns = await Promise.all(Array.from({ length: 20 }, () => world.connect()));
    const replies = await Promise.all(
      conns.map((c, i) => c.request({ type: 'register', name: 'racer', password: `pw${i}`, user_type: 'user' })),
    );
    expect(replies.filter((r) => r.flag)).toHaveLength(1);
    expect(replies.filter((r) => !r.flag).every((r) => r.code === 'CONFLICT')).toBe(true);
    const rows = await world.server.app.db.query("SELECT id FROM user WHERE name = 'racer'");
    expect(rows).toHaveLength(1);
  });

  it('rejects an upload whose bytes do not match the declared SHA-256, leaving no file', async () => {
    const before = await mediaFiles();
    const bytes = randomBytes(50_000);
    const reply = await admin.sendWithBody(
      { type: 'update_movie', session: admin.session, file_name: 'bad.mp4', file_size: bytes.length, file_md5: 'm1', is_free: 1, sha256: '0'.repeat(64) },
      Readable.from([bytes]),
    );
    expect(reply).toMatchObject({ flag: false, code: 'INTEGRITY' });
    expect(await mediaFiles()).toEqual(before);
    expect(await incomingFiles()).toEqual([]);
    expect(await count('movie')).toBe(1);
    await stillServes();
  });

  it('keeps nothing of an upload whose client vanished mid-body', async () => {
    const before = await mediaFiles();
    const failuresBefore = uploadFailures().length;
    const socket = connect({ host: '127.0.0.1', port: world.server.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const login = await rawLogin(socket);
    socket.write(frame({ type: 'update_movie', session: login, file_name: 'cut.mp4', file_size: 1_000_000, file_md5: 'm2', is_free: 1 }));
    socket.write(randomBytes(300_000));
    // The partial exists and holds what was sent before the client vanishes, so "no partial"
    // below means it was deleted, not that it was not there yet.
    const serverSide = () => [...world.server.connections].find((c) => c.socket.remotePort === socket.localPort);
    await waitFor(async () => (await incomingFiles()).length === 1 && (serverSide()?.socket.bytesRead ?? 0) >= socket.bytesWritten);
    socket.destroy();
    // The server has given up on the upload (it logs that after deleting the partial).
    await waitFor(async () => uploadFailures().length > failuresBefore);
    expect(uploadFailures().at(-1)).toMatchObject({ name: 'cut.mp4', received: 300_000, total: 1_000_000 });
    expect(await incomingFiles()).toEqual([]);
    expect(await mediaFiles()).toEqual(before);
    expect(await count('movie')).toBe(1);
    await stillServes();
  });
});

async function rawLogin(socket: import('node:net').Socket): Promise<string> {
  const { wirePassword } = await import('../../src/protocol/wire-password.js');
  socket.write(frame({ type: 'login', name: 'admin1', password: wirePassword('secret-admin1'), user_type: 'admin' }));
  const reply = await new Promise<Buffer>((resolve) => socket.once('data', resolve));
  return JSON.parse(reply.subarray(4).toString()).session;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
