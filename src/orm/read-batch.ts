/**
 * Reads issued in one event-loop turn run together at its end, and identical ones (same SQL,
 * same parameters) run once: one poll phase delivers many requests running the same
 * statements. Not a cache; why every read still sees the writes before it: docs/design.md.
 */
import { atTurnEnd } from './turn-end.js';

/** Runs one read now; synchronous (better-sqlite3) or not (mysql2). */
export type RunRead = (sql: string, params: unknown[] | undefined) => unknown[] | Promise<unknown[]>;

interface Caller {
  resolve(rows: unknown[]): void;
  reject(error: unknown): void;
}

/** One distinct read of the batch and everyone waiting for its rows (each gets its own copy; a failure rejects them all). */
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

  /**
   * Starts every queued read now (in the order they were first issued) and empties the batch.
   * The owner calls it before any write and transaction, so a read issued first runs first.
   */
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
