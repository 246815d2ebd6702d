/**
 * Uploads of the same file that finish together: the database's unique `live_sha256`
 * lets exactly one become a video, on any number of connections (or nodes).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/upload.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

describe.each(databaseKinds)('racing uploads of one file (%s)', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld(kind);
  });
  afterAll(async () => world?.close());

  const mediaFiles = async () => (await readdir(world.config.mediaDir)).filter((f) => !f.startsWith('.'));

  it.each([
    ['original clients (no sha256), one admin', false],
    ['resumable uploads (sha256), different admins', true],
  ])('%s: exactly one video', async (label, withSha) => {
    const bytes = randomBytes(200_000);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const tag = withSha ? 'b' : 'a';
    const admins = withSha
      ? await Promise.all(Array.from({ length: 8 }, (_, i) => world.loginAs(`racer-${tag}${i}`, 'admin')))
      : await (async () => {
          const first = await world.loginAs(`racer-${tag}`, 'admin');
          const others = await Promise.all(Array.from({ length: 7 }, () => world.connect()));
          for (const conn of others) {
            await conn.call('login', { name: `racer-${tag}`, password: wirePassword(`secret-racer-${tag}`), user_type: 'admin' });
          }
          return [first, ...others];
        })();
    const before = (await mediaFiles()).length;
    const replies = await Promise.all(
      admins.map((conn) =>
        conn.sendWithBody(
          {
            type: 'update_movie', session: conn.session, file_name: `${label}.mp4`, file_size: bytes.length, file_md5: 'same', is_free: 1,
            ...(withSha ? { sha256 } : {}),
          },
          Readable.from([bytes]),
        ),
      ),
    );
    expect(replies.filter((r) => r.flag)).toHaveLength(1);
    expect(replies.filter((r) => !r.flag).every((r) => r.code === 'CONFLICT')).toBe(true);
    const rows = await world.server.app.db.query('SELECT id FROM movie WHERE sha256 = ?', [sha256]);
    expect(rows).toHaveLength(1);
    expect((await mediaFiles()).length).toBe(before + 1);
    expect(await readdir(world.config.mediaDir + '/.incoming')).toEqual([]);
  });

  it('lets a deleted video be uploaded again', async () => {
    const admin = await world.loginAs('again', 'admin');
    const path = await world.makeFile('again.mp4', 10_000);
    const first = await uploadFile(admin, path, { isFree: true });
    await admin.call('delete_movie', { movie_id: Number(first.movie_id) });
    const second = await uploadFile(admin, path, { isFree: true });
    expect(second.movie_id).not.toBe(first.movie_id);
  });
});
