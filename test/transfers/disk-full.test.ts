/**
 * A full disk on the server (ENOSPC, simulated through the media store's injectable file
 * writer), on SQLite and MySQL: the uploader gets STORAGE_FULL, everyone else is served,
 * and the bytes that did fit are kept and resumed once there is room.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerError } from '../../src/client/connection.js';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { Upload } from '../../src/orm/models/index.js';
import type { OpenUpload } from '../../src/server/media-store.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { diskFullAfter, fileSha256, MiB } from './helpers.js';

describe.each(databaseKinds)('a full disk (%s)', (kind) => {
  let world: World;
  let normalDisk: OpenUpload;

  beforeAll(async () => {
    world = await startWorld(kind);
    normalDisk = world.server.app.media.openUpload;
  });
  afterAll(async () => world?.close());

  it('answers STORAGE_FULL, serves the next client, keeps the partial and resumes it', async () => {
    const admin = await world.loginAs('boss', 'admin');
    const viewer = await world.loginAs('vera', 'user');
    const source = await world.makeFile('big.mp4', 6 * MiB);
    const sha = await fileSha256(source);
    const room = 2 * MiB + 12345;
    world.server.app.media.openUpload = diskFullAfter(room);

    const error = (await uploadFile(admin, source, { isFree: true }).then(() => undefined, (e: unknown) => e)) as ServerError;
    expect(error).toMatchObject({ code: 'STORAGE_FULL' });
    expect(error.message).toBe(`the server's storage is full: ${room} of ${6 * MiB} bytes of this upload are kept, resume it later`);
    expect(error.reply?.offset).toBe(room);

    // The server is up: the same connection and another client are served.
    expect(await admin.request({ type: 'server_info' })).toMatchObject({ flag: true });
    expect(await viewer.request({ type: 'get_movie_list', session: viewer.session, movie_type: 'all' })).toMatchObject({ flag: false, msg: 'no videos yet' });
    const fresh = await world.loginAs('newcomer', 'user');
    expect(await fresh.request({ type: 'server_info' })).toMatchObject({ flag: true });

    const row = (await Upload.selectOne(world.server.app.db, { file_md5: await quickMd5(source) }))!;
    expect(row).toMatchObject({ holder: null, received_bytes: room, total_size: 6 * MiB });
    expect(await world.server.app.media.sizeOf(world.server.app.media.incomingPathOf(row.temp_name))).toBe(room);

    // Space was freed: the upload continues from the bytes that fit.
    world.server.app.media.openUpload = normalDisk;
    let resumedAt = -1;
    const reply = await uploadFile(admin, source, { isFree: true, onResume: (offset) => (resumedAt = offset) });
    expect(resumedAt).toBe(room);
    expect(reply).toMatchObject({ flag: true, offset: room, sha256: sha });
    const [movie] = await world.server.app.db.query<{ path: string }>('SELECT path FROM movie WHERE id = ?', [reply.movie_id]);
    expect(await fileSha256(join(world.config.mediaDir, movie.path))).toBe(sha);
    expect(await readdir(world.server.app.media.incomingDir)).toEqual([]);
  });

  it('answers STORAGE_FULL to an original client too (nothing to resume there)', async () => {
    const admin = await world.loginAs('oldtimer', 'admin');
    world.server.app.media.openUpload = diskFullAfter(100_000);
    try {
      const header = { type: 'update_movie', session: admin.session, file_name: 'old.mp4', file_size: 1 * MiB, file_md5: 'abc', is_free: 1 };
      const reply = await admin.sendWithBody(header, Readable.from([Buffer.alloc(1 * MiB, 7)]));
      expect(reply).toMatchObject({ flag: false, code: 'STORAGE_FULL' });
      expect(await admin.request({ type: 'server_info' })).toMatchObject({ flag: true });
      expect(await readdir(world.server.app.media.incomingDir)).toEqual([]);
    } finally {
      world.server.app.media.openUpload = normalDisk;
    }
  });
});
