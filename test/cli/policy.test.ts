/**
 * Viewer policies from the admin's and the viewer's side: `cinebox admin policy` sets, shows
 * and clears overrides (child processes, no terminal), `cinebox admin users` shows them,
 * `cinebox user status` a viewer's standing; the menus' entries do the same from a script.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { runAdminMenu } from '../../src/client/ui/menus/admin-menu.js';
import { runUserMenu } from '../../src/client/ui/menus/user-menu.js';
import { defaultConfig } from '../../src/server/config.js';
import { ADMIN_CODE, startWorld, type World } from '../helpers/world.js';
import { builtCli } from './helpers/built-cli.js';
import { linesOf, runCli } from './helpers/run-cli.js';
import { scriptedIO, type Step } from './helpers/scripted-io.js';

const MiB = 1024 * 1024;

describe('viewer policies in the CLI and the menus', { timeout: 60_000 }, () => {
  let main: string;
  let world: World;
  let work: string;
  const admin = { CINEBOX_NAME: 'boss', CINEBOX_PASSWORD: 'boss-pw' };
  const bob = { CINEBOX_NAME: 'bob', CINEBOX_PASSWORD: 'bob-pw' };
  const clients: CineboxClient[] = [];

  const cinebox = (args: string[], env: Record<string, string>) => runCli(main, args, { cwd: work, env: { CINEBOX_PORT: String(world.server.port), ...env } });
  const json = async (args: string[], env: Record<string, string>) => {
    const result = await cinebox([...args, '--json'], env);
    expect(result.stderr, result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  };
  const menuClient = async () => {
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    // The real class defaults (the test world lifts the normal ones), at a speed the test can wait for.
    const { normalSpeedBps: _speed, normalDailyBytes, normalDailyCount, normalMaxSessions } = defaultConfig;
    [main, world] = await Promise.all([builtCli(), startWorld('sqlite', { normalDailyBytes, normalDailyCount, normalMaxSessions, normalSpeedBps: 8 * MiB })]);
    work = join(world.dir, 'work');
    await mkdir(work);
    await world.makeFile('work/paid.mp4', MiB);
    expect((await cinebox(['admin', 'register', '--admin-code', ADMIN_CODE], admin)).code).toBe(0);
    expect((await cinebox(['admin', 'upload', 'paid.mp4', '--charge'], admin)).code).toBe(0);
    expect((await cinebox(['user', 'register'], bob)).code).toBe(0);
  }, 120_000);
  afterAll(async () => {
    for (const client of clients) client.close();
    await world?.close();
  });

  it('cinebox admin policy sets fields, shows them, and --default returns one or all to the class', async () => {
    const set = await json(['admin', 'policy', 'bob', '--speed', '1M', '--daily', '5G', '--daily-count', '10', '--max-sessions', '3', '--downloads', 'off'], admin);
    expect(set.policy).toEqual({
      downloads: 0,
      speed_bps: MiB,
      daily_bytes: 5 * 1024 ** 3,
      daily_count: 10,
      max_sessions: 3,
      is_vip: 0,
      overrides: ['downloads', 'speed_bps', 'daily_bytes', 'daily_count', 'max_sessions'],
    });
    const shown = await cinebox(['admin', 'policy', 'bob'], admin);
    expect(linesOf(shown.stdout)).toEqual(['bob: downloads off* (* set for this viewer)']);

    const users = await json(['admin', 'users'], admin);
    const row = users.users.find((u: { name: string }) => u.name === 'bob');
    expect(row).toMatchObject({ policy: { downloads: 0, speed_bps: MiB }, usage_today: { bytes: 0, count: 0 }, sessions: 0 });
    expect(users.users.find((u: { name: string }) => u.name === 'boss').policy).toBeUndefined();

    const one = await json(['admin', 'policy', 'bob', '--default', 'speed', 'downloads'], admin);
    expect(one.policy).toMatchObject({ downloads: 1, speed_bps: 8 * MiB, daily_bytes: 5 * 1024 ** 3, overrides: ['daily_bytes', 'daily_count', 'max_sessions'] });
    const table = await cinebox(['admin', 'users'], admin);
    expect(table.stdout).toMatch(/bob .*8\.4 MB\/s, 5\.4 GB\*/); // the rest of the line is cut at 80 columns

    const all = await json(['admin', 'policy', 'bob', '--default'], admin);
    expect(all.policy).toEqual({
      downloads: 1,
      speed_bps: 8 * MiB,
      daily_bytes: defaultConfig.normalDailyBytes,
      daily_count: defaultConfig.normalDailyCount,
      max_sessions: defaultConfig.normalMaxSessions,
      is_vip: 0,
      overrides: [],
    });
  });

  it('refuses a value it cannot read, and an admin as the target, in one line', async () => {
    const bad = await cinebox(['admin', 'policy', 'bob', '--speed', 'fast'], admin);
    expect(bad.code).not.toBe(0);
    expect(linesOf(bad.stderr)).toEqual([expect.stringMatching(/^cinebox: --speed: speed_bps: "fast" is not a size such as 1M/)]);
    const adminTarget = await cinebox(['admin', 'policy', 'boss', '--speed', '1M'], admin);
    expect(adminTarget.code).toBe(1);
    expect(linesOf(adminTarget.stderr)).toEqual(['cinebox: policies apply to viewers only']);
  });

  it('cinebox user status shows the class, today against the allowance, speed, sessions and purchases', async () => {
    const download = await cinebox(['user', 'download', '1', '--yes', '-o', 'bob-downloads'], bob);
    expect(download.code, download.stderr).toBe(0);
    const status = await json(['user', 'status'], bob);
    expect(status).toMatchObject({
      name: 'bob',
      is_vip: 0,
      usage: { bytes: MiB, count: 1 },
      policy: { speed_bps: 8 * MiB, daily_bytes: defaultConfig.normalDailyBytes },
      sessions: 1,
      purchases: [expect.objectContaining({ movie_id: 1, name: 'paid.mp4', price_cents: defaultConfig.paidPriceNormalCents })],
    });
    const text = linesOf((await cinebox(['user', 'status'], bob)).stdout);
    expect(text[0]).toBe('bob: normal viewer');
    expect(text).toContainEqual(expect.stringMatching(/^today \(\d{4}-\d\d-\d\d\): 1\.0 MB of 2\.1 GB, 1 of 50 downloads; resets \d{4}-\d\d-\d\d 00:00 /));
    expect(text).toContainEqual('speed: 8.4 MB/s (shared by your downloads at once)');
    expect(text).toContainEqual('sessions: 1 live of 2 (a login past it ends the oldest)');
    expect(text).toContainEqual(expect.stringMatching(/^  #1 paid\.mp4 — 10\.00 on /));
  });

  it("menus: an admin sets a viewer's daily count, the viewer sees it under My account", async () => {
    const steps: Step[] = [
      ['select', 'boss', "A viewer's policy"],
      ['select', 'Whose policy?', 'bob'],
      ['select', 'Change what for bob?', 'Downloads a day'],
      ['input', 'Downloads a day', 'lots'],
      ['input', 'Downloads a day', '7'],
      ['select', 'boss', 'Quit'],
    ];
    const adminIo = scriptedIO(steps);
    expect(await runAdminMenu({ client: await menuClient(), io: adminIo }, { uploadDir: work, name: 'boss', password: 'boss-pw' })).toBe(0);
    expect(adminIo.remaining()).toEqual([]);
    expect(adminIo.output).toContain('> daily_count: "lots" is not a whole number (or unlimited, default)');
    expect(adminIo.output.join('\n')).toMatch(/policy of bob: .*daily count 7.*\(set for this viewer: daily_count\)/);

    const viewerIo = scriptedIO([
      ['select', 'bob', 'My account'],
      ['select', 'bob', 'Quit'],
    ]);
    expect(await runUserMenu({ client: await menuClient(), io: viewerIo }, { outDir: work, name: 'bob', password: 'bob-pw' })).toBe(0);
    expect(viewerIo.output).toContainEqual(expect.stringMatching(/^today .*1 of 7 downloads/));
  });
});
