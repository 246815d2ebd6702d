/**
 * `cinebox user play` as a person runs it, against a real server behind a proxy that slows
 * the download to ~3 MB/s, with a stand-in player: a script that records when it started,
 * what it was given, whether the download was complete at that moment, and the SHA-256 of
 * every byte it read. A faststart MP4 plays while it arrives (from standard input); an MP4
 * with its index last plays once complete, and the command says so. Either way the kept
 * file is verified, and a paid video is charged once.
 */
import { createHash } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/upload.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { runCli } from '../cli/helpers/run-cli.js';
import { startSlowProxy, type SlowProxy } from '../helpers/slow-proxy.js';
import { startWorld, type World } from '../helpers/world.js';
import { ffmpegMissing, makeNoiseVideo } from './fixtures.js';

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

interface PlayerRecord {
  startedAt: number;
  args: string[];
  input: string;
  completeAtStart: boolean;
  partBytesAtStart: number | null;
  bytes: number;
  sha256: string;
}

const PLAYER = `#!${process.execPath}
const fs = require('node:fs');
const crypto = require('node:crypto');
const startedAt = Date.now();
const final = process.env.PLAY_FINAL;
const completeAtStart = fs.existsSync(final);
const partBytesAtStart = fs.existsSync(final + '.part') ? fs.statSync(final + '.part').size : null;
const input = process.argv[process.argv.length - 1];
const hash = crypto.createHash('sha256');
let bytes = 0;
const stream = input === '-' ? process.stdin : fs.createReadStream(input);
stream.on('data', (chunk) => { hash.update(chunk); bytes += chunk.length; });
stream.on('end', () => {
  const record = { startedAt, args: process.argv.slice(2), input, completeAtStart, partBytesAtStart, bytes, sha256: hash.digest('hex') };
  fs.writeFileSync(process.env.PLAY_RECORD, JSON.stringify(record));
});
`;

describe.skipIf(ffmpegMissing)('cinebox user play', { timeout: 120_000 }, () => {
  let main: string;
  let world: World;
  let proxy: SlowProxy;
  let work: string;
  let player: string;
  let playersDir: string;
  const files: Record<string, { path: string; id: number; sha: string; size: number }> = {};
  const viewer = { CINEBOX_NAME: 'alice', CINEBOX_PASSWORD: 'alice-pw' };

  beforeAll(async () => {
    [main, world] = await Promise.all([builtCli(), startWorld('sqlite', { paidPriceNormalCents: 1000 })]);
    work = join(world.dir, 'work');
    playersDir = join(world.dir, 'players');
    await Promise.all([mkdir(work), mkdir(playersDir)]);
    player = join(world.dir, 'stand-in-player');
    await writeFile(player, PLAYER);
    await chmod(player, 0o755);
    await writeFile(join(playersDir, 'mpv'), PLAYER); // found on PATH as "mpv"
    await chmod(join(playersDir, 'mpv'), 0o755);
    const admin = await world.loginAs('boss', 'admin');
    for (const [key, faststart, isFree] of [['fast', true, true], ['last', false, false]] as const) {
      const path = await makeNoiseVideo(join(world.dir, `${key}.mp4`), 2, faststart);
      const reply = await uploadFile(admin, path, { isFree, name: `${key}.mp4` });
      const { size } = await import('node:fs/promises').then((fs) => fs.stat(path));
      files[key] = { path, id: Number(reply.movie_id), sha: await sha256(path), size };
    }
    expect(files.fast!.size).toBeGreaterThan(4_000_000);
    proxy = await startSlowProxy(world.server.port, 3_000_000);
    await runCli(main, ['user', 'register'], { cwd: work, env: { CINEBOX_PORT: String(world.server.port), ...viewer } });
  }, 120_000);
  afterAll(async () => {
    await proxy?.close();
    await world?.close();
  });

  async function play(key: string, extraArgs: string[], env: Record<string, string> = {}) {
    const record = join(world.dir, `${key}-${Date.now()}.json`);
    const out = join(work, 'out');
    const started = Date.now();
    const result = await runCli(main, ['user', 'play', String(files[key]!.id), '-o', out, '--json', ...extraArgs], {
      cwd: work,
      env: { CINEBOX_PORT: String(proxy.port), ...viewer, PLAY_RECORD: record, PLAY_FINAL: join(out, `${key}.mp4`), ...env },
    });
    return { result, started, ended: Date.now(), record: async () => JSON.parse(await readFile(record, 'utf8')) as PlayerRecord, out };
  }

  it('plays a faststart MP4 while it arrives: started before the end, fed every byte, file kept and verified', async () => {
    const { result, started, ended, record, out } = await play('fast', ['--player', player]);
    expect(result.stderr).not.toContain('cinebox:');
    expect(result.code).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ id: files.fast!.id, while_arriving: true, sha256: files.fast!.sha, player_exit: 0 });
    const seen = await record();
    expect(seen.input).toBe('-');
    expect(seen.completeAtStart).toBe(false);
    expect(seen.partBytesAtStart).toBeLessThan(files.fast!.size / 2); // ~2 s of download were still to come
    expect(seen.startedAt - started).toBeLessThan(ended - started);
    expect(seen).toMatchObject({ bytes: files.fast!.size, sha256: files.fast!.sha });
    expect(await sha256(join(out, 'fast.mp4'))).toBe(files.fast!.sha);
    expect((await readdir(out)).filter((name) => name.includes('.part'))).toEqual([]);
  });

  it('plays an MP4 with its index last only once it is complete, says why, and charges a paid video once', async () => {
    const first = await play('last', ['--player', player, '--yes']);
    expect(first.result.code).toBe(0);
    expect(JSON.parse(first.result.stdout)).toMatchObject({ while_arriving: false, reason: expect.stringMatching(/index \(moov\) comes after its data/), charged_cents: 1000 });
    expect(first.result.stderr).toMatch(/cannot play while it arrives/);
    const seen = await first.record();
    expect(seen.completeAtStart).toBe(true);
    expect(seen.input).toBe(join(first.out, 'last.mp4'));
    expect(seen).toMatchObject({ bytes: files.last!.size, sha256: files.last!.sha });
    const again = await play('last', ['--player', player, '--yes']);
    expect(JSON.parse(again.result.stdout)).toMatchObject({ charged_cents: 0, sha256: files.last!.sha });
  });

  it('finds mpv on PATH when no --player is given', async () => {
    const { result, record } = await play('fast', [], { PATH: `${playersDir}:${process.env.PATH}` });
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ player: 'mpv', while_arriving: true });
    expect((await record()).args).toEqual(['-']);
  });

  it('without a player says so in one line naming --player, before downloading anything', async () => {
    const emptyDir = join(world.dir, 'empty');
    await mkdir(emptyDir);
    const out = join(work, 'nothing');
    const result = await runCli(main, ['user', 'play', String(files.last!.id), '-o', out, '--yes'], {
      cwd: work,
      env: { CINEBOX_PORT: String(world.server.port), ...viewer, PATH: emptyDir },
    });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^cinebox: no player found .*--player CMD/)]);
    expect(await readdir(out).catch(() => [])).toEqual([]);
  });
});
