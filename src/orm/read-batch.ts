/**
 * Per-turn read coalescing: the reads (`Database.query`) issued during one event-loop turn
 * are queued and run together at the end of the turn (turn-end.ts), and identical reads (the
 * same SQL and the same parameters) in that batch run ONCE.
 *
 * Why: with many clients, one poll phase delivers dozens of requests at once, and each runs
 * the same few statements (the session's user, the video list). Running the video list once
 * for forty requests instead of forty times is most of the server's database work.
 *
 * What it is not: a cache. A batch lives for one turn only; it is emptied when it runs, and
 * nothing of it (rows, keys) is kept afterwards. Every read still goes to the database after
 * it was issued, and sees every write issued before it:
 * - the owner flushes the batch before any write and before a transaction starts (SQLite:
 *   synchronously, so a read issued before a write still runs before it; MySQL: the reads
 *   are dispatched before the write is);
 * - a read joins only a read of the batch that has not started yet, never one in flight;
 * - statements that may write (SQLite: not `readonly`; MySQL: not a SELECT) are not batched;
 * - reads on a transaction handle are not batched.
 *
 * Identical reads in one batch therefore see one snapshot, exactly what they would have seen
 * running one after the other with no write in between. Each caller gets its own array and
 * its own row objects (copied), never an object another caller may change. A failed read
 * rejects every caller that joined it with the same error.
 */
import { atTurnEnd } from './turn-end.js';

/** Runs one read now; synchronous (better-sqlite3) or not (mysql2). */
export type RunRead = (sql: string, params: unknown[] | undefined) => unknown[] | Promise<unknown[]>;

interface Caller {
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
}

/** One distinct read of the batch and everyone waiting for its rows. */
class PendingRead {
  readonly callers: Caller[] = [];

  constructor(
    readonly sql: string,
    readonly params: unknown[] | undefined,
  ) {}

  wait<T>(): Promise<T[]> {
    return new Promise<T[]>((resolve, reject) => this.callers.push({ resolve: resolve as Caller['resolve'], reject }));
  }

  start(run: RunRead): void {
    let result: unknown[] | Promise<unknown[]>;
    try {
      result = run(this.sql, this.params);
    } catch (error) {
      this.fail(error);
      return;
    }
    if (Array.isArray(result)) this.deliver(result);
    else result.then((rows) => this.deliver(rows), (error: unknown) => this.fail(error));
  }

  private deliver(rows: unknown[]): void {
    const { callers } = this;
    callers[0]!.resolve(rows);
    for (let i = 1; i < callers.length; i++) callers[i]!.resolve(copyRows(rows));
  }

  private fail(error: unknown): void {
    for (const caller of this.callers) caller.reject(error);
  }
}

export class ReadBatch {
  /** Keyed by SQL + parameters; a read that cannot be keyed is its own key (never joined). */
  private pending = new Map<unknown, PendingRead>();
  private readonly flushAtTurnEnd = () => this.flush();

  constructor(private readonly run: RunRead) {}

  /** Queues a read for the end of this turn, joining an identical queued read if there is one. */
  add<T>(sql: string, params: unknown[] | undefined): Promise<T[]> {
    const key = readKey(sql, params);
    if (key !== undefined) {
      const same = this.pending.get(key);
      if (same !== undefined) return same.wait<T>();
    }
    if (this.pending.size === 0) atTurnEnd(this.flushAtTurnEnd);
    const read = new PendingRead(sql, params);
    this.pending.set(key ?? read, read);
    return read.wait<T>();
  }

  /** Starts every queued read now (in the order they were first issued) and empties the batch. */
  flush(): void {
    if (this.pending.size === 0) return;
    const reads = this.pending;
    this.pending = new Map();
    for (const read of reads.values()) read.start(this.run);
  }
}

/**
 * SQL + parameters as one string, or undefined when a parameter is not a plain value (a Date,
 * a Buffer, an object): such a read is simply not coalesced. The ORM only sends numbers,
 * strings and null. JSON keeps 1 and "1" apart; non-finite numbers (JSON null) are left out.
 */
function readKey(sql: string, params: unknown[] | undefined): string | undefined {
  if (params === undefined || params.length === 0) return sql;
  for (const value of params) {
    const kind = typeof value;
    if (value === null || kind === 'string' || kind === 'boolean') continue;
    if (kind === 'number' && Number.isFinite(value)) continue;
    return undefined;
  }
  return `${sql}\u0000${JSON.stringify(params)}`;
}

/** Fresh row objects with the same values; object values (Buffer, Date, JSON) are copied too. */
function copyRows(rows: unknown[]): unknown[] {
  const copies = new Array<unknown>(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const copy: Record<string, unknown> = { ...(rows[i] as Record<string, unknown>) };
    for (const name in copy) {
      const value = copy[name];
      if (typeof value === 'object' && value !== null) copy[name] = copyValue(value);
    }
    copies[i] = copy;
  }
  return copies;
}

function copyValue(value: object): unknown {
  if (Buffer.isBuffer(value)) return Buffer.from(value);
  if (value instanceof Date) return new Date(value.getTime());
  return structuredClone(value);
}
