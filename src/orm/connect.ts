import { resolve } from 'node:path';
import type { Database } from './database.js';

const ACCEPTED_FORMS =
  'sqlite:PATH (relative to the working directory, or absolute), sqlite::memory:, ' +
  'mysql://user:password@host:port/database or mariadb://user:password@host:port/database ' +
  '(optional ?connectionLimit=N)';

/**
 * Opens a database from a URL. Each dialect's driver is imported only when its URL is used,
 * so a SQLite server never loads mysql2 (about 17 MB of RSS).
 *
 * - `sqlite:data/cinebox.db` (relative to the cwd), `sqlite:/abs/path.db`, `sqlite::memory:`
 *   (`sqlite://rel` and `sqlite:///abs` are read the same way, without the two slashes);
 * - `mysql://user:pass@host:port/db` or `mariadb://...`, user and password percent-encoded.
 */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'sqlite') return await openSqlite(url.slice('sqlite:'.length), options);
  if (scheme === 'mysql' || scheme === 'mariadb') return openMysql(url);
  throw new Error(`unsupported database URL ${JSON.stringify(redact(url))}: use ${ACCEPTED_FORMS}`);
}

/** The absolute path of a `sqlite:` URL's file (resolved as openDatabase does); undefined for other URLs and :memory:. */
export function sqliteFileOf(url: string): string | undefined {
  if (!/^sqlite:/i.test(url)) return undefined;
  const rest = url.slice('sqlite:'.length);
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  return path === '' || path === ':memory:' ? undefined : resolve(path);
}

/** A database URL as a person should read it: a SQLite file's absolute path, a MySQL URL without its password. */
export function describeDatabase(url: string): string {
  const file = sqliteFileOf(url);
  return file ? `sqlite:${file}` : redact(url);
}

export interface OpenOptions {
  /**
   * true (default): a committed transaction survives a power cut (SQLite: synchronous=FULL).
   * false: it survives a crash of the process only (SQLite: synchronous=NORMAL). MySQL's
   * durability is the server's own setting (durability.ts).
   */
  durable?: boolean;
}

async function openSqlite(rest: string, options: OpenOptions): Promise<Database> {
  const path = rest.startsWith('//') ? rest.slice(2) : rest;
  if (path === '') throw new Error(`sqlite URL without a path: use ${ACCEPTED_FORMS}`);
  const { SqliteDatabase } = await import('./sqlite.js');
  try {
    return SqliteDatabase.open(path === ':memory:' ? path : resolve(path), { durable: options.durable });
  } catch (error) {
    // A global install whose install script npm refused has better-sqlite3 without its native part.
    if (/bindings file|ERR_DLOPEN_FAILED|was compiled against a different/i.test(`${(error as NodeJS.ErrnoException).code} ${(error as Error).message}`)) {
      throw new Error(
        `SQLite is not usable: better-sqlite3's native module is missing or built for another Node (${(error as Error).message.split('\n')[0]}); ` +
          'reinstall with its install script allowed (npm install -g --allow-scripts=better-sqlite3 …, or npm rebuild better-sqlite3), or use --db mysql://…',
      );
    }
    throw error;
  }
}

async function openMysql(url: string): Promise<Database> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`malformed MySQL URL ${JSON.stringify(redact(url))}: use ${ACCEPTED_FORMS}`);
  }
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '' || database.includes('/')) {
    throw new Error(`MySQL URL ${JSON.stringify(redact(url))} names no database: use ${ACCEPTED_FORMS}`);
  }
  const limit = parsed.searchParams.get('connectionLimit');
  const connectionLimit = limit === null ? undefined : Number(limit);
  if (connectionLimit !== undefined && !(Number.isInteger(connectionLimit) && connectionLimit > 0)) {
    throw new Error(`connectionLimit must be a positive integer, got ${JSON.stringify(limit)}`);
  }
  const { MysqlDatabase } = await import('./mysql.js');
  const db = MysqlDatabase.open({
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: parsed.port === '' ? 3306 : Number(parsed.port),
    user: decodeURIComponent(parsed.username) || 'root',
    password: decodeURIComponent(parsed.password),
    database,
    connectionLimit,
  });
  // The pool connects lazily; fail here, at startup, rather than on the first request.
  try {
    await db.query('SELECT 1');
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
  return db;
}

/** The URL without its password, for error messages. */
function redact(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
