/**
 * Two different videos may share a display name; downloading both into one folder must not
 * let the second overwrite the first. The same video downloaded again reuses its file. A
 * file cinebox did not write (the person's own `film.mp4`, a browser's `film.mp4.part`) is
 * never overwritten, not even by a download that is cut and resumed.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadMovie } from '../../src/client/download.js';
import { uploadFile } from '../../src/client/upload.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

const sha = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe.each(databaseKinds)('downloads that share a name (%s)', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld(kind);
  });
  afterAll(async () => world?.close());

  it('keeps both files, and reuses the file of a video downloaded twice', async () => {
    const admin = await world.loginAs('boss', 'admin');
    const first = await world.makeFile('a.bin', 40_000);
    const second = await world.makeFile('b.bin', 40_000);
    const a = await uploadFile(admin, first, { isFree: true, name: 'same.mp4' });
    const b = await uploadFile(admin, second, { isFree: true, name: 'same.mp4' });
    const viewer = await world.loginAs('viewer', 'user');
    const out = join(world.dir, 'downloads');

    const gotA = await downloadMovie(viewer, Number(a.movie_id), 'free', { outDir: out });
    const gotB = await downloadMovie(viewer, Number(b.movie_id), 'free', { outDir: out });
    const again = await downloadMovie(viewer, Number(a.movie_id), 'free', { outDir: out });

    expect(gotA.path).toBe(join(out, 'same.mp4'));
    expect(gotB.path).toBe(join(out, 'same (2).mp4'));
    expect(again.path).toBe(join(out, 'same.mp4'));
    expect(await sha(gotA.path)).toBe(await sha(first));
    expect(await sha(gotB.path)).toBe(await sha(second));
    expect((await readdir(out)).filter((f) => !f.startsWith('.')).sort()).toEqual(['same (2).mp4', 'same.mp4']);
  });

  it('never overwrites a file it did not write: the same name or its .part, also across a cut and a resume', async () => {
    const admin = await world.loginAs('boss2', 'admin');
    const source = await world.makeFile('film-source.bin', 8 * 1024 * 1024 + 5);
    const movie = await uploadFile(admin, source, { isFree: true, name: 'film.mp4' });
    const out = join(world.dir, 'own-downloads');
    await mkdir(out);
    // The person's own files: one of the same name and size, and a browser's partial download.
    const own = Buffer.alloc(8 * 1024 * 1024 + 5, 7);
    const browserPart = Buffer.from('a partial download of some other tool');
    await writeFile(join(out, 'film.mp4'), own);
    await writeFile(join(out, 'film.mp4.part'), browserPart);

    const viewer = await world.loginAs('viewer2', 'user');
    const cut = await downloadMovie(viewer, Number(movie.movie_id), 'free', { outDir: out, onProgress: () => viewer.close() }).catch((e: Error) => e);
    expect(cut).toBeInstanceOf(Error);
    const again = await world.loginAs('viewer2', 'user');
    const got = await downloadMovie(again, Number(movie.movie_id), 'free', { outDir: out });

    expect(got.offset).toBeGreaterThan(0); // it resumed its own part
    expect(got.path).toBe(join(out, 'film (2).mp4'));
    expect(await sha(got.path)).toBe(await sha(source));
    // Compared by hash: toEqual on two 8 MiB buffers takes minutes.
    expect(await sha(join(out, 'film.mp4'))).toBe(createHash('sha256').update(own).digest('hex'));
    expect((await readFile(join(out, 'film.mp4.part'))).equals(browserPart)).toBe(true);
    expect((await readdir(out)).sort()).toEqual(['film (2).mp4', 'film.mp4', 'film.mp4.part']);
  });
});
