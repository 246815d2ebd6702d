/**
 * The client rides through a dropped connection (`--retries`): a proxy cuts the connection at
 * the worst moments (right after the server committed a purchase or an upload and before its
 * reply arrives, in the middle of a body) and the client connects again, logs in again and
 * goes on. What must hold, read from the database and the disk: a paid video and VIP are paid
 * exactly once, a cut transfer resumes instead of starting over, an upload is stored once, a
 * notice is never sent twice, and `retries: 0` leaves the failure to the caller.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { ConnectionError } from '../../src/client/connection.js';
import { databaseKinds } from '../helpers/databases.js';
import { startCutProxy, type Cut, type CutProxy } from '../helpers/cut-proxy.js';
import { ADMIN_CODE, startWorld, type World } from '../helpers/world.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const FAST = { retries: 3, backoffMs: 20 };

describe.each(databaseKinds)('clients ride through dropped connections (%s)', (kind) => {
  let world: World;
  let paid: { id: number; bytes: Buffer };
  let free: { id: number; bytes: Buffer };
  const proxies: CutProxy[] = [];
  const clients: CineboxClient[] = [];
  let names = 0;

  const rows = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => world.server.app.db.query<T>(sql, params);
  const count = async (sql: string, params: unknown[] = []) => Number((await rows<{ n: number }>(sql, params))[0]!.n);

  /** A client through a proxy that makes `cuts`, logged in as a new account of `role`. */
  async function cutClient(cuts: Cut[], role: 'user' | 'admin' = 'user', retry = FAST): Promise<{ client: CineboxClient; proxy: CutProxy; name: string }> {
    const proxy = await startCutProxy(world.server.port, cuts);
    proxies.push(proxy);
    const name = `${role}-${++names}`;
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: proxy.port }, retry);
    clients.push(client);
    await client.register(name, 'pw', role, ADMIN_CODE);
    await client.login(name, 'pw', role);
    return { client, proxy, name };
  }

  async function store(client: CineboxClient, size: number, isFree: boolean): Promise<{ id: number; bytes: Buffer; path: string }> {
    const bytes = randomBytes(size);
    const path = join(world.dir, `video-${randomBytes(4).toString('hex')}.mp4`);
    await writeFile(path, bytes);
    const { movieId } = await client.upload(path, { isFree });
    return { id: movieId, bytes, path };
  }

  beforeAll(async () => {
    world = await startWorld(kind);
    const admin = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });
    clients.push(admin);
    await admin.register('boss', 'pw', 'admin', ADMIN_CODE);
    await admin.login('boss', 'pw', 'admin');
    paid = await store(admin, 256 * 1024, false);
    free = await store(admin, 1024 * 1024, true);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    for (const proxy of proxies) await proxy.close();
    await world?.close();
  });

  it('a paid download cut right after the charge is retried and charged once', async () => {
    const { client, proxy, name } = await cutClient([{ type: 'download_movie', during: 'reply' }]);
    const outDir = join(world.dir, `out-${name}`);
    const result = await client.download(paid.id, 'charge', { outDir });
    expect(proxy.done).toBe(1);
    expect(client.retried).toBe(1);
    expect(sha256(await readFile(result.path))).toBe(sha256(paid.bytes));
    const purchases = await rows<{ price: number }>('SELECT p.price FROM purchase p JOIN user u ON u.id = p.user_id WHERE u.name = ? AND p.movie_id = ?', [name, paid.id]);
    expect(purchases.map((p) => Number(p.price))).toEqual([world.config.paidPriceNormalCents]);
    const user = (await rows<{ id: number }>('SELECT id FROM user WHERE name = ?', [name]))[0]!;
    expect(world.logs.filter((l) => l.msg === 'paid video charged' && Number(l.user) === Number(user.id))).toHaveLength(1);
    // The retry found the charge: its reply says nothing more was charged.
    expect(result.reply.charged_cents).toBe(0);
  });

  it('a VIP purchase whose reply was lost is not bought again', async () => {
    const { client, proxy, name } = await cutClient([{ type: 'buy_vip', during: 'reply' }]);
    const price = await client.buyVip();
    expect(proxy.done).toBe(1);
    expect(client.retried).toBe(1);
    expect(price).toBe(world.config.vipPriceCents);
    expect(client.account?.isVip).toBe(true);
    expect(await count('SELECT COUNT(*) AS n FROM user WHERE name = ? AND is_vip = 1', [name])).toBe(1);
    const user = (await rows<{ id: number }>('SELECT id FROM user WHERE name = ?', [name]))[0]!;
    // One buy reached the server's handler and paid; the retry asked nothing more of it.
    expect(world.logs.filter((l) => l.msg === 'bought VIP' && Number(l.user) === Number(user.id))).toHaveLength(1);
  });

  it('a download cut in the middle of its bytes resumes from the .part', async () => {
    const { client, proxy, name } = await cutClient([{ type: 'download_movie', during: 'reply', afterBytes: 300_000 }]);
    const outDir = join(world.dir, `out-${name}`);
    const result = await client.download(free.id, 'free', { outDir });
    expect(proxy.done).toBe(1);
    expect(result.offset).toBeGreaterThan(0);
    expect(result.offset).toBeLessThan(free.bytes.length);
    expect(sha256(await readFile(result.path))).toBe(sha256(free.bytes));
    expect((await readdir(outDir)).sort()).toEqual([result.path.slice(outDir.length + 1)]);
  });

  it('an upload cut in the middle of its bytes resumes from what the server holds, stored once', async () => {
    const { client, proxy } = await cutClient([{ type: 'update_movie', during: 'request', afterBytes: 2 * 1024 * 1024 }], 'admin');
    const bytes = randomBytes(6 * 1024 * 1024);
    const path = join(world.dir, 'cut-upload.mp4');
    await writeFile(path, bytes);
    const offsets: number[] = [];
    const { movieId, sha256: stored } = await client.upload(path, { isFree: true, onResume: (offset) => offsets.push(offset) });
    expect(proxy.done).toBe(1);
    expect(stored).toBe(sha256(bytes));
    expect(offsets).toHaveLength(1);
    expect(offsets[0]).toBeGreaterThan(0);
    const movies = await rows<{ id: number; path: string }>('SELECT id, path FROM movie WHERE sha256 = ?', [sha256(bytes)]);
    expect(movies.map((m) => Number(m.id))).toEqual([movieId]);
    expect(sha256(await readFile(world.server.app.media.pathOf(movies[0]!.path)))).toBe(sha256(bytes));
    expect(await count('SELECT COUNT(*) AS n FROM upload')).toBe(0);
  });

  it('an upload whose reply was lost is found stored on the retry, not stored twice', async () => {
    const { client, proxy } = await cutClient([{ type: 'update_movie', during: 'reply' }], 'admin');
    const bytes = randomBytes(512 * 1024);
    const path = join(world.dir, 'lost-reply.mp4');
    await writeFile(path, bytes);
    const { movieId, sha256: stored } = await client.upload(path, { isFree: false });
    expect(proxy.done).toBe(1);
    expect(client.retried).toBe(1);
    expect(stored).toBe(sha256(bytes));
    const movies = await rows<{ id: number }>('SELECT id FROM movie WHERE sha256 = ?', [sha256(bytes)]);
    expect(movies.map((m) => Number(m.id))).toEqual([movieId]);
  });

  it('a notice is never sent twice: the drop is reported instead', async () => {
    const { client, proxy } = await cutClient([{ type: 'release_notice', during: 'reply' }], 'admin');
    const title = `once-${randomBytes(3).toString('hex')}`;
    const failure = await client.releaseNotice(title, 'the content').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ConnectionError);
    expect(String((failure as Error).message)).toMatch(/may have been published/);
    expect(proxy.done).toBe(1);
    expect(client.retried).toBe(0);
    expect(await count('SELECT COUNT(*) AS n FROM notice WHERE title = ?', [title])).toBe(1);
  });

  it('a notice is sent again when the connection was found closed before it went out', async () => {
    const { client, proxy } = await cutClient([], 'admin');
    proxy.dropAll();
    await client.closed;
    const title = `after-idle-${randomBytes(3).toString('hex')}`;
    expect(await client.releaseNotice(title, 'the content')).toEqual(expect.any(Number));
    expect(client.retried).toBe(1);
    expect(await count('SELECT COUNT(*) AS n FROM notice WHERE title = ?', [title])).toBe(1);
  });

  it('retries: 0 leaves a drop to the caller, and the .part for a later resume', async () => {
    const { client, name } = await cutClient([{ type: 'download_movie', during: 'reply', afterBytes: 300_000 }], 'user', { retries: 0, backoffMs: 20 });
    const outDir = join(world.dir, `out-${name}`);
    await expect(client.download(free.id, 'free', { outDir })).rejects.toBeInstanceOf(ConnectionError);
    expect(client.retried).toBe(0);
    expect((await readdir(outDir)).some((f) => f.endsWith('.part'))).toBe(true);
  });
});
