/**
 * Issue 5, the accounts in the admin clients: `cinebox admin users|lock|unlock` as child
 * processes against a real server (the viewer feels a lock on their next request, an unlock
 * lets them back in, a temporary lock after failed logins is shown and cleared), the same
 * three entries in the admin menu driven by a script, and the users table itself.
 */
import stringWidth from 'string-width';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient, type UserRow } from '../../src/client/cinebox-client.js';
import { runAdminMenu } from '../../src/client/ui/menus/admin-menu.js';
import { usersTable } from '../../src/client/ui/table.js';
import { startWorld, type World } from '../helpers/world.js';
import { builtCli } from './helpers/built-cli.js';
import { linesOf, runCli } from './helpers/run-cli.js';
import { scriptedIO, type Step } from './helpers/scripted-io.js';

describe('cinebox admin users / lock / unlock (child processes, no terminal)', { timeout: 60_000 }, () => {
  let main: string;
  let world: World;
  const admin = { CINEBOX_NAME: 'boss', CINEBOX_PASSWORD: 'boss-pw' };
  const viewer = { CINEBOX_NAME: 'alice', CINEBOX_PASSWORD: 'alice-pw' };

  const cinebox = (args: string[], env: Record<string, string> = {}) =>
    runCli(main, args, { cwd: world.dir, env: { CINEBOX_PORT: String(world.server.port), ...env } });
  const json = async (args: string[], env: Record<string, string> = {}) => {
    const result = await cinebox([...args, '--json'], env);
    expect(result.stderr, result.stderr).toBe('');
    expect(result.code).toBe(0);
    return JSON.parse(result.stdout);
  };
  const userNamed = async (name: string): Promise<UserRow> =>
    (await json(['admin', 'users'], admin)).users.find((u: UserRow) => u.name === name);

  beforeAll(async () => {
    // Two failed logins lock an account for a while; the address is never blocked.
    [main, world] = await Promise.all([builtCli(), startWorld('sqlite', { accountMaxFailures: 2, loginMaxFailures: 1000 })]);
    await world.loginAs('boss', 'admin', 'boss-pw');
    await world.loginAs('alice', 'user', 'alice-pw');
    await world.loginAs('王小明', 'user', 'wang-pw');
  }, 120_000);
  afterAll(async () => world?.close());

  it('lists the accounts as JSON and as a table that fits 80 columns', async () => {
    const [{ users }, table] = await Promise.all([json(['admin', 'users'], admin), cinebox(['admin', 'users'], admin)]);
    const account = (id: number, name: string, userType: string) => ({
      id,
      name,
      user_type: userType,
      is_vip: 0,
      is_locked: 0,
      failed_logins: 0,
      locked_until: null,
      register_time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      // Viewers also carry their policy (test/cli/policy.test.ts has its fields).
      ...(userType === 'user' ? { policy: expect.objectContaining({ downloads: 1 }), usage_today: expect.objectContaining({ bytes: 0 }), sessions: expect.any(Number) } : {}),
    });
    expect(users).toEqual([account(1, 'boss', 'admin'), account(2, 'alice', 'user'), account(3, '王小明', 'user')]);

    expect(table).toMatchObject({ code: 0, stderr: '' });
    const [accounts, policies] = table.stdout.split('\n\n');
    const lines = linesOf(accounts!);
    expect(linesOf(policies!)[0]).toMatch(/^Viewer\s+Policy/);
    for (const line of linesOf(policies!)) expect(stringWidth(line)).toBeLessThanOrEqual(80);
    expect(lines[0]).toMatch(/^ID\s+Name\s+Role\s+VIP\s+Locked\s+Failed\s+Registered$/);
    expect(lines[2]).toMatch(/^ 1 {2}boss +admin +\d{4}-\d\d-\d\d \d\d:\d\d$/);
    expect(lines[4]).toMatch(/^ 3 {2}王小明 +viewer +\d{4}-/);
    for (const line of lines) expect(stringWidth(line)).toBeLessThanOrEqual(80);
    // The CJK name takes two columns per character: the roles still line up.
    const roleAt = (line: string) => stringWidth(line.slice(0, line.search(/admin|viewer/)));
    expect(new Set(lines.slice(2).map(roleAt)).size).toBe(1);
  });

  it("locks a viewer: their next request fails with the server's message and exit 1", async () => {
    expect(await json(['admin', 'lock', 'alice'], admin)).toEqual({ locked: 'alice' });
    const refused = await cinebox(['user', 'list'], viewer);
    expect(refused).toMatchObject({ code: 1, stdout: '', stderr: 'cinebox: account is locked\n' });

    expect(await userNamed('alice')).toMatchObject({ is_locked: 1 });
    const table = await cinebox(['admin', 'users'], admin);
    expect(table.stdout).toMatch(/^ 2 {2}alice +viewer +locked +\d{4}-/m);
  });

  it('unlocks the viewer: they are back', async () => {
    const done = await cinebox(['admin', 'unlock', 'alice'], admin);
    expect(done).toMatchObject({ code: 0, stdout: 'unlocked alice\n', stderr: '' });
    expect(await json(['user', 'list'], viewer)).toEqual({ movies: [], next_after: null });
  });

  it('shows a temporary lock after failed logins, and unlock clears it and the count', async () => {
    for (let i = 0; i < 2; i++) expect((await cinebox(['user', 'list', '--password', 'nope'], viewer)).code).toBe(1);
    const locked = await cinebox(['user', 'list'], viewer);
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(/^cinebox: account locked after repeated failed logins; try again in \d+ s\n$/);

    const row = await userNamed('alice');
    expect(row).toMatchObject({ is_locked: 0, failed_logins: 2, locked_until: expect.any(String) });
    const table = await cinebox(['admin', 'users'], admin);
    expect(table.stdout).toMatch(/^ 2 {2}alice +viewer +until \d\d:\d\d +2 {2}\d{4}-/m);

    expect(await json(['admin', 'unlock', 'alice'], admin)).toEqual({ unlocked: 'alice' });
    expect(await userNamed('alice')).toMatchObject({ is_locked: 0, failed_logins: 0, locked_until: null });
    expect((await cinebox(['user', 'list'], viewer)).code).toBe(0);
  });

  it('refuses with one line: locking yourself, an unknown name, a viewer asking for the users', async () => {
    const [self, unknown, unknownUnlock, viewerAsAdmin] = await Promise.all([
      cinebox(['admin', 'lock', 'boss'], admin),
      cinebox(['admin', 'lock', 'nobody'], admin),
      cinebox(['admin', 'unlock', 'nobody', '--json'], admin),
      cinebox(['admin', 'users'], viewer),
    ]);
    expect(self).toMatchObject({ code: 1, stdout: '', stderr: 'cinebox: you cannot lock yourself out\n' });
    expect(unknown).toMatchObject({ code: 1, stdout: '', stderr: 'cinebox: no user "nobody"\n' });
    // With --json the failure is the one JSON object on stdout.
    expect(unknownUnlock).toMatchObject({ code: 1, stderr: '' });
    expect(JSON.parse(unknownUnlock.stdout)).toEqual({ ok: false, exit: 1, code: 'NOT_FOUND', message: 'no user "nobody"' });
    expect(viewerAsAdmin).toMatchObject({ code: 1, stdout: '' });
    expect(linesOf(viewerAsAdmin.stderr)).toEqual([expect.stringMatching(/^cinebox: /)]);
    expect((await userNamed('boss')).is_locked).toBe(0);
  });

  it('lists the three commands in --help', async () => {
    const help = await cinebox(['admin', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/cinebox admin users\s+List the accounts/);
    expect(help.stdout).toMatch(/cinebox admin lock <user>\s+Lock an account/);
    expect(help.stdout).toMatch(/cinebox admin unlock <user>\s+Unlock an account/);
  });
});

describe('the admin menu: Users, Lock a user, Unlock a user (scripted)', () => {
  let world: World;
  const clients: CineboxClient[] = [];
  const connect = async () => {
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });
    clients.push(client);
    return client;
  };
  const adminMenu = async (steps: Step[]) => {
    const io = scriptedIO(steps);
    const code = await runAdminMenu({ client: await connect(), io }, { uploadDir: world.dir, name: 'boss', password: 'boss-pw' });
    return { io, code };
  };
  const main = (item: string): Step => ['select', 'boss', item];

  beforeAll(async () => {
    world = await startWorld('sqlite');
    await world.loginAs('boss', 'admin', 'boss-pw');
    await world.loginAs('alice', 'user', 'alice-pw');
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await world?.close();
  });

  it('lists the users, locks a viewer after a confirmation (they are cut off at once), unlocks them', async () => {
    const alice = await connect();
    await alice.login('alice', 'alice-pw', 'user');

    const locking = await adminMenu([
      main('Unlock a user'),
      main('Users'),
      main('Lock a user'),
      ['select', 'Lock which user?', 'alice'],
      ['confirm', 'Lock alice?', false],
      main('Lock a user'),
      ['select', 'Lock which user?', '← Back'],
      main('Lock a user'),
      ['select', 'Lock which user?', 'alice'],
      ['confirm', 'Lock alice?', true],
      main('Quit'),
    ]);
    expect(locking.code).toBe(0);
    expect(locking.io.remaining()).toEqual([]);
    expect(locking.io.warnings).toEqual([]);
    expect(locking.io.output).toContain('no locked users');
    const table = locking.io.output.slice(locking.io.output.findIndex((line) => line.startsWith('ID ')));
    expect(table[0]).toMatch(/^ID\s+Name\s+Role\s+VIP\s+Locked\s+Failed\s+Registered$/);
    expect(table[2]).toMatch(/^ 1 {2}boss +admin +\d{4}-/);
    expect(table[3]).toMatch(/^ 2 {2}alice +viewer +\d{4}-/);
    // The admin cannot pick themselves.
    expect(locking.io.asked.find((a) => a.message === 'Lock which user?')?.choices).toEqual(['- boss  (admin)', 'alice  (viewer)', '← Back']);
    expect(locking.io.output.filter((line) => line === 'locked alice')).toHaveLength(1);
    // The viewer's session stops working on their next request.
    await expect(alice.listMovies()).rejects.toThrow('account is locked');

    const unlocking = await adminMenu([
      main('Lock a user'),
      ['select', 'Lock which user?', '← Back'],
      main('Unlock a user'),
      ['select', 'Unlock which user?', 'alice'],
      main('Quit'),
    ]);
    expect(unlocking.code).toBe(0);
    expect(unlocking.io.remaining()).toEqual([]);
    expect(unlocking.io.asked.find((a) => a.message === 'Lock which user?')?.choices).toEqual([
      '- boss  (admin)',
      '- alice  (viewer, locked)',
      '← Back',
    ]);
    expect(unlocking.io.asked.find((a) => a.message === 'Unlock which user?')?.choices).toEqual(['alice  (viewer, locked)', '← Back']);
    expect(unlocking.io.output).toContain('unlocked alice');
    expect(await alice.listMovies()).toEqual([]);
  });
});

