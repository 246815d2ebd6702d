/**
 * The viewer's menu with many videos, driven by a script: the list comes a page (20) at a
 * time with next/previous/search choices, the table shows length and picture size, and
 * "Play a video while it downloads" picks from a search and hands the verified file to the
 * player (a stand-in script that records what it read).
 */
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { runUserMenu } from '../../src/client/ui/menus/user-menu.js';
import { uploadFile } from '../../src/client/upload.js';
import { Movie } from '../../src/orm/models/index.js';
import { insertFactsRows } from '../../src/server/media/facts.js';
import { scriptedIO, type Step } from '../cli/helpers/scripted-io.js';
import { startWorld, type World } from '../helpers/world.js';
import { ffmpegMissing, makeFixtures, type Fixtures } from './fixtures.js';

describe.skipIf(ffmpegMissing)('the viewer menu pages, searches and plays', { timeout: 60_000 }, () => {
  let world: World;
  let files: Fixtures;
  let dir: string;
  let clipId: number;
  const client = () => CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cinebox-menus-'));
    [world, files] = await Promise.all([startWorld('sqlite'), makeFixtures(dir)]);
    const { db } = world.server.app;
    for (let i = 1; i <= 44; i++) {
      const name = i % 4 === 0 ? `功夫熊猫 ${i}` : `film ${String(i).padStart(2, '0')}`;
      const movie = Movie.from({
        name, path: `${String(i).padStart(8, '0')}-0000-0000-0000-000000000000.mp4`, is_free: 1, is_delete: 0,
        create_time: new Date(), file_md5: 'x', sha256: 'ab'.repeat(32), live_sha256: null, size: 1000 + i, user_id: 1,
      });
      await movie.save(db);
      await insertFactsRows(db, movie);
    }
    const admin = await world.loginAs('boss', 'admin');
    clipId = Number((await uploadFile(admin, files.faststart, { isFree: true, name: 'my clip.mp4' })).movie_id);
    await world.server.app.facts.idle();
  }, 60_000);
  afterAll(async () => {
    await world?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists a page at a time, searches, and plays the picked video', async () => {
    const player = join(dir, 'player');
    const record = join(dir, 'played.json');
    await writeFile(player, `#!${process.execPath}\nconst fs = require('node:fs'); const h = require('node:crypto').createHash('sha256');\nconst input = process.argv.at(-1);\n(input === '-' ? process.stdin : fs.createReadStream(input)).on('data', (c) => h.update(c)).on('end', () => fs.writeFileSync(${JSON.stringify(record)}, JSON.stringify({ input, sha256: h.digest('hex') })));\n`);
    await chmod(player, 0o755);
    const steps: Step[] = [
      ['select', 'not logged in', 'Register'],
      ['input', 'New name', 'alice'],
      ['password', 'Password', 'pw'],
      ['password', 'Repeat the password', 'pw'],
      ['select', 'alice', 'List all videos'],
      ['select', 'More?', 'Next page'],
      ['select', 'More?', 'Next page'],
      ['select', 'More?', 'Search by name'],
      ['input', 'Name contains', '熊猫'],
      ['select', 'More?', '← Back'],
      ['select', 'alice', 'Play a video while it downloads'],
      ['select', 'Play which video?', 'Search by name'],
      ['input', 'Name contains', 'CLIP'],
      ['select', 'Play which video?', `#${clipId}`],
      ['select', 'alice', 'Quit'],
    ];
    const io = scriptedIO(steps, { columns: 100 });
    const out = join(dir, 'out');
    const code = await runUserMenu({ client: await client(), io }, { outDir: out, player });
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.warnings).toEqual([]);
    const tables = io.output.flatMap((line, i) => (line.startsWith('ID ') ? [i] : []));
    expect(tables).toHaveLength(4); // pages 1, 2, 3 and the search
    const rowsOf = (t: number) => io.output.slice(tables[t]! + 2, tables[t + 1] ?? undefined).filter((l) => /^ *\d+ /.test(l));
    expect(rowsOf(0).map((l) => Number(l.trim().split(' ')[0]))).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(rowsOf(2).map((l) => Number(l.trim().split(' ')[0]))).toEqual([41, 42, 43, 44, clipId]);
    expect(rowsOf(2).at(-1)).toMatch(/my clip\.mp4 +free .* 0:02 +320x240 /);
    expect(io.output[tables[2]!]).toMatch(/^ID +Name +Type +Size +Length +Picture +Uploaded$/);
    expect(rowsOf(3).map((l) => Number(l.trim().split(' ')[0]))).toEqual([4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44]);
    // The third page is the last: no "Next page" offered there.
    const lastPageChoices = io.asked.filter((a) => a.message === 'More?')[2]!.choices;
    expect(lastPageChoices).not.toContain('Next page →');
    expect(lastPageChoices).toContain('← Previous page');
    const sha = createHash('sha256').update(await readFile(files.faststart)).digest('hex');
    expect(io.output.find((l) => l.startsWith('saved '))).toMatch(/my clip\.mp4 .*SHA-256 verified/);
    expect(JSON.parse(await readFile(record, 'utf8'))).toMatchObject({ sha256: sha });
    expect(createHash('sha256').update(await readFile(join(out, 'my clip.mp4'))).digest('hex')).toBe(sha);
  });
});
