/**
 * The one boundary between the ORM and a database engine. Both dialects (better-sqlite3 and a
 * mysql2 pool) implement it; everything above it is dialect-free except identifier quoting
 * and DDL, which read `dialect`.
 */

export type Dialect = 'sqlite' | 'mysql';

export interface ExecuteResult {
  /** Rows inserted, updated or deleted (for UPDATE: rows matched, on both dialects). */
  affectedRows: number;
  /** The auto-increment id of the last inserted row (0 when none). */
  insertId: number;
}

export interface Database {
  readonly dialect: Dialect;
  /**
   * Runs a statement that returns rows. `?` placeholders, values passed separately. Reads
   * (not on a transaction handle) run at the end of the event-loop turn, identical ones once
   * (read-batch.ts); a later `execute` or `transaction` runs them first, so call order holds.
   */
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a statement that changes rows (first sending the reads issued before it). */
  execute(sql: string, params?: unknown[]): Promise<ExecuteResult>;
  /**
   * Runs `fn` in a transaction: commit when it resolves, rollback when it throws (the error
   * is rethrown). Use ONLY the `tx` handle inside `fn`: on SQLite the outer handle waits for
   * the transaction to end, so awaiting it inside `fn` never finishes. Calling `transaction`
   * on `tx` just runs the inner function in the same transaction. `tx` refuses to work once
   * the transaction has ended.
   */
  transaction<T>(fn: (tx: Database) => Promise<T>): Promise<T>;
  /** Closes the connection(s). Not allowed on a transaction handle. */
  close(): Promise<void>;
}

/**
 * A UNIQUE or PRIMARY KEY constraint was violated (MySQL ER_DUP_ENTRY, SQLite
 * SQLITE_CONSTRAINT_UNIQUE / SQLITE_CONSTRAINT_PRIMARYKEY). Lets callers race an INSERT and
 * treat the loser as "already exists" instead of checking first.
 */
export class DuplicateKeyError extends Error {
  override readonly name = 'DuplicateKeyError';
  readonly code = 'DUPLICATE_KEY';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** The error a transaction handle throws when used after its transaction ended. */
export function transactionFinishedError(): Error {
  return new Error('this transaction has already ended; use the handle only inside transaction(fn)');
}

/** A Date as the UTC text both dialects store: 'YYYY-MM-DD HH:MM:SS.mmm'. */
export function toSqlDateTime(date: Date): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) {
    throw new TypeError(`expected a valid Date, got ${describeValue(date)}`);
  }
  // toISOString is 'YYYY-MM-DDTHH:MM:SS.mmmZ' for years 0..9999.
  const iso = date.toISOString();
  if (iso.length !== 24) throw new RangeError(`date out of range for DATETIME: ${iso}`);
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

/** Reads 'YYYY-MM-DD HH:MM:SS[.fff]' (UTC) back into a Date. */
export function fromSqlDateTime(text: string): Date {
  const date = new Date(`${text.replace(' ', 'T')}Z`);
  if (Number.isNaN(date.getTime())) throw new TypeError(`not a DATETIME value: ${JSON.stringify(text)}`);
  return date;
}

/** A short description of a value for error messages (never the whole value). */
export function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid Date' : 'a Date';
  if (typeof value === 'string') return value.length > 40 ? 'a long string' : `string ${JSON.stringify(value)}`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Quotes a metadata identifier (never input: names are checked to be plain identifiers). */
export function quoteIdentifier(dialect: Dialect, name: string): string {
  return dialect === 'mysql' ? `\`${name}\`` : `"${name}"`;
}