describe('the users table', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  const user = (id: number, name: string, extra: Partial<UserRow> = {}): UserRow => ({
    id,
    name,
    user_type: 'user',
    is_vip: 0,
    is_locked: 0,
    failed_logins: 0,
    locked_until: null,
    register_time: '2024-04-01T08:00:00.000Z',
    ...extra,
  });

  it('shows roles, VIP, both kinds of lock and failures, lined up within 80 columns even with long CJK names', () => {
    const table = usersTable(
      [
        user(1, 'boss', { user_type: 'admin' }),
        user(2, 'alice', { is_vip: 1, is_locked: 1 }),
        user(3, '王小明', { failed_logins: 7, locked_until: '2024-05-01T12:30:00.000Z' }),
        user(4, 'bob', { failed_logins: 1, locked_until: '2024-05-01T11:00:00.000Z' }), // a lock that has run out
        user(5, '日本語のとても長い名前のユーザーです、本当に長いのでここで切れるはず'),
      ],
      80,
      now,
    );
    const lines = table.split('\n');
    for (const line of lines) expect(stringWidth(line)).toBeLessThanOrEqual(80);
    const locked = (line: string) => line.slice(lines[0].indexOf('Locked'));
    expect(lines[3]).toMatch(/ alice +viewer +yes +locked /);
    const until = new Date('2024-05-01T12:30:00.000Z');
    const hhmm = `${String(until.getHours()).padStart(2, '0')}:${String(until.getMinutes()).padStart(2, '0')}`;
    expect(lines[4]).toMatch(new RegExp(` 王小明 +viewer +until ${hhmm} +7 `));
    expect(locked(lines[5]).trimStart()).toMatch(/^1 {2}\d{4}-/);
    expect(lines[6]).toContain('…');
    const columnOf = (line: string, text: string) => stringWidth(line.slice(0, line.indexOf(text)));
    expect(new Set(lines.slice(2).map((line) => columnOf(line, line.includes('admin') ? 'admin' : 'viewer'))).size).toBe(1);
  });
});
