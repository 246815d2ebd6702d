/**
 * The `cinebox` command tree, built and run in this process (no build, no child): what the
 * help lists, how a mistake is refused, and subcommands run against a real server. The
 * child-process tests (commands.test.ts, operator.test.ts, pty.test.ts) are about the bin.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildCli } from '../../src/cli/program.js';
import { schemaSql } from '../../src/orm/index.js';
import { allModels } from '../../src/orm/models/index.js';
import { startWorld, type World } from '../helpers/world.js';
import { stdoutWrites } from '../helpers/stdout-writes.js';

/** Parses `argv` in-process; resolves yargs' own output (help, errors) instead of printing it or exiting. */
async function parsed(argv: string[]): Promise<{ error?: Error; output: string }> {
  const cli = (await buildCli(argv)).fail(false).exitProcess(false);
  return new Promise((resolve) => {
    try {
      void cli.parse(argv, (error: Error | undefined, _args: unknown, output: string) => resolve({ error: error ?? undefined, output }));
    } catch (error) {
      resolve({ error: error as Error, output: '' }); // a usage mistake, thrown by .fail(false)
    }
  });
}

/** Runs a command's handler in-process; returns what it wrote to stdout and the exit code it set. */
async function run(argv: string[]): Promise<{ stdout: string; exitCode: number }> {
  const stdout = (await stdoutWrites(async () => (await buildCli(argv)).fail(false).exitProcess(false).parseAsync())).join('');
  const exitCode = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { stdout, exitCode };
}

afterEach(() => {
  process.exitCode = undefined;
});

describe('the command tree, in-process', () => {
  it('lists every top-level command in the help', async () => {
    const { error, output } = await parsed(['--help']);
    expect(error).toBeUndefined();
    for (const command of ['server', 'admin', 'user', 'create-admin', 'schema']) expect(output).toMatch(new RegExp(`^\\s+cinebox ${command}\\b`, 'm'));
  });

  it('lists the viewer subcommands under `user`', async () => {
    const { output } = await parsed(['user', '--help']);
    for (const sub of ['register', 'list', 'download', 'history', 'notices', 'buy-vip']) expect(output).toMatch(new RegExp(`cinebox user ${sub}\\b`));
  });

  it('refuses an unknown option and a missing command', async () => {
    expect((await parsed(['schema', '--dialekt', 'mysql'])).error?.message).toMatch(/Unknown argument/);
    expect((await parsed([])).error?.message).toMatch(/name a command/);
  });

  it('`schema --dialect sqlite` prints the DDL of the models', async () => {
    const { stdout, exitCode } = await run(['schema', '--dialect', 'sqlite']);
    expect(exitCode).toBe(0);
    expect(stdout).toBe(schemaSql(allModels, 'sqlite'));
  });
});

describe('viewer subcommands in-process, against a real server', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite');
  });
  afterAll(async () => world?.close());

  const account = (port: number) => ['--port', String(port), '--name', 'ina', '--password', 'ina-pw', '--json'];

  it('registers, then lists an empty catalogue', async () => {
    const registered = await run(['user', 'register', ...account(world.server.port)]);
    expect(registered.exitCode).toBe(0);
    expect(JSON.parse(registered.stdout)).toEqual({ registered: true, name: 'ina', role: 'user' });
    const listed = await run(['user', 'list', ...account(world.server.port)]);
    expect(listed.exitCode).toBe(0);
    expect(JSON.parse(listed.stdout)).toEqual({ movies: [], next_after: null });
  });

  it('refuses a --retries that is not a whole number of 0 or more (exit 2), and takes 0', async () => {
    for (const bad of ['-1', '1.5']) {
      const { exitCode, stdout } = await run(['user', 'list', '--retries', bad, ...account(world.server.port)]);
      expect(exitCode).toBe(2);
      expect(JSON.parse(stdout)).toMatchObject({ ok: false, exit: 2, code: 'USAGE', message: expect.stringMatching(/^--retries must be a whole number, 0 or more/) });
    }
    expect((await run(['user', 'list', '--retries', '0', ...account(world.server.port)])).exitCode).toBe(0);
  });

  it('exits 1 with a wrong password', async () => {
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const { exitCode } = await run(['user', 'list', '--port', String(world.server.port), '--name', 'ina', '--password', 'wrong']);
      expect(exitCode).toBe(1);
      expect(stderr).toHaveBeenCalledWith('cinebox: wrong name or password\n');
    } finally {
      stderr.mockRestore();
    }
  });
});
