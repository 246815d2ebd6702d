/**
 * `cinebox media scan`, the operator's command, run as a child process against the
 * database and media directory of a running server (SQLite and MySQL): videos stored
 * without facts (no ffprobe then, or stored before media_facts existed, so without even a
 * row) get them; a second scan has nothing left to do; --again probes every video.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { MediaFacts } from '../../src/orm/models/index.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { runCli } from '../cli/helpers/run-cli.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { ffmpegMissing, ffprobeFacts, makeFixtures, type Fixtures } from './fixtures.js';

describe.skipIf(ffmpegMissing).each(databaseKinds)('cinebox media scan (%s)', { timeout: 120_000 }, (kind) => {
  let main: string;
  let world: World;
  let admin: ClientConnection;
  let files: Fixtures;
  const ids: Record<string, number> = {};

  beforeAll(async () => {
    // A server without ffprobe stores videos without facts.
    [main, world] = await Promise.all([builtCli(), startWorld(kind, { ffprobePath: '' })]);
    await mkdir(join(world.dir, 'fixtures'));
    files = await makeFixtures(join(world.dir, 'fixtures'));
    admin = await world.loginAs('boss', 'admin');
    for (const key of ['faststart', 'webm', 'random'] as const) {
      ids[key] = Number((await uploadFile(admin, files[key], { isFree: true, name: `${key} 视频` })).movie_id);
    }
    // As if webm had been stored before media_facts existed: no row at all.
    await MediaFacts.deleteWhere(world.server.app.db, { movie_id: ids.webm! });
  }, 120_000);
  afterAll(() => world?.close());

  const scan = (...args: string[]) => runCli(main, ['media', 'scan', '--db', world.config.db, '--media-dir', world.config.mediaDir, ...args], { cwd: world.dir });
  const facts = async () => {
    const reply = await admin.call('get_movie_list', { movie_type: 'all', facts: true });
    return new Map((reply.movies as { id: number; facts: unknown }[]).map((m) => [m.id, m.facts]));
  };

  it('fills in the facts of every video that has none, a row too where it was missing', async () => {
    expect([...(await facts()).values()]).toEqual([null, null, null]);
    const first = await scan();
    expect(first.stderr).not.toContain('cinebox:');
    expect(first.code).toBe(0);
    expect(first.stdout.trim()).toBe('scanned 3 videos: 2 with facts, 1 unknown format, 0 not probed (timeout or crash), 0 missing files');
    const now = await facts();
    expect(now.get(ids.faststart!)).toEqual({ ...(await ffprobeFacts(files.faststart)), streamable: true });
    expect(now.get(ids.webm!)).toEqual({ ...(await ffprobeFacts(files.webm)), streamable: true });
    expect(now.get(ids.random!)).toMatchObject({ format: 'unknown' });
    // The recreated row carries the search key: the video is found by name again.
    const found = await admin.call('get_movie_list', { movie_type: 'all', search: 'WEBM 视' });
    expect((found.movie_list as [string, string, number][]).map(([, , id]) => id)).toEqual([ids.webm]);
  });

  it('has nothing left to do the second time; --again probes every video', async () => {
    expect(JSON.parse((await scan('--json')).stdout)).toEqual({ scanned: 0, withFacts: 0, unknownFormat: 0, notProbed: 0, missingFiles: 0 });
    expect(JSON.parse((await scan('--again', '--json')).stdout)).toEqual({ scanned: 3, withFacts: 2, unknownFormat: 1, notProbed: 0, missingFiles: 0 });
  });

  it('says so in one line when ffprobe cannot run', async () => {
    const result = await scan('--ffprobe', join(world.dir, 'no-ffprobe'));
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^cinebox: ffprobe \(.*no-ffprobe\) cannot run: install ffmpeg or pass --ffprobe$/);
  });
});
