/**
 * Resumable downloads, on SQLite and MySQL: a client process killed mid-download, a cut
 * connection, a damaged `.part`, an offset past the end; the final file always has the
 * server's SHA-256, a resumed paid video is not charged twice, and bad bytes never get
 * the final name.
 */
import { existsSync } from 'node:fs';
import { appendFile, copyFile, open, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { downloadMovie, type DownloadOptions } from '../../src/client/download.js';
import { uploadFile } from '../../src/client/upload.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { buildChildClient, fileSha256, MiB, runChild } from './helpers.js';

describe.each(databaseKinds)('resumable downloads (%s)', (kind) => {
  let world: World;
  let child: Awaited<ReturnType<typeof buildChildClient>>;
  let freePath: string;
  let paidPath: string;
  let freeId: number;
  let paidId: number;
  let freeSha: string;
  const FREE_SIZE = 16 * MiB + 3;

  beforeAll(async () => {
    [world, child] = await Promise.all([startWorld(kind), buildChildClient()]);
    const admin = await world.loginAs('boss', 'admin');
    freePath = await world.makeFile('free.mp4', FREE_SIZE);
    paidPath = await world.makeFile('paid.mkv', 12 * MiB); // well past what a cut client has buffered
    freeId = Number((await uploadFile(admin, freePath, { isFree: true })).movie_id);
    paidId = Number((await uploadFile(admin, paidPath, { isFree: false })).movie_id);
    freeSha = await fileSha256(freePath);
  });
  afterAll(async () => {
    await world?.close();
    await child?.remove();
  });

  /** Downloads until about `bytes` arrived, then cuts the connection; returns the `.part` left. */
  async function cutDownload(viewer: ClientConnection, movieId: number, outDir: string, bytes: number, name = 'free.mp4') {
    const cut = await downloadMovie(viewer, movieId, movieId === paidId ? 'charge' : 'free', {
      outDir,
      onProgress: (done) => done >= bytes && viewer.close(),
    }).catch((error: Error) => error);
    expect(cut).toBeInstanceOf(Error);
    const part = join(outDir, `${name}.part`);
    return { part, size: (await stat(part)).size };
  }

  /** A download with a record of where it resumed and whether the final name appeared too early. */
  async function resumeDownload(viewer: ClientConnection, movieId: number, outDir: string, name = 'free.mp4') {
    const resumedAt: number[] = [];
    let finalSeenEarly = false;
    const options: DownloadOptions = {
      outDir,
      onResume: (offset) => resumedAt.push(offset),
      onProgress: () => (finalSeenEarly ||= existsSync(join(outDir, name))),
    };
    const result = await downloadMovie(viewer, movieId, movieId === paidId ? 'charge' : 'free', options);
    return { result, resumedAt, finalSeenEarly };
  }

  async function expectOnlyTheVideo(outDir: string, name: string, sha: string) {
    expect(await readdir(outDir)).toEqual([name]); // no .part, no record left
    expect(await fileSha256(join(outDir, name))).toBe(sha);
  }

  it('continues a download whose client process was killed, asking only for the missing bytes', async () => {
    await world.loginAs('killed', 'user');
    const outDir = join(world.dir, 'killed');
    const run = runChild(child.script, ['download', '127.0.0.1', String(world.server.port), 'killed', 'secret-killed', String(freeId), outDir], 3 * MiB);
    await run.hung();
    await run.kill();
    const { size: held } = await stat(join(outDir, 'free.mp4.part'));
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(FREE_SIZE);
    expect(existsSync(join(outDir, 'free.mp4'))).toBe(false);

    const viewer = await world.loginAs('killed', 'user');
    const { result, resumedAt } = await resumeDownload(viewer, freeId, outDir);
    expect(resumedAt).toEqual([held]);
    expect(result.offset).toBe(held);
    expect(result.reply).toMatchObject({ offset: held, total_size: FREE_SIZE, file_size: FREE_SIZE - held });
    await expectOnlyTheVideo(outDir, 'free.mp4', freeSha);
  });

  it('charges a resumed paid download once', async () => {
    const outDir = join(world.dir, 'paid');
    const first = await world.loginAs('payer', 'user');
    const { size: held } = await cutDownload(first, paidId, outDir, 2 * MiB, 'paid.mkv');
    const again = await world.loginAs('payer', 'user');
    const { result } = await resumeDownload(again, paidId, outDir, 'paid.mkv');
    expect(result.offset).toBe(held);
    expect(result.reply.charged_cents).toBe(0);
    const purchases = await world.server.app.db.query<{ price: number }>(
      "SELECT price FROM purchase WHERE user_id = (SELECT id FROM user WHERE name = 'payer')",
    );
    expect(purchases.map((p) => Number(p.price))).toEqual([world.config.paidPriceNormalCents]);
    await expectOnlyTheVideo(outDir, 'paid.mkv', await fileSha256(paidPath));
  });

  it('detects a damaged partial, never gives it the final name, and starts over from 0', async () => {
    const outDir = join(world.dir, 'damaged');
    const { part, size: held } = await cutDownload(await world.loginAs('damaged', 'user'), freeId, outDir, 4 * MiB);
    const handle = await open(part, 'r+');
    await handle.write(Buffer.from('not the video'), 0, 13, Math.floor(held / 2));
    await handle.close();

    const { result, resumedAt, finalSeenEarly } = await resumeDownload(await world.loginAs('damaged', 'user'), freeId, outDir);
    expect(resumedAt).toEqual([held]); // it continued, found the whole file wrong, and went again from 0
    expect(result.offset).toBe(0);
    expect(finalSeenEarly).toBe(false);
    await expectOnlyTheVideo(outDir, 'free.mp4', freeSha);
  });

  it('starts over from 0 when the partial is longer than the video (offset past the end)', async () => {
    const outDir = join(world.dir, 'too-long');
    const { part } = await cutDownload(await world.loginAs('toolong', 'user'), freeId, outDir, 2 * MiB);
    await appendFile(part, Buffer.alloc(FREE_SIZE)); // now past the end
    const { result, resumedAt } = await resumeDownload(await world.loginAs('toolong', 'user'), freeId, outDir);
    expect(result.reply).toMatchObject({ offset: 0, file_size: FREE_SIZE });
    expect(resumedAt).toEqual([]);
    await expectOnlyTheVideo(outDir, 'free.mp4', freeSha);
  });

  it('finishes a partial that is already whole without any bytes, and ignores partials when told to', async () => {
    const outDir = join(world.dir, 'whole');
    const { part } = await cutDownload(await world.loginAs('whole', 'user'), freeId, outDir, 2 * MiB);
    await copyFile(freePath, part); // as if every byte had arrived just before the cut
    const viewer = await world.loginAs('whole', 'user');
    const { result } = await resumeDownload(viewer, freeId, outDir);
    expect(result.reply).toMatchObject({ offset: FREE_SIZE, file_size: 0 });
    await expectOnlyTheVideo(outDir, 'free.mp4', freeSha);

    const fresh = join(world.dir, 'fresh');
    await cutDownload(viewer, freeId, fresh, 2 * MiB);
    const again = await downloadMovie(await world.loginAs('whole', 'user'), freeId, 'free', { outDir: fresh, resume: false });
    expect(again.offset).toBe(0);
    await expectOnlyTheVideo(fresh, 'free.mp4', freeSha);
  });
});
