/**
 * The scriptable commands as a script runs them: `node main.js user …` child processes with
 * no terminal, against a real server. The whole README story (admin code, two uploads, a
 * viewer who buys VIP and downloads both, notices), then `--json` shapes, exit codes and
 * the one-line failures.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_CODE, startWorld, type World } from '../helpers/world.js';
import { builtCli } from './helpers/built-cli.js';
import { linesOf, runCli } from './helpers/run-cli.js';

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('cinebox admin/user subcommands (child processes, no terminal)', { timeout: 60_000 }, () => {
  let main: string;
  let world: World;
  let work: string;
  let freePath: string;
  let paidPath: string;
  const admin = { CINEBOX_NAME: 'boss', CINEBOX_PASSWORD: 'boss-pw' };
  const viewer = { CINEBOX_NAME: 'alice', CINEBOX_PASSWORD: 'alice-pw' };

  const cinebox = (args: string[], env: Record<string, string> = {}) =>
    runCli(main, args, { cwd: work, env: { CINEBOX_PORT: String(world.server.port), ...env } });
  const json = async (args: string[], env: Record<string, string> = {}) => {
    const result = await cinebox([...args, '--json'], env);
    expect(result.stderr, result.stderr).not.toContain('cinebox:');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  };

  beforeAll(async () => {
    [main, world] = await Promise.all([
      builtCli(),
      startWorld('sqlite', { freeWaitSeconds: 1, vipPriceCents: 3000, paidPriceVipCents: 500, paidPriceNormalCents: 1000 }),
    ]);
    work = join(world.dir, 'work');
    await mkdir(work);
    freePath = await world.makeFile('work/free.mp4', 2 * 1024 * 1024 + 3);
    paidPath = await world.makeFile('work/付费电影.mkv', 1024 * 1024 + 7);
  }, 120_000);
  afterAll(async () => world?.close());

  it('registers an admin only with the admin code', async () => {
    const refused = await cinebox(['admin', 'register', '--admin-code', 'guess'], admin);
    expect(refused.code).toBe(1);
    expect(linesOf(refused.stderr)).toEqual([expect.stringMatching(/^cinebox: .*admin code/)]);

    const done = await cinebox(['admin', 'register', '--admin-code', ADMIN_CODE], admin);
    expect(done).toMatchObject({ code: 0, stderr: '' });
    expect(done.stdout).toBe('registered admin "boss"\n');
  });

  it('uploads a free and a paid video, with plain progress lines that end at 100%', async () => {
    const free = await cinebox(['admin', 'upload', 'free.mp4'], admin);
    expect(free.code).toBe(0);
    const lines = linesOf(free.stdout);
    // A new file is hashed while it is sent: one progress, the upload's.
    expect(lines.filter((line) => line.startsWith('hash '))).toEqual([]);
    const progress = lines.filter((line) => line.startsWith('upload free.mp4: '));
    expect(progress.length).toBeGreaterThan(0);
    for (const line of progress) expect(line).toMatch(/^upload free\.mp4: \d{1,3}% \d+\.\d\/2\.1 MB( \S+ [KMG]?B\/s)?$/);
    expect(progress.at(-1)).toMatch(/: 100% 2\.1\/2\.1 MB/);
    expect(progress.filter((line) => line.includes(' 100% '))).toHaveLength(1);
    expect(lines.at(-1)).toBe('uploaded free.mp4 as #1 (free, 2.1 MB)');
    expect(free.stdout).not.toMatch(/\u001b\[/); // no bar redraws when not on a terminal

    const paid = await json(['admin', 'upload', paidPath, '--charge'], admin);
    expect(paid).toEqual({
      uploads: [{ file: paidPath, name: '付费电影.mkv', movie_id: 2, is_free: 0, size: 1024 * 1024 + 7, sha256: await sha256(paidPath) }],
      failed: [],
    });
  });

  it('reports a duplicate or missing file per file, keeps going, and exits with the highest code (3, local)', async () => {
    const result = await cinebox(['admin', 'upload', 'free.mp4', 'missing.mp4', '--quiet'], admin);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    expect(linesOf(result.stderr)).toEqual([
      expect.stringMatching(/^cinebox: free\.mp4: this video is already stored as #1/),
      'cinebox: missing.mp4: no such file',
    ]);
  });

  it('publishes a notice', async () => {
    expect(await json(['admin', 'notice', '--title', '新片上架', '--content', 'Two new films'], admin)).toEqual({ notice_id: 1, title: '新片上架' });
  });

  it('registers a viewer who lists the videos as a table and as JSON', async () => {
    expect((await cinebox(['user', 'register'], viewer)).code).toBe(0);
    await world.server.app.facts.idle(); // both files are random bytes: "unknown format" once probed
    const [table, all, charge, free] = await Promise.all([
      cinebox(['user', 'list'], viewer),
      json(['user', 'list'], viewer),
      json(['user', 'list', '--charge'], viewer),
      json(['user', 'list', '--free'], viewer),
    ]);
    expect(table.code).toBe(0);
    expect(linesOf(table.stdout)[0]).toMatch(/^ID\s+Name\s+Type\s+Size\s+Length\s+Picture\s+Uploaded$/);
    expect(table.stdout).toMatch(/ 1 {2}free\.mp4 +free +2\.1 MB {2}unknown format +\d{4}-\d\d-\d\d \d\d:\d\d/);
    expect(table.stdout).toMatch(/ 2 {2}付费电影\.mkv +paid +1\.0 MB/);

    const unknown = { format: 'unknown', container: null, duration_ms: null, width: null, height: null, video_codec: null, audio_codec: null, bit_rate: null, streamable: null };
    expect(all).toEqual({
      movies: [
        { id: 1, name: 'free.mp4', is_free: 1, size: 2 * 1024 * 1024 + 3, sha256: await sha256(freePath), create_time: expect.any(String), facts: unknown },
        // `bought`: only for a viewer's paid videos.
        { id: 2, name: '付费电影.mkv', is_free: 0, size: 1024 * 1024 + 7, sha256: await sha256(paidPath), create_time: expect.any(String), facts: unknown, bought: 0 },
      ],
      next_after: null,
    });
    expect(charge.movies.map((m: { id: number }) => m.id)).toEqual([2]);
    expect(free.movies.map((m: { id: number }) => m.id)).toEqual([1]);
  });

  it('will not pay without --yes when there is no terminal to ask on', async () => {
    const [vip, paid] = await Promise.all([cinebox(['user', 'buy-vip'], viewer), cinebox(['user', 'download', '2', '--out', 'early'], viewer)]);
    expect(vip.code).toBe(2);
    expect(linesOf(vip.stderr)).toEqual([expect.stringMatching(/^cinebox: Buy VIP for 30\.00\?.*--yes/)]);
    expect(paid.code).toBe(2);
    expect(linesOf(paid.stderr)).toEqual([expect.stringMatching(/^cinebox: #2 "付费电影\.mkv" is a paid video: pay 10\.00.*--yes/)]);
    expect(await readdir(work)).not.toContain('early');
  });

  it('buys VIP once', async () => {
    expect(await json(['user', 'buy-vip', '--yes'], viewer)).toEqual({ is_vip: true, price_cents: 3000 });
    const again = await cinebox(['user', 'buy-vip', '--yes'], viewer);
    expect(again.code).toBe(1);
    expect(linesOf(again.stderr)).toEqual(['cinebox: you are already a VIP']);
  });

  it('downloads both videos, verified: the files on disk hash like the originals', async () => {
    const result = await json(['user', 'download', '1', '2', '--yes', '--out', 'downloads'], viewer);
    expect(result.downloads).toEqual([
      { id: 1, name: 'free.mp4', path: join('downloads', 'free.mp4'), size: 2 * 1024 * 1024 + 3, sha256: await sha256(freePath), charged_cents: 0 },
      { id: 2, name: '付费电影.mkv', path: join('downloads', '付费电影.mkv'), size: 1024 * 1024 + 7, sha256: await sha256(paidPath), charged_cents: 500 },
    ]);
    expect(await sha256(join(work, 'downloads/free.mp4'))).toBe(await sha256(freePath));
    expect(await sha256(join(work, 'downloads/付费电影.mkv'))).toBe(await sha256(paidPath));
    expect((await readdir(join(work, 'downloads'))).sort()).toEqual(['free.mp4', '付费电影.mkv']);
  });

  it('shows download progress as plain lines, and the non-VIP wait, when not on a terminal', async () => {
    await cinebox(['user', 'register'], { CINEBOX_NAME: 'bob', CINEBOX_PASSWORD: 'bob-pw' });
    const result = await cinebox(['user', 'download', '1', '-o', 'bob'], { CINEBOX_NAME: 'bob', CINEBOX_PASSWORD: 'bob-pw' });
    expect(result.code).toBe(0);
    const lines = linesOf(result.stdout);
    expect(lines[0]).toBe('non-VIP wait before a free download (VIP viewers skip it): 1 s');
    const progress = lines.filter((line) => line.startsWith('download free.mp4: '));
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)).toMatch(/^download free\.mp4: 100% 2\.1\/2\.1 MB/);
    expect(lines.at(-1)).toBe(`saved ${join('bob', 'free.mp4')} (2.1 MB, SHA-256 verified)`);
  });

  it('shows the history and the notices', async () => {
    const [{ records }, history, { notices }, text, adminNotices] = await Promise.all([
      json(['user', 'history'], viewer),
      cinebox(['user', 'history'], viewer),
      json(['user', 'notices'], viewer),
      cinebox(['user', 'notices'], viewer),
      json(['admin', 'notices'], admin),
    ]);
    expect(records.map((r: { movie_id: number; name: string }) => [r.movie_id, r.name])).toEqual([
      [2, '付费电影.mkv'],
      [1, 'free.mp4'],
    ]);
    expect(linesOf(history.stdout)[0]).toMatch(/^Downloaded\s+ID\s+Name$/);
    expect(notices).toEqual([{ id: 1, title: '新片上架', content: 'Two new films', create_time: expect.any(String) }]);
    expect(text.stdout).toMatch(/新片上架 {2}Two new films/);
    expect(adminNotices.notices).toHaveLength(1);
  });

  it('deletes a video: viewers no longer see it', async () => {
    expect(await json(['admin', 'delete', '1'], admin)).toEqual({ deleted: 1 });
    expect((await json(['user', 'list'], viewer)).movies.map((m: { id: number }) => m.id)).toEqual([2]);
    const again = await cinebox(['admin', 'delete', '1'], admin);
    expect(again.code).toBe(1);
    expect(linesOf(again.stderr)).toEqual(['cinebox: no video #1']);
  });

  it('fails with one line and exit 1 on a wrong password, and exit 2 when asked for credentials without a terminal', async () => {
    const [wrong, missing, viewerAsAdmin] = await Promise.all([
      cinebox(['user', 'list', '--password', 'nope'], viewer),
      cinebox(['user', 'list'], { CINEBOX_NAME: 'alice' }),
      cinebox(['admin', 'list'], viewer),
    ]);
    expect(wrong).toMatchObject({ code: 1, stdout: '' });
    expect(wrong.stderr).toBe('cinebox: wrong name or password\n');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe('cinebox: no password given: pass --password or set CINEBOX_PASSWORD (there is no terminal to ask on)\n');
    expect(viewerAsAdmin.code).toBe(1);
    expect(linesOf(viewerAsAdmin.stderr)).toHaveLength(1);
  });

  it('fails with one clear line and exit 4 when the server is down', async () => {
    const result = await cinebox(['user', 'list', '--port', '1'], viewer);
    expect(result).toMatchObject({ code: 4, stdout: '' });
    expect(result.stderr).toBe('cinebox: cannot connect to 127.0.0.1:1: ECONNREFUSED (is `cinebox server` running there? see --host/--port)\n');
  });

  it('refuses the menu without a terminal, pointing at the subcommands', async () => {
    const result = await cinebox(['user']);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('cinebox: the menu needs a terminal; for scripts use a subcommand (see --help)\n');
  });

  it('has --help on every level', async () => {
    const commands = [['user'], ['admin'], ['user', 'download'], ['user', 'buy-vip'], ['admin', 'upload'], ['admin', 'notice']];
    const results = await Promise.all(commands.map((command) => cinebox([...command, '--help'])));
    results.forEach((result, i) => {
      expect(result.code).toBe(0);
      expect(result.stdout).toContain(`cinebox ${commands[i].join(' ')}`);
      expect(result.stdout).toContain('--host');
      expect(result.stdout).toContain('--json');
    });
    expect(results[0].stdout).toMatch(/cinebox user download <ids\.\.>\s+Download videos by ID/);
    expect(results[4].stdout).toMatch(/--charge\s+Make them paid videos/);
  });
});

describe('cinebox user against a server with TLS and a client secret', { timeout: 60_000 }, () => {
  let main: string;
  let world: World;
  let cert: string;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cinebox-tls-'));
    cert = join(dir, 'cert.pem');
    const key = join(dir, 'key.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
    ], { stdio: 'ignore' });
    [main, world] = await Promise.all([builtCli(), startWorld('sqlite', { tlsCert: cert, tlsKey: key, clientSecret: 'shh' })]);
  }, 120_000);
  afterAll(async () => world?.close());

  const cinebox = (args: string[]) =>
    runCli(main, args, { cwd: world.dir, env: { CINEBOX_PORT: String(world.server.port), CINEBOX_NAME: 'tess', CINEBOX_PASSWORD: 'pw' } });

  it('connects with --tls-ca and --client-secret, and says so in one line when either is missing', async () => {
    const [ok, noSecret, noTls] = await Promise.all([
      cinebox(['user', 'register', '--ca', cert, '--client-secret', 'shh', '--json']),
      cinebox(['user', 'register', '--tls-ca', cert]),
      cinebox(['user', 'register', '--client-secret', 'shh', '--connect-timeout', '1']),
    ]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ registered: true, name: 'tess', role: 'user' });
    for (const failed of [noSecret, noTls]) {
      expect(failed.code).toBe(4);
      expect(linesOf(failed.stderr)).toEqual([expect.stringMatching(/^cinebox: .*127\.0\.0\.1:\d+/)]);
    }
  });
});
