import mysql from 'mysql2/promise';
import {
  type Database,
  type ExecuteResult,
  DuplicateKeyError,
  transactionFinishedError,
} from './database.js';
import { ReadBatch } from './read-batch.js';

export interface MysqlOptions {
  host: string;
  port?: number;
  user: string;
  password?: string;
  database: string;
  /** Pool size; default 10. */
  connectionLimit?: number;
}

/** What pool and connection have in common, as we use them. */
interface Queryable {
  query(sql: string, values?: unknown[]): Promise<[unknown, unknown]>;
  execute(sql: string, values?: unknown[]): Promise<[unknown, unknown]>;
}

/**
 * Prepared statements kept per pooled connection. The ORM's reads come in few shapes (IN lists
 * add some); the server's global max_prepared_stmt_count (16382 by default) is shared by
 * every pooled connection of every node.
 */
const PREPARED_STATEMENTS_PER_CONNECTION = 200;

/** A plain SELECT: the only statements coalesced per turn (anything else may write). */
const PLAIN_SELECT = /^\s*select\s/i;

/**
 * A mysql2 pool behind the Database interface (MySQL or MariaDB). SELECTs are coalesced per
 * event-loop turn (read-batch.ts): the distinct ones are dispatched together at the end of
 * the turn, or earlier when a write or a transaction is issued, so dispatch order stays call
 * order. A read never joins one already sent, so a flow that awaited its write reads it back.
 */
export class MysqlDatabase implements Database {
  readonly dialect = 'mysql' as const;
  private closing: Promise<void> | undefined;
  private readonly reads: ReadBatch;

  constructor(private readonly pool: mysql.Pool) {
    this.reads = new ReadBatch((sql, params) => runQuery(pool as unknown as Queryable, sql, params));
  }

  static open(options: MysqlOptions): MysqlDatabase {
    const pool = mysql.createPool({
      host: options.host,
      port: options.port ?? 3306,
      user: options.user,
      password: options.password ?? '',
      database: options.database,
      connectionLimit: options.connectionLimit ?? 10,
      // DATETIME comes back as text and is read as UTC by the model codec; Dates sent raw are written in UTC.
      dateStrings: true,
      timezone: 'Z',
      // BIGINT as a JS number (a string only beyond 2^53, which sizes never reach).
      supportBigNumbers: true,
      bigNumberStrings: false,
      // An object value becomes a quoted string, never `key = value` pairs injected into the SQL.
      stringifyObjects: true,
      multipleStatements: false,
      // No caller stack captured per query: it cost more than the query's own JS on a short
      // request (errors keep their message and code).
      trace: false,
      maxPreparedStatements: PREPARED_STATEMENTS_PER_CONNECTION,
    });
    return new MysqlDatabase(pool);
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    if (PLAIN_SELECT.test(sql)) return this.reads.add<T>(sql, params);
    this.reads.flush();
    return againIfDeadlocked(() => runQuery<T>(this.pool as unknown as Queryable, sql, params));
  }

  execute(sql: string, params?: unknown[]): Promise<ExecuteResult> {
    this.reads.flush(); // reads issued before this write are sent before it
    return againIfDeadlocked(() => runExecute(this.pool as unknown as Queryable, sql, params));
  }

  async transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    this.reads.flush();
    const connection = await this.pool.getConnection();
    const tx = new MysqlTransaction(connection as unknown as Queryable);
    try {
      await connection.beginTransaction();
      const result = await fn(tx);
      tx.end();
      await connection.commit();
      connection.release();
      return result;
    } catch (error) {
      tx.end();
      try {
        await connection.rollback();
        connection.release();
      } catch {
        connection.destroy(); // a connection in an unknown state must not go back to the pool
      }
      throw error;
    }
  }

  close(): Promise<void> {
    this.reads.flush(); // reads already issued are sent before the pool ends
    this.closing ??= this.pool.end();
    return this.closing;
  }
}

/** The handle given to a transaction callback: every call runs on the transaction's connection. */
class MysqlTransaction implements Database {
  readonly dialect = 'mysql' as const;
  private active = true;

  constructor(private readonly connection: Queryable) {}

  end(): void {
    this.active = false;
  }

  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]> {
    if (!this.active) return Promise.reject(transactionFinishedError());
    return runQuery<T>(this.connection, sql, params);
  }

  execute(sql: string, params?: unknown[]): Promise<ExecuteResult> {
    if (!this.active) return Promise.reject(transactionFinishedError());
    return runExecute(this.connection, sql, params);
  }

  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T> {
    if (!this.active) return Promise.reject(transactionFinishedError());
    return fn(this);
  }

  close(): Promise<void> {
    return Promise.reject(new Error('cannot close a transaction handle; close the database instead'));
  }
}

/**
 * Reads run as prepared statements (mysql2 `execute`, prepared once per connection and shape):
 * the server skips parsing and planning, a fifth of its CPU on a short list request. Writes
 * and DDL stay on `query`.
 */
async function runQuery<T>(target: Queryable, sql: string, params?: unknown[]): Promise<T[]> {
  try {
    const [rows] = await target.execute(sql, preparedParams(params));
    return Array.isArray(rows) ? (rows as T[]) : [];
  } catch (error) {
    throw translateError(error);
  }
}

async function runExecute(target: Queryable, sql: string, params?: unknown[]): Promise<ExecuteResult> {
  try {
    const [result] = await target.query(sql, params ?? []);
    const header = result as Partial<mysql.ResultSetHeader>;
    return { affectedRows: header.affectedRows ?? 0, insertId: Number(header.insertId ?? 0) };
  } catch (error) {
    throw translateError(error);
  }
}

/** InnoDB chose this statement as a deadlock's victim and rolled it back whole. */
const ER_LOCK_DEADLOCK = 1213;
const DEADLOCK_RETRIES = 3;

/**
 * Runs an autocommit statement again when InnoDB picked it as a deadlock's victim (parallel
 * INSERTs of one unique key racing a DELETE can): it had no effect, and re-issuing it is what
 * InnoDB's manual prescribes. Never inside a transaction, which must run again whole.
 */
async function againIfDeadlocked<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      if ((error as { errno?: unknown } | null)?.errno !== ER_LOCK_DEADLOCK || attempt > DEADLOCK_RETRIES) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}

/** `execute` refuses undefined where `query` sends NULL; keep `query`'s meaning. */
function preparedParams(params: unknown[] | undefined): unknown[] {
  if (params === undefined) return [];
  return params.includes(undefined) ? params.map((value) => (value === undefined ? null : value)) : params;
}

function translateError(error: unknown): unknown {
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'ER_DUP_ENTRY' || code === 'ER_DUP_ENTRY_WITH_KEY_NAME') {
    return new DuplicateKeyError((error as Error).message, { cause: error });
  }
  return error;
}
