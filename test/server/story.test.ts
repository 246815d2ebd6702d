/**
 * Every function of the original, end to end over real sockets, on SQLite and on MySQL:
 * an admin uploads, two viewers (VIP and not) list, buy, download; bytes, rows and replies
 * are checked at each step.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerError, type ClientConnection } from '../../src/client/connection.js';
import { downloadMovie } from '../../src/client/download.js';
import { uploadFile } from '../../src/client/upload.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { DEFAULT_SCRYPT_N } from '../../src/server/auth/passwords.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const fileSha256 = async (path: string) => sha256(await readFile(path));

describe.each(databaseKinds)('the original functions over the wire (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;
  let alice: ClientConnection; // becomes VIP
  let bob: ClientConnection; // stays a normal viewer
  let freePath: string;
  let paidPath: string;
  let freeId: number;
  let paidId: number;

  const rows = <T = Record<string, unknown>>(sql: string, params: unknown[] = []) => world.server.app.db.query<T>(sql, params);

  beforeAll(async () => {
    world = await startWorld(kind, { freeWaitSeconds: 1, paidPriceVipCents: 500, paidPriceNormalCents: 1000, scryptN: DEFAULT_SCRYPT_N });
    admin = await world.loginAs('boss', 'admin');
    alice = await world.loginAs('alice', 'user');
    bob = await world.loginAs('bob', 'user');
    freePath = await world.makeFile('free.mp4', 3 * 1024 * 1024 + 17);
    paidPath = await world.makeFile('paid.mkv', 2 * 1024 * 1024 + 5);
  });
  afterAll(async () => world?.close());

  it('stores passwords only as salted scrypt hashes', async () => {
    const users = await rows<{ name: string; password: string }>('SELECT name, password FROM user ORDER BY id');
    expect(users.map((u) => u.name)).toEqual(['boss', 'alice', 'bob']);
    for (const u of users) expect(u.password).toMatch(/^scrypt\$16384\$8\$1\$/);
    expect(new Set(users.map((u) => u.password.split('$')[4])).size).toBe(3);
  });

  it('refuses admin registration without the admin code', async () => {
    const conn = await world.connect();
    const reply = await conn.request({ type: 'register', name: 'mallory', password: 'x', user_type: 'admin' });
    expect(reply).toMatchObject({ flag: false, code: 'FORBIDDEN' });
    const wrong = await conn.request({ type: 'register', name: 'mallory', password: 'x', user_type: 'admin', admin_code: 'guess' });
    expect(wrong).toMatchObject({ flag: false, code: 'FORBIDDEN' });
    expect(await rows("SELECT id FROM user WHERE name = 'mallory'")).toEqual([]);
  });

  it('logs in with the right password only and reports is_vip', async () => {
    const conn = await world.connect();
    const bad = await conn.request({ type: 'login', name: 'alice', password: 'nope', user_type: 'user' });
    expect(bad).toMatchObject({ flag: false, code: 'LOGIN_FAILED' });
    const unknown = await conn.request({ type: 'login', name: 'nobody', password: 'nope', user_type: 'user' });
    expect(unknown).toMatchObject({ flag: false, code: 'LOGIN_FAILED', msg: bad.msg });
    const wrongRole = await conn.request({ type: 'login', name: 'boss', password: wirePassword('secret-boss'), user_type: 'user' });
    // The right password in the other role's client is no failure: the reply names the client to use (issue 12).
    expect(wrongRole).toMatchObject({ flag: false, code: 'FORBIDDEN', user_type: 'admin', msg: expect.stringMatching(/admin client/) });
    // Nobody is VIP yet; 'sells VIP once' checks that a login after the purchase reports 1.
    const good = await conn.request({ type: 'login', name: 'alice', password: wirePassword('secret-alice'), user_type: 'user' });
    expect(good).toMatchObject({ flag: true, is_vip: 0, session: expect.any(String) });
  });

  it('uploads a free and a paid video, verified, under server-generated names', async () => {
    const check = await admin.call('check_movie', { file_md5: 'not-seen-before' });
    expect(check.flag).toBe(true);
    const free = await uploadFile(admin, freePath, { isFree: true });
    const paid = await uploadFile(admin, paidPath, { isFree: false, name: '../../etc/evil name.mkv' });
    freeId = Number(free.movie_id);
    paidId = Number(paid.movie_id);
    expect(free.sha256).toBe(await fileSha256(freePath));

    const movies = await rows<{ id: number; name: string; path: string; sha256: string; size: number; is_free: number }>(
      'SELECT id, name, path, sha256, size, is_free FROM movie ORDER BY id',
    );
    expect(movies.map((m) => [m.id, m.name, Number(m.is_free), Number(m.size)])).toEqual([
      [freeId, 'free.mp4', 1, 3 * 1024 * 1024 + 17],
      [paidId, '../../etc/evil name.mkv', 0, 2 * 1024 * 1024 + 5],
    ]);
    for (const m of movies) {
      expect(m.path).toMatch(/^[0-9a-f-]{36}\.(mp4|mkv)$/);
      expect(await fileSha256(join(world.config.mediaDir, m.path))).toBe(m.sha256);
    }
    expect(await readdir(join(world.config.mediaDir, '.incoming'))).toEqual([]);
  });

  it('recognises a stored video by the original quick md5 and by sha256', async () => {
    const [row] = await rows<{ file_md5: string; sha256: string }>('SELECT file_md5, sha256 FROM movie WHERE id = ?', [freeId]);
    const byMd5 = await admin.request({ type: 'check_movie', session: admin.session, file_md5: row.file_md5 });
    expect(byMd5).toMatchObject({ flag: false, code: 'CONFLICT' });
    const again = await uploadFile(admin, freePath, { isFree: true }).catch((e: Error) => e);
    expect(again).toBeInstanceOf(ServerError);
    expect((again as ServerError).code).toBe('CONFLICT');
    expect(await rows('SELECT id FROM movie')).toHaveLength(2);
  });

  it('lists videos with the original labels, filtered by type', async () => {
    const all = await bob.call('get_movie_list', { movie_type: 'all' });
    expect(all.movie_list).toEqual([
      ['free.mp4', '免费', freeId],
      ['../../etc/evil name.mkv', '收费', paidId],
    ]);
    expect((await bob.call('get_movie_list', { movie_type: 'free' })).movie_list).toEqual([['free.mp4', '免费', freeId]]);
    const charge = await bob.call('get_movie_list', { movie_type: 'charge', details: true });
    expect(charge.movies).toEqual([expect.objectContaining({ id: paidId, is_free: 0, size: 2 * 1024 * 1024 + 5 })]);
  });

  it('sells VIP once', async () => {
    const bought = await alice.call('buy_vip', {});
    expect(bought).toMatchObject({ flag: true, is_vip: 1 });
    const again = await alice.request({ type: 'buy_vip', session: alice.session });
    expect(again).toMatchObject({ flag: false, code: 'CONFLICT' });
    const [row] = await rows<{ is_vip: number }>("SELECT is_vip FROM user WHERE name = 'alice'");
    expect(Number(row.is_vip)).toBe(1);
    const relogin = await world.connect();
    const login = await relogin.request({ type: 'login', name: 'alice', password: wirePassword('secret-alice'), user_type: 'user' });
    expect(login).toMatchObject({ flag: true, is_vip: 1 });
    const bobLogin = await relogin.request({ type: 'login', name: 'bob', password: wirePassword('secret-bob'), user_type: 'user' });
    expect(bobLogin).toMatchObject({ flag: true, is_vip: 0 });
    relogin.close();
  });

  it('downloads a free video: no wait for VIP, the configured wait announced for others; bytes match', async () => {
    const outA = join(world.dir, 'alice-downloads');
    const a = await downloadMovie(alice, freeId, 'free', { outDir: outA });
    expect(a.reply.wait_time).toBe(0);
    expect(await fileSha256(a.path)).toBe(await fileSha256(freePath));
    expect(a.path).toBe(join(outA, 'free.mp4'));

    let announcedWait = -1;
    const b = await downloadMovie(bob, freeId, 'free', { outDir: join(world.dir, 'bob-downloads'), onWait: (s) => (announcedWait = s) });
    expect(announcedWait).toBe(1);
    expect(b.sha256).toBe(await fileSha256(freePath));
  });

  it('charges a paid video once per viewer, at the VIP or normal price', async () => {
    const out = join(world.dir, 'paid-downloads');
    const first = await downloadMovie(alice, paidId, 'charge', { outDir: out });
    expect(first.reply.charged_cents).toBe(500);
    const second = await downloadMovie(alice, paidId, 'charge', { outDir: join(out, 'again') });
    expect(second.reply.charged_cents).toBe(0);
    expect(await fileSha256(second.path)).toBe(await fileSha256(paidPath));
    expect(second.path).toBe(join(out, 'again', 'evil name.mkv'));
    const bobs = await downloadMovie(bob, paidId, 'charge', { outDir: join(world.dir, 'bob-paid') });
    expect(bobs.reply.charged_cents).toBe(1000);
    const purchases = await rows<{ price: number }>('SELECT price FROM purchase ORDER BY id');
    expect(purchases.map((p) => Number(p.price))).toEqual([500, 1000]);
  });

  it('refuses a free download of a paid video', async () => {
    const reply = await bob.request({ type: 'download_movie', session: bob.session, movie_id: paidId, movie_type: 'free' });
    expect(reply).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
  });

  it('keeps a download history, newest first', async () => {
    const history = await alice.call('download_movie_record', {});
    expect(history.back_record_list).toEqual(['../../etc/evil name.mkv', '../../etc/evil name.mkv', 'free.mp4']);
    const carol = await world.loginAs('carol', 'user');
    const empty = await carol.request({ type: 'download_movie_record', session: carol.session });
    expect(empty).toMatchObject({ flag: false, code: 'NOT_FOUND' });
  });

  it('publishes notices, listed newest first', async () => {
    expect((await bob.request({ type: 'check_notice', session: bob.session })).flag).toBe(false);
    await admin.call('release_notice', { title: 'Welcome', content: '欢迎光临' });
    await admin.call('release_notice', { title: 'New films', content: 'Two new videos' });
    const notices = await bob.call('check_notice', {});
    expect(notices.back_notice_list).toEqual([
      ['New films', 'Two new videos'],
      ['Welcome', '欢迎光临'],
    ]);
  });

  it('soft-deletes: hidden from lists and downloads, row and file kept', async () => {
    await admin.call('delete_movie', { movie_id: paidId });
    const list = await bob.call('get_movie_list', { movie_type: 'all' });
    expect(list.movie_list).toEqual([['free.mp4', '免费', freeId]]);
    const reply = await alice.request({ type: 'download_movie', session: alice.session, movie_id: paidId, movie_type: 'charge' });
    expect(reply).toMatchObject({ flag: false, code: 'NOT_FOUND' });
    const [row] = await rows<{ is_delete: number; path: string }>('SELECT is_delete, path FROM movie WHERE id = ?', [paidId]);
    expect(Number(row.is_delete)).toBe(1);
    expect(await fileSha256(join(world.config.mediaDir, row.path))).toBe(await fileSha256(paidPath));
    const twice = await admin.request({ type: 'delete_movie', session: admin.session, movie_id: paidId });
    expect(twice).toMatchObject({ flag: false, code: 'NOT_FOUND' });
  });

  it('says so when there is nothing to list', async () => {
    await admin.call('delete_movie', { movie_id: freeId });
    const reply = await bob.request({ type: 'get_movie_list', session: bob.session, movie_type: 'all' });
    expect(reply).toMatchObject({ flag: false, msg: 'no videos yet' });
  });
});
