/**
 * Every command fails the same way: one line on stderr, or with --json one error object on
 * stdout ({ ok: false, exit, code, message }), and an exit code from one table (0 done,
 * 1 refused by the server, 2 usage mistake, 3 local mistake, 4 connection, 130 cancelled).
 * Child processes with no terminal, against a real server.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../helpers/world.js';
import { builtCli } from './helpers/built-cli.js';
import { linesOf, runCli } from './helpers/run-cli.js';

describe('messages, JSON errors and exit codes', { timeout: 60_000 }, () => {
  let main: string;
  let world: World;
  let work: string;
  const admin = { CINEBOX_NAME: 'boss', CINEBOX_PASSWORD: 'boss-pw' };
  const viewer = { CINEBOX_NAME: 'vera', CINEBOX_PASSWORD: 'vera-pw' };
  const cinebox = (args: string[], env: Record<string, string> = {}) =>
    runCli(main, args, { cwd: work, env: { CINEBOX_PORT: String(world.server.port), ...env } });
  /** With --json: nothing on stderr, one JSON object on stdout. */
  const jsonFailure = async (args: string[], env: Record<string, string> = {}) => {
    const result = await cinebox([...args, '--json'], env);
    expect(result.stderr).toBe('');
    expect(linesOf(result.stdout)).toHaveLength(1);
    return { code: result.code, error: JSON.parse(result.stdout) };
  };

  beforeAll(async () => {
    [main, world] = await Promise.all([builtCli(), startWorld('sqlite')]);
    work = join(world.dir, 'work');
    await mkdir(join(work, 'a-folder'), { recursive: true });
    await writeFile(join(work, 'empty.mp4'), '');
    await world.loginAs('boss', 'admin', 'boss-pw');
    await world.loginAs('vera', 'user', 'vera-pw');
  }, 120_000);
  afterAll(async () => world?.close());

  it('a malformed video ID is said back as typed: a usage mistake, exit 2, before any connection', async () => {
    const typed = await cinebox(['user', 'download', 'abc', '--port', '1'], viewer);
    expect(typed).toEqual({ code: 2, stdout: '', stderr: 'cinebox: not a video ID: abc (IDs are whole numbers from 1, see `list`)\n' });
    expect(await jsonFailure(['user', 'download', '1', 'abc'], viewer)).toEqual({
      code: 2,
      error: { ok: false, exit: 2, code: 'USAGE', message: 'not a video ID: abc (IDs are whole numbers from 1, see `list`)' },
    });
    const zero = await cinebox(['admin', 'delete', '0'], admin);
    expect(zero).toMatchObject({ code: 2, stderr: 'cinebox: not a video ID: 0 (IDs are whole numbers from 1, see `list`)\n' });
  });

  it('a directory, a missing file, an empty file: each its own line, exit 3, nothing sent to the server', async () => {
    const cases = [
      ['a-folder', 'IS_A_DIRECTORY', 'a-folder: is a directory, not a file'],
      ['missing.mp4', 'NO_SUCH_FILE', 'missing.mp4: no such file'],
      ['empty.mp4', 'EMPTY_FILE', 'empty.mp4: is empty (0 bytes), nothing to upload'],
    ] as const;
    for (const [file, code, message] of cases) {
      // --port 1: no server there; a local mistake is found before connecting.
      expect(await cinebox(['admin', 'upload', file, '--port', '1'], admin)).toEqual({ code: 3, stdout: '', stderr: `cinebox: ${message}\n` });
      expect(await jsonFailure(['admin', 'upload', file], admin)).toEqual({ code: 3, error: { ok: false, exit: 3, code, message } });
    }
    const all = await cinebox(['admin', 'upload', 'a-folder', 'missing.mp4', 'empty.mp4', '--port', '1'], admin);
    expect(all.code).toBe(3);
    expect(linesOf(all.stderr)).toEqual(cases.map(([, , message]) => `cinebox: ${message}`));
    expect(world.logs.filter((line) => String(line.msg).startsWith('upload'))).toEqual([]);
  });

  it('the server refuses an empty upload from any client (one that skips the local check)', async () => {
    const boss = await world.loginAs('boss', 'admin', 'boss-pw');
    const check = await boss.request({ type: 'check_movie', session: boss.session, file_md5: 'd41d8cd98f00b204e9800998ecf8427e', size: 0 });
    expect(check).toMatchObject({ flag: false, code: 'BAD_REQUEST', msg: 'check_movie: size is 0: an empty file is not a video' });
    const upload = await boss.request({ type: 'update_movie', session: boss.session, file_name: 'e.mp4', file_size: 0, file_md5: 'x', is_free: 1 });
    expect(upload).toMatchObject({ flag: false, code: 'BAD_REQUEST', msg: 'update_movie: file_size is 0: an empty file is not a video' });
    expect((await boss.request({ type: 'get_movie_list', session: boss.session, movie_type: 'all' })).code).toBe('NOT_FOUND');
  });

  it('a server refusal: exit 1, the server code in the JSON error', async () => {
    expect(await cinebox(['admin', 'delete', '99'], admin)).toEqual({ code: 1, stdout: '', stderr: 'cinebox: no video #99\n' });
    expect(await jsonFailure(['admin', 'delete', '99'], admin)).toEqual({ code: 1, error: { ok: false, exit: 1, code: 'NOT_FOUND', message: 'no video #99' } });
    expect(await jsonFailure(['user', 'list'], { ...viewer, CINEBOX_PASSWORD: 'nope' })).toEqual({
      code: 1,
      error: { ok: false, exit: 1, code: 'LOGIN_FAILED', message: 'wrong name or password' },
    });
  });

  it('usage mistakes (yargs, credentials, confirmation): exit 2, the JSON error with --json', async () => {
    const missing = await cinebox(['user', 'download'], viewer);
    expect(missing.code).toBe(2);
    expect(linesOf(missing.stderr).at(-1)).toBe('Not enough non-option arguments: got 0, need at least 1');
    const json = await cinebox(['user', 'download', '--json'], viewer);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toEqual({ ok: false, exit: 2, code: 'USAGE', message: 'Not enough non-option arguments: got 0, need at least 1' });
    expect(await jsonFailure(['user', 'list'], { CINEBOX_NAME: 'vera' })).toEqual({
      code: 2,
      error: { ok: false, exit: 2, code: 'USAGE', message: 'no password given: pass --password or set CINEBOX_PASSWORD (there is no terminal to ask on)' },
    });
  });

  it('a server that cannot be reached: exit 4, CONNECTION', async () => {
    const { code, error } = await jsonFailure(['user', 'list', '--port', '1'], viewer);
    expect(code).toBe(4);
    expect(error).toEqual({ ok: false, exit: 4, code: 'CONNECTION', message: expect.stringMatching(/^cannot connect to 127\.0\.0\.1:1: ECONNREFUSED/) });
  });

  it('help: the exit codes, examples that do not wrap at 80 columns, the upload files without `[default: []]`', async () => {
    const [adminHelp, userHelp, uploadHelp] = await Promise.all([
      cinebox(['admin', '--help']),
      cinebox(['user', '--help']),
      cinebox(['admin', 'upload', '--help']),
    ]);
    for (const { stdout } of [adminHelp, userHelp]) {
      const examples = stdout.slice(stdout.indexOf('Examples:'), stdout.indexOf('Exit codes:')).trim().split('\n').slice(1);
      expect(examples.length).toBeGreaterThan(2);
      // Each example is one line: its command, two spaces, what it does (no continuation lines).
      for (const line of examples) expect(line).toMatch(/^ {2}cinebox \S.*\S {2,}\S/);
      expect(stdout.replace(/\s+/g, ' ')).toContain('Exit codes: 0 done, 1 refused by the server, 2 usage mistake, 3 local mistake');
    }
    expect(uploadHelp.stdout).toMatch(/files +Video files \(one or more\) +\[array\] \[required\]\n/);
    expect(uploadHelp.stdout).not.toContain('[default: []]');
  });
});
