/**
 * Resumable uploads, on SQLite and MySQL: a client process killed mid-upload, a connection
 * cut, a server restarted; each time the next upload of the same file continues from the
 * bytes the server holds, and the stored video is byte for byte the source.
 */
import { existsSync } from 'node:fs';
import { readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection, ServerError } from '../../src/client/connection.js';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { Upload } from '../../src/orm/models/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import type { OpenUpload } from '../../src/server/media-store.js';
import { startServer } from '../../src/server/server.js';
import { startUploadJanitor, sweepExpiredUploads } from '../../src/server/uploads/janitor.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { buildChildClient, fileSha256, MiB, runChild, slowDisk, waitFor } from './helpers.js';

describe.each(databaseKinds)('resumable uploads (%s)', (kind) => {
  let world: World;
  let child: Awaited<ReturnType<typeof buildChildClient>>;
  const LEASE_SECONDS = 1;

  beforeAll(async () => {
    [world, child] = await Promise.all([startWorld(kind, { uploadLeaseSeconds: LEASE_SECONDS }), buildChildClient()]);
    normalDisk = media().openUpload;
  });
  afterAll(async () => {
    await world?.close();
    await child?.remove();
  });

  const db = () => world.server.app.db;
  const media = () => world.server.app.media;
  const incoming = () => readdir(media().incomingDir);
  let normalDisk: OpenUpload;

  /** The partial the server holds for this file: its row (released) and its bytes on disk. */
  async function heldPartial(source: string) {
    const fileMd5 = await quickMd5(source);
    const row = await waitFor(async () => {
      const found = await Upload.selectOne(db(), { file_md5: fileMd5 });
      return found && found.holder === null ? found : undefined;
    }, 'the cut upload to be released');
    const onDisk = (await stat(media().incomingPathOf(row.temp_name))).size;
    return { row, onDisk };
  }

  async function expectStored(movieId: unknown, source: string) {
    const [movie] = await db().query<{ path: string; sha256: string; size: number }>('SELECT path, sha256, size FROM movie WHERE id = ?', [movieId]);
    const { size } = await stat(source);
    expect(Number(movie.size)).toBe(size);
    expect(movie.sha256).toBe(await fileSha256(source));
    expect(await fileSha256(join(world.config.mediaDir, movie.path))).toBe(movie.sha256);
  }

  /** Uploads with a record of where it resumed and how many bytes went over the wire. */
  async function uploadCounting(conn: ClientConnection, source: string) {
    let resumedAt = -1;
    let lastDone = 0;
    const reply = await uploadFile(conn, source, {
      isFree: true,
      onResume: (offset) => (resumedAt = offset),
      onProgress: (done) => (lastDone = done),
    });
    return { reply, resumedAt, lastDone };
  }

  it('continues an upload whose client process was killed, sending only the missing bytes', async () => {
    const admin = await world.loginAs('killer', 'admin');
    const source = await world.makeFile('killed.mp4', 24 * MiB);
    const sha = await fileSha256(source);
    const run = runChild(child.script, ['upload', '127.0.0.1', String(world.server.port), 'killer', 'secret-killer', source], 6 * MiB);
    await run.hung();
    await run.kill();
    const { row, onDisk } = await heldPartial(source);
    expect(onDisk).toBeGreaterThan(0);
    expect(onDisk).toBeLessThan(24 * MiB);
    expect(Number(row.received_bytes)).toBe(onDisk);
    expect(Number(row.total_size)).toBe(24 * MiB);

    const check = await admin.call('check_movie', { file_md5: await quickMd5(source), sha256: sha, size: 24 * MiB });
    expect(check.offset).toBe(onDisk);
    const { reply, resumedAt, lastDone } = await uploadCounting(admin, source);
    expect(resumedAt).toBe(onDisk);
    expect(reply.offset).toBe(onDisk);
    expect(lastDone).toBe(24 * MiB);
    await expectStored(reply.movie_id, source);
    expect(await Upload.count(db(), { file_md5: await quickMd5(source) })).toBe(0);
    expect(await incoming()).toEqual([]);
  });

  it('continues after the connection was cut from this side, and keeps serving meanwhile', async () => {
    const source = await world.makeFile('cut.mp4', 8 * MiB);
    const sha = await fileSha256(source);
    media().openUpload = slowDisk(1);
    const first = await world.loginAs('cutter', 'admin');
    const cut = await uploadFile(first, source, {
      isFree: false,
      onProgress: (done) => {
        if (done >= 3 * MiB) first.close();
      },
    }).catch((error: Error) => error);
    expect(cut).toBeInstanceOf(Error);
    media().openUpload = normalDisk;
    const { onDisk } = await heldPartial(source);
    expect(onDisk).toBeGreaterThan(0);

    const again = await world.loginAs('cutter', 'admin');
    const { reply, resumedAt } = await uploadCounting(again, source);
    expect(resumedAt).toBe(onDisk);
    expect(reply).toMatchObject({ flag: true, offset: onDisk });
    await expectStored(reply.movie_id, source);
  });

  it('continues an upload cut by a server restart, on the new server', async () => {
    const source = await world.makeFile('restart.mp4', 8 * MiB);
    const sha = await fileSha256(source);
    const fileMd5 = await quickMd5(source);
    media().openUpload = slowDisk(2);
    const admin = await world.loginAs('restarter', 'admin');
    const upload = uploadFile(admin, source, { isFree: true }).catch((error: Error) => error);
    await waitFor(async () => {
      const row = await Upload.selectOne(db(), { file_md5: fileMd5 });
      return row && (await media().sizeOf(media().incomingPathOf(row.temp_name))) >= 2 * MiB;
    }, 'the server to hold 2 MiB');
    await world.server.close();
    expect(await upload).toBeInstanceOf(Error);

    const second = await startServer(world.config);
    try {
      // A crashed node cannot release its upload: the lease runs out instead.
      const row = await waitFor(async () => {
        const found = await Upload.selectOne(second.app.db, { file_md5: fileMd5 });
        const idle = found && Date.now() - found.updated_time.getTime() > LEASE_SECONDS * 1000;
        return found && (found.holder === null || idle) ? found : undefined;
      }, 'the lease to run out');
      const onDisk = await second.app.media.sizeOf(second.app.media.incomingPathOf(row.temp_name));
      expect(onDisk).toBeGreaterThanOrEqual(2 * MiB);

      const conn = await ClientConnection.connect({ host: '127.0.0.1', port: second.port });
      try {
        await conn.call('login', { name: 'restarter', password: wirePassword('secret-restarter'), user_type: 'admin' }).then((r) => (conn.session = String(r.session)));
        const { reply, resumedAt } = await uploadCounting(conn, source);
        expect(resumedAt).toBe(onDisk);
        expect(reply.offset).toBe(onDisk);
        const [movie] = await second.app.db.query<{ path: string }>('SELECT path FROM movie WHERE id = ?', [reply.movie_id]);
        expect(await fileSha256(join(world.config.mediaDir, movie.path))).toBe(sha);
      } finally {
        conn.close();
      }
    } finally {
      await second.close();
    }
  });
});

