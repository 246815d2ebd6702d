/**
 * Admin storage quotas, on SQLite and MySQL: refused before any byte is sent (check_movie),
 * refused again at the upload header, uploads in progress count, set_quota and
 * `cinebox admin quota NAME SIZE`.
 */
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yargs from 'yargs';
import * as adminQuota from '../../src/cli/commands/admin/quota.js';
import { withClientOptions } from '../../src/cli/client-command.js';
import { parseQuota, parseSize } from '../../src/cli/sizes.js';
import type { ClientConnection } from '../../src/client/connection.js';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { sha256OfFile } from '../../src/transfer/file-hash.js';
import { Upload, User } from '../../src/orm/models/index.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { stdoutWrites } from '../helpers/stdout-writes.js';
import { MiB, slowDisk, waitFor } from './helpers.js';

describe('sizes as typed for quotas', () => {
  it.each([
    ['1024', 1024],
    ['500M', 500 * MiB],
    ['2G', 2 * 1024 * MiB],
    ['1.5GiB', 1.5 * 1024 * MiB],
    ['10gb', 10 * 1024 * MiB],
    ['3 K', 3 * 1024],
    ['1T', 1024 ** 4],
  ])('%s is %d bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['', 'lots', '-1G', '2X', '1e3'])('%j is refused', (text) => expect(() => parseSize(text)).toThrow(/not a size/));

  it('reads `unlimited` as 0 and `default` as null', () => {
    expect(parseQuota('unlimited')).toBe(0);
    expect(parseQuota('Default')).toBeNull();
    expect(parseQuota('2M')).toBe(2 * MiB);
  });
});

describe.each(databaseKinds)('admin quotas (%s)', (kind) => {
  let world: World;
  let boss: ClientConnection;
  let root: ClientConnection;
  const QUOTA = 5 * MiB;

  beforeAll(async () => {
    world = await startWorld(kind, { adminQuotaBytes: QUOTA, uploadLeaseSeconds: 1 });
    boss = await world.loginAs('boss', 'admin');
    root = await world.loginAs('root', 'admin');
  });
  afterAll(async () => world?.close());

  const incoming = () => readdir(world.server.app.media.incomingDir);

  it('refuses an upload over the quota before sending a byte, with used and limit', async () => {
    await uploadFile(boss, await world.makeFile('first.mp4', 3 * MiB), { isFree: true });
    let sent = 0;
    const error = await uploadFile(boss, await world.makeFile('second.mp4', 3 * MiB), { isFree: true, onProgress: (done) => (sent = done) }).catch(
      (e: Error & { code?: string; reply?: Record<string, unknown> }) => e,
    );
    expect(error).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(error.message).toBe('over your storage quota: 3 MiB used of 5 MiB, this upload needs 3 MiB');
    expect(error.reply).toMatchObject({ used_bytes: 3 * MiB, quota_bytes: QUOTA, size: 3 * MiB });
    expect(sent).toBe(0);
    expect(await incoming()).toEqual([]);
    expect(await Upload.count(world.server.app.db)).toBe(0);
  });

  it('refuses a file over the upload size limit at check_movie, whatever the quota', async () => {
    const size = world.config.maxUploadBytes + 1;
    const reply = await root.request({ type: 'check_movie', session: root.session, file_md5: 'x', size });
    expect(reply).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    expect(String(reply.msg)).toMatch(/limited to/);
  });

  it('refuses it again at the upload header, drops the bytes and keeps the connection', async () => {
    const source = await world.makeFile('sneaky.mp4', 3 * MiB);
    const header = {
      type: 'update_movie',
      session: boss.session,
      file_name: 'sneaky.mp4',
      file_size: 3 * MiB,
      file_md5: await quickMd5(source),
      is_free: 1,
      sha256: await sha256OfFile(source),
    };
    const reply = await boss.sendWithBody(header, Readable.from([Buffer.alloc(3 * MiB)]));
    expect(reply).toMatchObject({ flag: false, code: 'QUOTA_EXCEEDED', used_bytes: 3 * MiB });
    const original = await boss.sendWithBody({ ...header, sha256: undefined }, Readable.from([Buffer.alloc(3 * MiB)]));
    expect(original).toMatchObject({ flag: false, code: 'QUOTA_EXCEEDED' });
    expect(await boss.request({ type: 'server_info' })).toMatchObject({ flag: true });
    expect(await incoming()).toEqual([]);
  });

  it('counts an upload in progress, but not against its own resume', async () => {
    const cut = await world.makeFile('cut.mp4', 2 * MiB);
    const media = world.server.app.media;
    const normal = media.openUpload;
    media.openUpload = slowDisk(2);
    const conn = await world.loginAs('boss', 'admin');
    await uploadFile(conn, cut, { isFree: true, onProgress: (done) => done >= 1 * MiB && conn.close() }).catch(() => undefined);
    media.openUpload = normal;
    await waitFor(async () => (await Upload.selectOne(world.server.app.db, { user_id: await idOf('boss') }))?.holder === null, 'the cut upload');
    // 3 MiB stored + 2 MiB reserved by the cut upload: a new 1 KiB file does not fit, the resume does.
    const tiny = await uploadFile(boss, await world.makeFile('tiny.mp4', 1024), { isFree: true }).catch((e: Error) => e);
    expect(tiny).toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const resumed = await uploadFile(boss, cut, { isFree: true });
    expect(resumed.flag).toBe(true);
  });

  async function idOf(name: string): Promise<number> {
    return (await User.selectOne(world.server.app.db, { name }))!.id;
  }

  it('lets another admin raise a quota; nobody raises their own; only admins have quotas', async () => {
    const own = await boss.request({ type: 'set_quota', session: boss.session, name: 'boss', quota_bytes: 100 * MiB });
    expect(own).toMatchObject({ flag: false, code: 'FORBIDDEN' });
    const raised = await root.call('set_quota', { name: 'boss', quota_bytes: 100 * MiB });
    expect(raised).toMatchObject({ flag: true, quota_bytes: 100 * MiB, used_bytes: 5 * MiB, is_default: false });
    expect((await User.selectOne(world.server.app.db, { name: 'boss' }))!.quota_bytes).toBe(100 * MiB);
    expect((await uploadFile(boss, await world.makeFile('fits.mp4', 3 * MiB), { isFree: true })).flag).toBe(true);
    expect(await boss.call('set_quota', { name: 'boss', quota_bytes: 90 * MiB })).toMatchObject({ flag: true }); // lowering is fine

    const viewer = await world.loginAs('vera', 'user');
    expect(await viewer.request({ type: 'set_quota', session: viewer.session, name: 'boss', quota_bytes: 0 })).toMatchObject({ code: 'FORBIDDEN' });
    expect(await root.request({ type: 'set_quota', session: root.session, name: 'vera', quota_bytes: 1 })).toMatchObject({ code: 'BAD_REQUEST' });
    expect(await root.request({ type: 'set_quota', session: root.session, name: 'nobody', quota_bytes: 1 })).toMatchObject({ code: 'NOT_FOUND' });
    expect(await root.request({ type: 'set_quota', session: root.session, name: 'boss', quota_bytes: -1 })).toMatchObject({ code: 'BAD_REQUEST' });
    // Back to the default is a lowering here: another admin may not, the admin may.
    expect(await root.request({ type: 'set_quota', session: root.session, name: 'boss', quota_bytes: null })).toMatchObject({ code: 'FORBIDDEN' });
    const reset = await boss.call('set_quota', { name: 'boss', quota_bytes: null });
    expect(reset).toMatchObject({ quota_bytes: QUOTA, is_default: true });
  });

  it('`cinebox admin quota NAME SIZE` sets it over the wire', async () => {
    const out = await stdoutWrites(async () => {
      const port = String(world.server.port);
      const cli = withClientOptions(yargs()).command(adminQuota);
      await cli.parseAsync(['quota', 'boss', '2G', '--host', '127.0.0.1', '--port', port, '--name', 'root', '--password', 'secret-root', '--json']);
      await cli.parseAsync(['quota', 'boss', 'unlimited', '--host', '127.0.0.1', '--port', port, '--name', 'root', '--password', 'secret-root']);
    });
    expect(JSON.parse(out[0])).toMatchObject({ name: 'boss', quota_bytes: 2 * 1024 * MiB, is_default: false });
    expect(out[1]).toMatch(/^quota of boss: no limit; [\d.]+ MiB used\n$/);
    expect((await User.selectOne(world.server.app.db, { name: 'boss' }))!.quota_bytes).toBe(0);
    expect(process.exitCode ?? 0).toBe(0);
  });
});
