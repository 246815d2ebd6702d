import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import {
  type Database,
  type ExecuteResult,
  DuplicateKeyError,
  toSqlDateTime,
  transactionFinishedError,
} from './database.js';
import { ReadBatch } from './read-batch.js';

type Connection = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement<unknown[], unknown>;

/** Prepared statements kept per connection; the ORM's SQL comes in few shapes, IN lists add more. */
const STATEMENT_CACHE_SIZE = 500;
const BUSY_TIMEOUT_MS = 5_000;

export interface SqliteOptions {
  busyTimeoutMs?: number;
  /** false: synchronous=NORMAL (see open). Default true. */
  durable?: boolean;
}

/**
 * better-sqlite3 behind the async Database interface. The driver is synchronous over one
 * connection, so a single statement never interleaves with anything; only a transaction whose
 * callback awaits can. Transactions therefore take an async lock for their whole duration,
 * and plain calls queue behind it only while a transaction holds or waits for it.
 *
 * Reads are coalesced per event-loop turn (read-batch.ts). The batch runs synchronously
 * before any write or transaction, so every read sees exactly the writes issued before it.
 */
export class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const;
  private readonly statements = new Map<string, Statement>();
  private readonly names = new WeakMap<Statement, string[]>();
  private readonly lock = new AsyncLock();
  private readonly reads = new ReadBatch((sql, params) => this.queryNow(sql, params));
  private closed = false;

  constructor(private readonly connection: Connection) {}

  /** Opens (creating the file and its directory) `path`, or an in-memory database for ':memory:'. */
  static open(path: string, options: SqliteOptions = {}): SqliteDatabase {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const connection = new BetterSqlite3(path, { timeout: options.busyTimeoutMs ?? BUSY_TIMEOUT_MS });
    connection.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs only at checkpoints: a power cut may roll back the last commits,
    // an upload already acknowledged among them. FULL syncs the WAL at every commit.
    connection.pragma(`synchronous = ${options.durable === false ? 'NORMAL' : 'FULL'}`);
    return new SqliteDatabase(connection);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    // While a transaction holds or waits for the lock the batch is empty (it was flushed
    // before the lock was taken) and stays so: calls queue behind the lock in order.
    if (this.lock.busy) return this.lock.run(() => this.queryNow<T>(sql, params));
    let readOnly: boolean;
    try {
      readOnly = this.prepare(sql).readonly;
    } catch (error) {
      return Promise.reject(translateError(error));
    }
    if (readOnly) return this.reads.add<T>(sql, params);
    this.reads.flush(); // a statement that writes (INSERT ... RETURNING) is ordered like execute
    return settle(() => this.queryNow<T>(sql, params));
  }

  execute(sql: string, params?: unknown[]): Promise<ExecuteResult> {
    if (this.lock.busy) return this.lock.run(() => this.executeNow(sql, params));
    this.reads.flush(); // reads issued before this write run before it
    return settle(() => this.executeNow(sql, params));
  }

  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    this.reads.flush();
    return this.lock.run(async () => {
      this.executeNow('BEGIN IMMEDIATE');
      const tx = new SqliteTransaction(this);
      try {
        const result = await fn(tx);
        tx.end();
        this.executeNow('COMMIT');
        return result;
      } catch (error) {
        tx.end();
        if (this.connection.inTransaction) this.executeNow('ROLLBACK');
        throw error;
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.reads.flush(); // reads already issued still run
    this.closed = true;
    await this.lock.run(() => undefined); // let queued transactions finish first
    this.statements.clear();
    this.connection.close();
  }

  /** @internal used by the transaction handle, which already holds the lock. */
  queryNow<T>(sql: string, params?: unknown[]): T[] {
    const statement = this.prepare(sql);
    try {
      if (!statement.reader) {
        statement.run(bindable(params));
        return [];
      }
      return rowObjects<T>(statement.all(bindable(params)) as unknown[][], this.columnNames(statement));
    } catch (error) {
      throw translateError(error);
    }
  }

  /** @internal used by the transaction handle, which already holds the lock. */
  executeNow(sql: string, params?: unknown[]): ExecuteResult {
    const statement = this.prepare(sql);
    try {
      const { changes, lastInsertRowid } = statement.run(bindable(params));
      return { affectedRows: changes, insertId: Number(lastInsertRowid) };
    } catch (error) {
      throw translateError(error);
    }
  }

  /** Result column names of a reader statement, looked up once per prepared statement. */
  private columnNames(statement: Statement): string[] {
    let names = this.names.get(statement);
    if (names === undefined) this.names.set(statement, (names = statement.columns().map((column) => column.name)));
    return names;
  }

  private prepare(sql: string): Statement {
    let statement = this.statements.get(sql);
    if (statement === undefined) {
      if (this.closed) throw new Error('the database is closed');
      statement = this.connection.prepare<unknown[], unknown>(sql);
      // Rows come back as arrays and become objects in rowObjects: V8 builds those much faster
      // than the driver's per-property sets from C++ (a third of a small query's time).
      if (statement.reader) statement.raw(true);
      if (this.statements.size >= STATEMENT_CACHE_SIZE) {
        // Map iterates in insertion order: drop the oldest entry.
        this.statements.delete(this.statements.keys().next().value as string);
      }
      this.statements.set(sql, statement);
    }
    return statement;
  }
}

/** The handle given to a transaction callback: runs directly, the lock is already held. */
class SqliteTransaction implements Database {
  readonly dialect = 'sqlite' as const;
  private active = true;

  constructor(private readonly owner: SqliteDatabase) {}

  end(): void {
    this.active = false;
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    return settle(() => {
      if (!this.active) throw transactionFinishedError();
      return this.owner.queryNow<T>(sql, params);
    });
  }

  execute(sql: string, params?: unknown[]): Promise<ExecuteResult> {
    return settle(() => {
      if (!this.active) throw transactionFinishedError();
      return this.owner.executeNow(sql, params);
    });
  }

  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    if (!this.active) return Promise.reject(transactionFinishedError());
    return fn(this);
  }

  close(): Promise<void> {
    return Promise.reject(new Error('cannot close a transaction handle; close the database instead'));
  }
}

