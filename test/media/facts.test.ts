/**
 * Media facts from the real ffprobe, on SQLite and MySQL: files made by ffmpeg are uploaded,
 * probed after they are published, and listed with `facts: true`; what the server stored is
 * what ffprobe says about the same file. Random bytes are "unknown format" (or refused when
 * the operator says so); a hanging ffprobe is killed at its timeout while other clients are
 * served; a missing ffprobe gives one warning and no facts; the original reply is unchanged.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { encodeFrame } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { ffmpegMissing, ffprobeFacts, makeFixtures, type Fixtures } from './fixtures.js';

const run = promisify(execFile);
let dir: string;
let files: Fixtures;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cinebox-media-'));
  if (!ffmpegMissing) files = await makeFixtures(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

async function upload(conn: ClientConnection, path: string, name: string): Promise<number> {
  const reply = await uploadFile(conn, path, { isFree: true, name });
  return Number(reply.movie_id);
}

async function listedFacts(conn: ClientConnection): Promise<Map<number, unknown>> {
  const reply = await conn.call('get_movie_list', { movie_type: 'all', facts: true });
  return new Map((reply.movies as { id: number; facts: unknown }[]).map((m) => [m.id, m.facts]));
}

describe.skipIf(ffmpegMissing).each(databaseKinds)('media facts (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;
  const ids: Record<keyof Fixtures, number> = {} as never;

  beforeAll(async () => {
    world = await startWorld(kind);
    admin = await world.loginAs('boss', 'admin');
    for (const key of Object.keys(files) as (keyof Fixtures)[]) ids[key] = await upload(admin, files[key], basename(files[key])); // noise.bin: ffprobe must not judge by the name
    await world.server.app.facts.idle();
  }, 60_000);
  afterAll(() => world.close());

  it.each([
    ['faststart', true],
    ['moovLast', false],
    ['webm', true],
  ] as const)('%s: the stored facts are what ffprobe says, streamable %s', async (key, streamable) => {
    const facts = (await listedFacts(admin)).get(ids[key]);
    expect(facts).toEqual({ ...(await ffprobeFacts(files[key])), streamable });
    expect(facts).toMatchObject({ format: 'video', width: 320, height: 240 });
  });

  it('an audio-only file is audio, with no picture size', async () => {
    const facts = (await listedFacts(admin)).get(ids.audioOnly);
    expect(facts).toEqual({ ...(await ffprobeFacts(files.audioOnly)), streamable: false });
    expect(facts).toMatchObject({ format: 'audio', width: null, height: null, video_codec: null, audio_codec: 'aac' });
  });

  it('random bytes are "unknown format", with every fact empty', async () => {
    expect((await listedFacts(admin)).get(ids.random)).toEqual({
      format: 'unknown',
      container: null,
      duration_ms: null,
      width: null,
      height: null,
      video_codec: null,
      audio_codec: null,
      bit_rate: null,
      streamable: null,
    });
  });

  it('a playlist naming another file on the server is "unknown format": ffprobe does not follow it', async () => {
    // Without the demuxer whitelist ffprobe reads this as HLS and reports the facts of the file it names.
    const segment = join(dir, `segment-${kind}.ts`);
    await run('ffmpeg', ['-v', 'error', '-y', '-i', files.faststart, '-c', 'copy', segment]);
    const playlist = join(dir, `playlist-${kind}.m3u8`);
    await writeFile(playlist, `#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:2,\n${segment}\n#EXT-X-ENDLIST\n`);
    const id = await upload(admin, playlist, 'playlist.m3u8');
    await world.server.app.facts.idle();
    expect((await listedFacts(admin)).get(id)).toMatchObject({ format: 'unknown', duration_ms: null });
  });

  it('an original client asking nothing new gets the original reply, byte for byte', async () => {
    const names = [...Object.values(files).map((path) => basename(path)), 'playlist.m3u8'];
    const expected = encodeFrame({ flag: true, movie_list: names.map((name, i) => [name, '免费', i + 1]) });
    const bytes = await rawReplies(world.server.port, [
      { type: 'register', name: 'old', password: wirePassword('pw'), user_type: 'user' },
      { type: 'login', name: 'old', password: wirePassword('pw'), user_type: 'user' },
    ], (session) => ({ type: 'get_movie_list', session, movie_type: 'all' }));
    expect(bytes.equals(expected)).toBe(true);
  });
});

describe.skipIf(ffmpegMissing).each(databaseKinds)('refusing non-video uploads (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;
  beforeAll(async () => {
    world = await startWorld(kind, { refuseNonVideo: true });
    admin = await world.loginAs('boss', 'admin');
  });
  afterAll(() => world.close());

  it.each(['random', 'audioOnly'] as const)('refuses %s and keeps nothing of it', async (key) => {
    await expect(upload(admin, files[key], key)).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/stores videos only/) });
    expect(await readdir(join(world.config.mediaDir, '.incoming'))).toEqual([]);
    expect((await readdir(world.config.mediaDir)).filter((name) => name !== '.incoming')).toEqual([]);
  });

  it('stores a video, with its facts at once (it was probed before it was stored)', async () => {
    const id = await upload(admin, files.webm, 'clip');
    expect((await listedFacts(admin)).get(id)).toMatchObject({ format: 'video', video_codec: 'vp8', streamable: true });
  });
});

describe.skipIf(ffmpegMissing)('a hanging ffprobe', () => {
  let world: World;
  let pidFile: string;
  beforeAll(async () => {
    pidFile = join(dir, 'hanging.pid');
    const script = join(dir, 'hanging-ffprobe');
    // Answers the start-up check, then hangs on every probe (through a child, which must die too).
    await writeFile(script, `#!/bin/sh\nif [ "$1" = "-version" ]; then echo "ffprobe version fake"; exit 0; fi\nsleep 60 &\necho $! > ${pidFile}\nwait\n`);
    await chmod(script, 0o755);
    world = await startWorld('sqlite', { ffprobePath: script, probeTimeoutSeconds: 1.5 });
  });
  afterAll(() => world.close());

  it('is killed at its timeout with its children; the upload and other clients are served meanwhile', async () => {
    const admin = await world.loginAs('boss', 'admin');
    const viewer = await world.loginAs('watcher', 'user');
    const started = Date.now();
    const id = await upload(admin, files.faststart, 'clip');
    expect(Date.now() - started).toBeLessThan(1500); // the reply did not wait for the probe
    await expect.poll(() => readFile(pidFile, 'utf8').catch(() => ''), { timeout: 5000 }).not.toBe('');
    const sleeper = Number(await readFile(pidFile, 'utf8'));
    expect(isAlive(sleeper)).toBe(true);
    // While the probe hangs, a bystander's requests are answered.
    for (let i = 0; i < 5; i++) expect((await viewer.call('get_movie_list', { movie_type: 'all' })).flag).toBe(true);
    expect(isAlive(sleeper)).toBe(true);
    await world.server.app.facts.idle();
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    await expect.poll(() => isAlive(sleeper), { timeout: 3000 }).toBe(false);
    expect((await listedFacts(admin)).get(id)).toBeNull(); // not probed: a scan may try again
    expect(world.logs.some((l) => l.msg === 'video not probed' && /longer than 1500 ms/.test(String(l.reason)))).toBe(true);
  });
});

describe.skipIf(ffmpegMissing)('no ffprobe installed', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite', { ffprobePath: join(dir, 'no-such-ffprobe') });
  });
  afterAll(() => world.close());

  it('the server starts with one warning and stores no facts', async () => {
    const admin = await world.loginAs('boss', 'admin');
    const a = await upload(admin, files.faststart, 'one');
    const b = await upload(admin, files.webm, 'two');
    await world.server.app.facts.idle();
    const facts = await listedFacts(admin);
    expect([facts.get(a), facts.get(b)]).toEqual([null, null]);
    const warnings = world.logs.filter((l) => /ffprobe/.test(String(l.msg)) && Number(l.level) >= 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.msg).toMatch(/ffprobe cannot run: videos get no media facts/);
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends `first` frames, then `last(session)`; returns the raw bytes of the last reply. */
async function rawReplies(port: number, first: object[], last: (session: string) => object): Promise<Buffer> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let pending = Buffer.alloc(0);
  const nextFrame = async (): Promise<Buffer> => {
    for (;;) {
      if (pending.length >= 4) {
        const length = pending.readUInt32LE(0);
        if (pending.length >= 4 + length) {
          const frame = pending.subarray(0, 4 + length);
          pending = pending.subarray(4 + length);
          return frame;
        }
      }
      const chunk: Buffer = await new Promise((resolve) => socket.once('data', resolve));
      pending = Buffer.concat([pending, chunk]);
    }
  };
  try {
    let session = '';
    for (const header of first) {
      socket.write(encodeFrame(header));
      const reply = JSON.parse((await nextFrame()).subarray(4).toString('utf8')) as { session?: string };
      if (reply.session) session = reply.session;
    }
    socket.write(encodeFrame(last(session)));
    return await nextFrame();
  } finally {
    socket.destroy();
  }
}
