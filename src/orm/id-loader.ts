/**
 * Loads rows by primary key, DataLoader-style: the ids asked for in one event-loop turn are
 * read with one `SELECT ... WHERE id IN (...)` at its end (joining that turn's read batch).
 * Not a cache: each caller gets its own fresh instance, read after it asked.
 */
import type { Database } from './database.js';
import { copyInstance, type Model, type ModelClass, type Where } from './model.js';
import { tableMeta } from './decorators.js';
import { atTurnEnd } from './turn-end.js';

/**
 * The longest IN list sent at once; longer batches are split. Lists are padded to a power
 * of two (repeating an id), so a handful of statement shapes serve every batch size and the
 * prepared-statement caches stay small.
 */
const MAX_IDS_PER_SELECT = 64;

interface Waiter<M> {
  resolve(row: M | undefined): void;
  reject(error: unknown): void;
}

export class IdLoader<M extends Model> {
  /** The ids asked for this turn, per database handle; removed when the turn's SELECT is sent. */
  private readonly batches = new Map<Database, Map<number, Waiter<M>[]>>();
  private readonly key: string;

  constructor(private readonly model: ModelClass<M> & Pick<typeof Model, 'select'>) {
    this.key = tableMeta(model).primaryKey.property;
  }

  /** The row with primary key `id`, read at the end of this turn, or undefined when there is none. */
  load(db: Database, id: number): Promise<M | undefined> {
    let batch = this.batches.get(db);
    if (batch === undefined) {
      const created = (batch = new Map());
      this.batches.set(db, created);
      atTurnEnd(() => this.dispatch(db, created));
    }
    let waiters = batch.get(id);
    if (waiters === undefined) batch.set(id, (waiters = []));
    const list = waiters;
    return new Promise<M | undefined>((resolve, reject) => list.push({ resolve, reject }));
  }

  private dispatch(db: Database, batch: Map<number, Waiter<M>[]>): void {
    this.batches.delete(db);
    const ids = [...batch.keys()];
    for (let start = 0; start < ids.length; start += MAX_IDS_PER_SELECT) {
      const chunk = ids.slice(start, start + MAX_IDS_PER_SELECT);
      const where = { [this.key]: padded(chunk) } as Where<M>;
      // select() issues its query synchronously, so it joins this turn's read batch.
      this.model.select(db, where).then(
        (rows) => {
          const found = new Map<unknown, M>();
          for (const row of rows) found.set((row as unknown as Record<string, unknown>)[this.key], row);
          for (const id of chunk) {
            const row = found.get(id);
            const waiters = batch.get(id)!;
            for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve(row === undefined || i === 0 ? row : copyInstance(row));
          }
        },
        (error: unknown) => {
          for (const id of chunk) for (const waiter of batch.get(id)!) waiter.reject(error);
        },
      );
    }
  }
}

/** `ids` grown to the next power of two by repeating the last id (IN ignores duplicates). */
function padded(ids: number[]): number[] {
  let size = 1;
  while (size < ids.length) size *= 2;
  const list = ids.slice();
  while (list.length < size) list.push(ids[ids.length - 1]!);
  return list;
}
