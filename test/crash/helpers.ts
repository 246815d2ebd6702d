/**
 * For the crash tests: a real `cinebox server` child process (the built CLI) that can be
 * killed with SIGKILL and started again on the same database and media directory, and the
 * invariants a restart must leave, read straight from the database and the disk.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ClientConnection } from '../../src/client/connection.js';
import { openDatabase } from '../../src/orm/index.js';
import { Movie, Upload } from '../../src/orm/models/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';

export const ADMIN_CODE = 'crash-admin-code';

export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

export interface Node {
  child: ChildProcess;
  port: number;
  logs: () => string;
  /** Resolves with the signal that ended the process (or its exit code). */
  ended: Promise<NodeJS.Signals | number | null>;
  kill(): Promise<void>;
}

export async function startNode(main: string, options: { db: string; mediaDir: string; crashAt?: string; uploadLease?: string; args?: string[] }): Promise<Node> {
  const port = await freePort();
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CINEBOX_')));
  const child = spawn(
    process.execPath,
    [main, 'server', '--host', '127.0.0.1', '--port', String(port), '--db', options.db, '--media-dir', options.mediaDir,
      '--admin-code', ADMIN_CODE, '--upload-lease', options.uploadLease ?? '0.6', '--scrypt-n', '1024', '--log-level', 'info', ...(options.args ?? [])],
    { env: { ...env, ...(options.crashAt ? { CINEBOX_CRASH_AT: options.crashAt } : {}) }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let logs = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (logs += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (logs += text));
  const ended = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${logs}`)), 60_000);
    const check = () => logs.includes('cinebox listening') && (clearTimeout(timer), resolve());
    child.stdout!.on('data', check);
    void ended.then(() => (clearTimeout(timer), reject(new Error(`server exited at start:\n${logs}`))));
  });
  return {
    child,
    port,
    logs: () => logs,
    ended,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await ended;
    },
  };
}

export async function adminConnection(port: number, register: boolean): Promise<ClientConnection> {
  const conn = await ClientConnection.connect({ host: '127.0.0.1', port });
  const credentials = { name: 'crash-admin', password: wirePassword('crash-pw'), user_type: 'admin' as const };
  if (register) await conn.request({ type: 'register', ...credentials, admin_code: ADMIN_CODE });
  const reply = await conn.call('login', credentials);
  conn.session = String(reply.session);
  return conn;
}

export async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

const sizeOf = (path: string) => stat(path).then((s) => s.size, () => undefined);

/** Upload rows that claim more bytes than their partial holds (a partial gone holds 0). */
export async function rowsAheadOfDisk(dbUrl: string, mediaDir: string): Promise<string[]> {
  const db = await openDatabase(dbUrl);
  try {
    const ahead: string[] = [];
    for (const row of await Upload.select(db)) {
      const held = (await sizeOf(join(mediaDir, '.incoming', row.temp_name))) ?? 0;
      if (row.received_bytes > held) ahead.push(`upload #${row.id} claims ${row.received_bytes}, its partial holds ${held}`);
    }
    return ahead;
  } finally {
    await db.close();
  }
}

/**
 * Everything a restart must leave whole, as a list of violations: every acknowledged upload
 * stored exactly once with the right SHA-256, no file without a row, no row without a file,
 * no upload row ahead of its partial.
 */
export async function violations(dbUrl: string, mediaDir: string, acknowledged: Set<string>): Promise<string[]> {
  const db = await openDatabase(dbUrl);
  const found: string[] = [];
  try {
    const movies = await Movie.select(db);
    const uploads = await Upload.select(db);
    for (const sha of acknowledged) {
      const copies = movies.filter((movie) => movie.sha256 === sha && movie.is_delete === 0);
      if (copies.length !== 1) found.push(`acknowledged ${sha.slice(0, 12)} is stored ${copies.length} times`);
    }
    for (const movie of movies.filter((m) => m.is_delete === 0)) {
      const path = join(mediaDir, movie.path);
      if ((await sizeOf(path)) === undefined) found.push(`video #${movie.id} has no file ${movie.path}`);
      else if ((await sha256Of(path)) !== movie.sha256) found.push(`video #${movie.id}: ${movie.path} has the wrong SHA-256`);
    }
    const named = new Set(movies.map((movie) => movie.path));
    for (const name of await readdir(mediaDir)) {
      if (!name.startsWith('.') && !named.has(name)) found.push(`media/${name} has no movie row`);
    }
    const partials = new Set(uploads.map((row) => row.temp_name));
    for (const name of await readdir(join(mediaDir, '.incoming'))) {
      if (name.endsWith('.part') && !partials.has(name)) found.push(`.incoming/${name} has no upload row`);
    }
    for (const row of uploads) {
      const held = (await sizeOf(join(mediaDir, '.incoming', row.temp_name))) ?? 0;
      if (row.received_bytes > held) found.push(`upload #${row.id} claims ${row.received_bytes}, its partial holds ${held}`);
      if (held === 0 && row.received_bytes > 0) found.push(`upload #${row.id} has no partial`);
    }
    return found;
  } finally {
    await db.close();
  }
}

/** The bytes a cut upload of this size left in a partial (0 when none). */
export async function heldFor(dbUrl: string, mediaDir: string, size: number): Promise<number> {
  const db = await openDatabase(dbUrl);
  try {
    const rows = await Upload.select(db, { total_size: size });
    let best = 0;
    for (const row of rows) best = Math.max(best, (await sizeOf(join(mediaDir, '.incoming', row.temp_name))) ?? 0);
    return best;
  } finally {
    await db.close();
  }
}
