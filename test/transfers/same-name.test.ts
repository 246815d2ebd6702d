/**
 * Two different videos may share a display name; downloading both into one folder must not
 * let the second overwrite the first. The same video downloaded again reuses its file.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
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
});
