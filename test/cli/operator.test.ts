/**
 * The operator's commands as a person runs them: `cinebox create-admin` writes an admin
 * into the database, `cinebox server` serves it (options from flags and CINEBOX_*), and
 * SIGTERM stops the server gracefully with exit code 0.
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { builtCli } from './helpers/built-cli.js';

const run = promisify(execFile);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

describe('operator commands', { timeout: 120_000 }, () => {
  let main: string;
  let dir: string;
  beforeAll(async () => {
    main = await builtCli();
    dir = await mkdtemp(join(tmpdir(), 'cinebox-operator-'));
  }, 120_000);
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('creates an admin, serves it, and stops on SIGTERM with exit code 0', async () => {
    const db = `sqlite:${join(dir, 'cinebox.db')}`;
    const created = await run(process.execPath, [main, 'create-admin', 'root-admin', '--db', db, '--password', 'op-pw']);
    expect(created.stdout).toBe(`admin "root-admin" created (id 1) in ${db}\n`);
    const again = await run(process.execPath, [main, 'create-admin', 'root-admin', '--db', db, '--password', 'x']).catch((e) => e);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('taken');

    const port = await freePort();
    const server = spawn(process.execPath, [main, 'server', '--host', '127.0.0.1', '--media-dir', join(dir, 'media')], {
      env: { ...process.env, CINEBOX_PORT: String(port), CINEBOX_DB: db },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    server.stdout.setEncoding('utf8').on('data', (t: string) => (logs += t));
    const exited = new Promise<number | null>((resolve) => server.on('close', resolve));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs}`)), 60_000);
      server.stdout.on('data', () => logs.includes('cinebox listening') && (clearTimeout(timer), resolve()));
    });

    const conn = await ClientConnection.connect({ host: '127.0.0.1', port });
    const reply = await conn.call('login', { name: 'root-admin', password: wirePassword('op-pw'), user_type: 'admin' });
    expect(reply.flag).toBe(true);
    conn.close();

    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(logs).toContain('"msg":"shutting down"');
    expect(logs).toContain('"msg":"stopped"');
  });

  it('says in one line why the server cannot start (port taken), without the option list or a logged stack, and exits 3', async () => {
    const blocker = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    const { port } = blocker.address() as { port: number };
    try {
      const db = `sqlite:${join(dir, 'taken.db')}`;
      const failed = await run(process.execPath, [main, 'server', '--host', '127.0.0.1', '--port', String(port), '--db', db, '--media-dir', join(dir, 'media-taken')]).catch((e) => e);
      expect(failed.code).toBe(3);
      expect(failed.stderr).toBe(`cinebox: port ${port} is already in use (another cinebox server? choose another with --port)\n`);
      expect(failed.stdout).not.toContain('EADDRINUSE'); // no JSON log line with the stack before it
    } finally {
      blocker.close();
    }
    // A usage mistake still shows the help with the reason, and exits 2.
    const usage = await run(process.execPath, [main, 'server', '--no-such-flag']).catch((e) => e);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('--max-connections');
    expect(usage.stderr).toMatch(/Unknown argument/);
  });

  it('create-admin names the database it wrote to, and will not make a new default database in a folder the server does not use', async () => {
    const elsewhere = await mkdtemp(join(tmpdir(), 'cinebox-elsewhere-'));
    try {
      const refused = await run(process.execPath, [main, 'create-admin', 'boss', '--password', 'pw'], { cwd: elsewhere }).catch((e) => e);
      expect(refused.code).toBe(3);
      expect(refused.stderr).toMatch(new RegExp(`^cinebox: no database at ${join(elsewhere, 'data/cinebox.db')}: run create-admin in the folder the server runs in .* --db `));
      expect(existsSync(join(elsewhere, 'data'))).toBe(false);

      // Where the server has run (its first start made the file), the default is that file.
      await mkdir(join(elsewhere, 'data'));
      const server = await run(process.execPath, [main, 'create-admin', 'first', '--db', 'sqlite:data/cinebox.db', '--password', 'pw'], { cwd: elsewhere });
      expect(server.stdout).toBe(`admin "first" created (id 1) in sqlite:${join(elsewhere, 'data/cinebox.db')}\n`);
      const byDefault = await run(process.execPath, [main, 'create-admin', 'boss', '--password', 'pw'], { cwd: elsewhere });
      expect(byDefault.stdout).toBe(`admin "boss" created (id 2) in sqlite:${join(elsewhere, 'data/cinebox.db')}\n`);
      // A MySQL URL is named without its password.
      const mysql = await run(process.execPath, [main, 'create-admin', 'x', '--db', 'mysql://root:s3cret@127.0.0.1:1/nodb', '--password', 'pw']).catch((e) => e);
      expect(mysql.stderr).not.toContain('s3cret');
    } finally {
      await rm(elsewhere, { recursive: true, force: true });
    }
  });

  it('lists every server option in --help, with its environment variable', async () => {
    const { stdout } = await run(process.execPath, [main, 'server', '--help']);
    for (const option of ['--port', '--db', '--media-dir', '--admin-code', '--tls-cert', '--client-secret', '--max-connections', '--shutdown-grace']) {
      expect(stdout).toContain(option);
    }
    const top = await run(process.execPath, [main, '--help']);
    expect(top.stdout).toContain('CINEBOX_');
  });
});

describe('environment variables', { timeout: 120_000 }, () => {
  it('a CINEBOX_* variable meant for another command does not stop this one; a mistyped flag still does', async () => {
    const main = await builtCli();
    const env = { ...process.env, CINEBOX_NAME: 'alice', CINEBOX_PASSWORD: 'pw', CINEBOX_DIALECT: 'sqlite' };
    const { stdout } = await run(process.execPath, [main, 'schema'], { env });
    expect(stdout).toContain('CREATE TABLE IF NOT EXISTS "user"');
    const typo = await run(process.execPath, [main, 'schema', '--dialekt', 'x'], { env }).catch((e) => e);
    expect(typo.stderr).toContain('Unknown argument: dialekt');
  });
});