/** A FIFO promise queue: `run` calls `fn` after every earlier `run` has settled. */
class AsyncLock {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  /** True while some `run` holds the lock or waits for it. */
  get busy(): boolean {
    return this.pending > 0;
  }

  async run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.pending++;
    const previous = this.tail;
    let release!: () => void;
    this.tail = new Promise<void>((resolve) => (release = resolve));
    try {
      await previous;
      return await fn();
    } finally {
      this.pending--;
      release();
    }
  }
}

/** Array rows to objects keyed by column name; a repeated name keeps the last value, as the driver does. */
function rowObjects<T>(rows: unknown[][], names: readonly string[]): T[] {
  const objects = new Array<T>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const object: Record<string, unknown> = {};
    for (let j = 0; j < names.length; j++) object[names[j]!] = row[j];
    objects[i] = object as T;
  }
  return objects;
}

/** Runs a synchronous call, turning its result or exception into a promise. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    return Promise.reject(error);
  }
}

/** better-sqlite3 binds numbers, strings, bigints, buffers and null; map the rest like mysql2 does. */
function bindable(params: unknown[] | undefined): unknown[] {
  if (params === undefined) return [];
  let converted: unknown[] | undefined;
  for (let i = 0; i < params.length; i++) {
    const value = params[i];
    let replacement: unknown;
    if (typeof value === 'boolean') replacement = value ? 1 : 0;
    else if (value === undefined) replacement = null;
    else if (value instanceof Date) replacement = toSqlDateTime(value);
    else continue;
    converted ??= params.slice();
    converted[i] = replacement;
  }
  return converted ?? params;
}

function translateError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
    return new DuplicateKeyError((error as Error).message, { cause: error });
  }
  return error;
}