describe.each(databaseKinds)('one writer per partial upload, and expiry (%s)', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld(kind, { uploadLeaseSeconds: 1, uploadExpirySeconds: 3600 });
  });
  afterAll(async () => world?.close());

  const db = () => world.server.app.db;
  const media = () => world.server.app.media;

  /** Cuts an upload of `source` after about `bytes` and returns its released row. */
  async function cutUpload(name: string, source: string, bytes: number) {
    const normal = media().openUpload;
    media().openUpload = slowDisk(1);
    const conn = await world.loginAs(name, 'admin');
    await uploadFile(conn, source, { isFree: true, onProgress: (done) => done >= bytes && conn.close() }).catch(() => undefined);
    media().openUpload = normal;
    const fileMd5 = await quickMd5(source);
    return waitFor(async () => {
      const row = await Upload.selectOne(db(), { file_md5: fileMd5 });
      return row && row.holder === null ? row : undefined;
    }, 'the cut upload to be released');
  }

  it('refuses a second writer while one is live, lets a resume take over a dead one', async () => {
    const source = await world.makeFile('contended.mp4', 4 * MiB);
    const row = await cutUpload('owner', source, 2 * MiB);
    // Another node is writing it (fresh lease): a resume now is refused, and changes nothing.
    await Upload.updateWhere(db(), { holder: 'another-node', updated_time: new Date() }, { id: row.id });
    const owner = await world.loginAs('owner', 'admin');
    const busy = await uploadFile(owner, source, { isFree: true }).catch((error: ServerError) => error);
    expect(busy).toMatchObject({ code: 'CONFLICT' });
    expect(String((busy as Error).message)).toMatch(/another connection/);
    // That node died: its lease runs out and the resume takes over.
    await Upload.updateWhere(db(), { updated_time: new Date(Date.now() - 5000) }, { id: row.id });
    const reply = await uploadFile(owner, source, { isFree: true });
    expect(reply.offset).toBe(Number(row.received_bytes));
    expect(await Upload.count(db(), { id: row.id })).toBe(0);
  });

  it('restarts from 0 when the partial on disk was damaged (the whole file is hashed)', async () => {
    const source = await world.makeFile('damaged.mp4', 4 * MiB);
    const row = await cutUpload('damager', source, 2 * MiB);
    const path = media().incomingPathOf(row.temp_name);
    const handle = await import('node:fs/promises').then((fs) => fs.open(path, 'r+'));
    await handle.write(Buffer.from('garbage!'), 0, 8, 100);
    await handle.close();
    const conn = await world.loginAs('damager', 'admin');
    const offsets: number[] = [];
    const reply = await uploadFile(conn, source, { isFree: true, onResume: (offset) => offsets.push(offset) });
    expect(offsets).toEqual([Number(row.received_bytes)]); // tried to resume once, then sent it all
    expect(reply.offset).toBe(0);
    const [movie] = await db().query<{ path: string }>('SELECT path FROM movie WHERE id = ?', [reply.movie_id]);
    expect(await fileSha256(join(world.config.mediaDir, movie.path))).toBe(await fileSha256(source));
  });

  it('refuses to resume past the bytes held, and a resume without sha256', async () => {
    const source = await world.makeFile('ahead.mp4', 2 * MiB);
    const admin = await world.loginAs('ahead', 'admin');
    const sha = await fileSha256(source);
    const header = { type: 'update_movie', session: admin.session, file_name: 'a.mp4', file_md5: 'm', is_free: 1, sha256: sha, offset: 1000, file_size: 10 };
    const { Readable } = await import('node:stream');
    const reply = await admin.sendWithBody(header, Readable.from([Buffer.alloc(10)]));
    expect(reply).toMatchObject({ flag: false, code: 'RESUME_MISMATCH', offset: 0 });
    const noSha = await admin.sendWithBody({ ...header, sha256: undefined }, Readable.from([Buffer.alloc(10)]));
    expect(noSha).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    expect(await admin.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });

  it('deletes cut uploads nobody resumed within the expiry, and stray temp files as old', async () => {
    const source = await world.makeFile('abandoned.mp4', 4 * MiB);
    const row = await cutUpload('leaver', source, 1 * MiB);
    const partial = media().incomingPathOf(row.temp_name);
    const stray = media().incomingPathOf(media().newTempName());
    const fresh = media().incomingPathOf(media().newTempName());
    await writeFile(stray, 'left by an original client');
    await writeFile(fresh, 'an upload of an original client, running');
    const dayAgo = new Date(Date.now() - 2 * 3600 * 1000);
    await utimes(stray, dayAgo, dayAgo);

    expect(await sweepExpiredUploads(world.server.app)).toBe(1); // only the stray one is old yet
    expect(existsSync(partial)).toBe(true);
    await Upload.updateWhere(db(), { updated_time: dayAgo }, { id: row.id });
    const janitor = startUploadJanitor(world.server.app); // sweeps at once on start
    try {
      await waitFor(async () => (await Upload.count(db(), { id: row.id })) === 0, 'the expired upload to go');
    } finally {
      janitor.stop();
    }
    await waitFor(() => !existsSync(partial), 'its partial file to go');
    expect(existsSync(stray)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    // The next upload of that file starts from 0 again.
    const conn = await world.loginAs('leaver', 'admin');
    expect((await uploadFile(conn, source, { isFree: true })).offset).toBe(0);
  });
});
