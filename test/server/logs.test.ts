/**
 * The log lines an operator reads: ISO times, numbers rounded, one key each, and on every
 * transfer who (user), what (movie, name) and how much (offset, bytes, total, seconds; the
 * non-VIP wait apart as wait_seconds), a cut download included. Pretty lines on demand.
 */
import { createHash, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { createLogger } from '../../src/server/logger.js';
import { startWorld, type World } from '../helpers/world.js';
import { waitFor } from '../transfers/helpers.js';

/** The keys of a JSON object line at its top level, in order, repeats included (JSON.parse keeps only the last). */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let end = i + 1;
      while (line[end] !== '"') end += line[end] === '\\' ? 2 : 1;
      if (depth === 1 && line[end + 1] === ':') keys.push(JSON.parse(line.slice(i, end + 1)));
      i = end;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

describe('server log lines', () => {
  let world: World;
  let movieId: number;
  const SIZE = 8 * 1024 * 1024 + 5;
  const line = (msg: string) => world.logs.filter((l) => l.msg === msg);

  beforeAll(async () => {
    world = await startWorld('sqlite', { freeWaitSeconds: 1 });
    const admin = await world.loginAs('boss', 'admin');
    const reply = await uploadFile(admin, await world.makeFile('film.mp4', SIZE), { isFree: true });
    movieId = Number(reply.movie_id);
  });
  afterAll(async () => world?.close());

  it('an upload says who, what and how much', () => {
    const [stored] = line('upload stored');
    expect(stored).toMatchObject({ user: 1, movie: movieId, name: 'film.mp4', offset: 0, bytes: SIZE, total: SIZE, seconds: expect.any(Number) });
  });

  it("an original client's upload (no SHA-256) says the same, stored or failed: user, upload or movie, name, offset, bytes and total", async () => {
    const admin = await world.loginAs('boss', 'admin');
    const bytes = randomBytes(300_000);
    const header = (conn: ClientConnection, name: string) => ({
      type: 'update_movie',
      session: conn.session,
      file_name: name,
      file_size: bytes.length,
      file_md5: createHash('md5').update(name).digest('hex'),
      is_free: 1,
    });
    const reply = await admin.sendWithBody(header(admin, 'original.mp4'), Readable.from([bytes]));
    const stored = line('upload stored').find((l) => l.movie === Number(reply.movie_id));
    expect(stored).toMatchObject({ user: 1, movie: Number(reply.movie_id), name: 'original.mp4', offset: 0, bytes: bytes.length, total: bytes.length, seconds: expect.any(Number) });

    // Cut after a third of its bytes: not resumable, so it failed.
    const cutter = await world.loginAs('boss', 'admin');
    async function* third() {
      yield bytes.subarray(0, 100_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      cutter.close();
    }
    await cutter.sendWithBody(header(cutter, 'cut.mp4'), Readable.from(third())).catch(() => undefined);
    const failed = await waitFor(() => line('upload failed').find((l) => l.name === 'cut.mp4'), 'the upload failed line');
    expect(failed).toMatchObject({ user: 1, upload: expect.any(Number), name: 'cut.mp4', offset: 0, total: bytes.length, err: expect.any(String) });
    expect(failed.received).toBeLessThan(bytes.length);
  });

  it('a download: user, offset, bytes and total; seconds without the non-VIP wait, which is wait_seconds', async () => {
    const viewer = await world.loginAs('vic', 'user');
    const reply = await viewer.requestWithBody({ type: 'download_movie', session: viewer.session, movie_id: movieId, movie_type: 'free', offset: 1000 }, async () => ({}));
    expect(reply).toMatchObject({ flag: true, offset: 1000, file_size: SIZE - 1000 });
    const sent = await waitFor(() => line('download sent')[0], 'the download sent line');
    expect(sent).toMatchObject({ user: 2, movie: movieId, name: 'film.mp4', offset: 1000, bytes: SIZE - 1000, total: SIZE, conn: expect.any(Number), addr: '127.0.0.1' });
    expect(sent.wait_seconds).toBeGreaterThanOrEqual(0.99);
    expect(sent.seconds).toBeLessThan(Number(sent.wait_seconds));
  });

  it('a download cut during the wait or during the bytes is logged with how far it got', async () => {
    const viewer = await world.loginAs('cora', 'user');
    // Gone during the non-VIP wait: the header came, no byte.
    await viewer
      .requestWithBody({ type: 'download_movie', session: viewer.session, movie_id: movieId, movie_type: 'free' }, async () => {
        viewer.close();
        return undefined;
      })
      .catch(() => undefined);
    const duringWait = await waitFor(() => line('download cut')[0], 'a download cut line');
    expect(duringWait).toMatchObject({ user: 3, movie: movieId, name: 'film.mp4', offset: 0, bytes: 0, total: SIZE, seconds: 0, level: 40 });
    expect(duringWait.wait_seconds).toBeLessThan(1);

    // Gone after the first bytes.
    const again = await world.loginAs('cora', 'user');
    let seen = 0;
    const stop = new Writable({
      write(chunk: Buffer, _encoding, done) {
        seen += chunk.length;
        if (seen > 0) again.close();
        done();
      },
    });
    await again.requestWithBody({ type: 'download_movie', session: again.session, movie_id: movieId, movie_type: 'free' }, async () => ({ sink: stop })).catch(() => undefined);
    const cut = await waitFor(() => line('download cut')[1], 'a second download cut line', 15_000);
    expect(cut).toMatchObject({ user: 3, movie: movieId, offset: 0, total: SIZE });
    expect(cut.bytes).toBeLessThan(SIZE);
    expect(cut.wait_seconds).toBeGreaterThanOrEqual(0.99);
  });

  it('every line: an ISO time, numbers with at most 3 decimals, no key twice (a failed login carried addr twice)', async () => {
    const conn = await world.connect();
    await conn.request({ type: 'login', name: 'vic', password: wirePassword('wrong'), user_type: 'user' });
    await waitFor(() => line('login failed')[0], 'the login failed line');
    expect(world.logLines.length).toBeGreaterThan(5);
    for (const raw of world.logLines) {
      const keys = topLevelKeys(raw);
      expect(keys.filter((key, i) => keys.indexOf(key) !== i), raw).toEqual([]);
      const parsed = JSON.parse(raw) as Record<string, unknown>;
      expect(parsed.time, raw).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      for (const value of Object.values(parsed)) {
        if (typeof value === 'number') expect(Math.round(value * 1000) / 1000, raw).toBe(value);
      }
    }
    expect(topLevelKeys(world.logLines.find((l) => l.includes('"login failed"'))!).filter((k) => k === 'addr')).toHaveLength(1);
  });

  it('pretty lines for a terminal: level, local time and message, no JSON', () => {
    let text = '';
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        text += chunk.toString();
        done();
      },
    });
    createLogger('info', { destination: sink, pretty: true }).info({ movie: 3, seconds: 0.024691177000000061 }, 'download sent');
    expect(text).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: download sent\n {4}movie: 3\n {4}seconds: 0\.025\n$/);
  });
});
