/**
 * The event log in the database: record an event inside the transaction of what it
 * announces, read the events after an id, drop the ones past the retention window.
 * Ids come from the one-row event_sequence, so the kept events are always a gapless range.
 */
import { DuplicateKeyError, fromSqlDateTime, toSqlDateTime, type Database } from '../../orm/index.js';
import { EventRecord, EventSequence } from '../../orm/models/index.js';

import type { EventKind, EventTopic as Topic } from '../../protocol/messages.js';

export type { EventKind, Topic };

export const TOPIC_OF: Record<EventKind, Topic> = { notice: 'notices', video_added: 'videos', video_removed: 'videos' };

export interface StoredEvent {
  id: number;
  kind: EventKind;
  time: Date;
  data: Record<string, unknown>;
}

const SEQUENCE_ROW = 1;

/** Creates the sequence row on a new database; safe when several nodes start together. */
export async function ensureEventSequence(db: Database): Promise<void> {
  if (await EventSequence.selectOne(db, { id: SEQUENCE_ROW })) return;
  try {
    await EventSequence.from({ id: SEQUENCE_ROW, last_id: 0 }).save(db);
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
  }
}

/**
 * Records one event; call it on the transaction of what it announces, as its LAST statement.
 * Bumping the sequence row locks it until the commit, so event transactions commit one at a
 * time in id order, on every node (SQLite's BEGIN IMMEDIATE already serialises writers).
 * Being last, the transaction waits for nothing else while it holds the lock (no deadlock).
 */
export async function recordEvent(tx: Database, kind: EventKind, data: Record<string, unknown>): Promise<StoredEvent> {
  const bumped = await tx.execute('UPDATE event_sequence SET last_id = last_id + 1 WHERE id = ?', [SEQUENCE_ROW]);
  if (bumped.affectedRows !== 1) throw new Error('the event_sequence row is missing (ensureEventSequence was not run)');
  const sequence = await EventSequence.selectOne(tx, { id: SEQUENCE_ROW });
  const event: StoredEvent = { id: sequence!.last_id, kind, time: new Date(), data };
  await EventRecord.from({ id: event.id, kind, payload: JSON.stringify(data), create_time: event.time }).save(tx);
  return event;
}

/** The last committed event id (0 before the first event). */
export async function lastEventId(db: Database): Promise<number> {
  return (await EventSequence.selectOne(db, { id: SEQUENCE_ROW }))?.last_id ?? 0;
}

/** The oldest event still kept; last + 1 when none is. */
export async function oldestKeptId(db: Database): Promise<number> {
  const rows = await db.query<{ n: unknown }>('SELECT MIN(id) AS n FROM event');
  const oldest = rows[0]?.n;
  return oldest === null || oldest === undefined ? (await lastEventId(db)) + 1 : Number(oldest);
}

/** Events with afterId < id <= upTo, oldest first, at most `limit`. */
export async function readEvents(db: Database, afterId: number, upTo: number, limit: number): Promise<StoredEvent[]> {
  const rows = await db.query<{ id: unknown; kind: string; payload: string; create_time: unknown }>(
    `SELECT id, kind, payload, create_time FROM event WHERE id > ? AND id <= ? ORDER BY id LIMIT ${Math.trunc(limit)}`,
    [afterId, upTo],
  );
  return rows.map((row) => ({
    id: Number(row.id),
    kind: row.kind as EventKind,
    time: row.create_time instanceof Date ? row.create_time : fromSqlDateTime(String(row.create_time)),
    data: JSON.parse(row.payload) as Record<string, unknown>,
  }));
}

/**
 * Deletes the events recorded before `cutoff`, as a prefix of ids (node clocks may differ a
 * little, so "older" is decided by the newest old one's id): the kept ids stay one range.
 */
export async function pruneEvents(db: Database, cutoff: Date): Promise<number> {
  const rows = await db.query<{ n: unknown }>('SELECT MAX(id) AS n FROM event WHERE create_time < ?', [toSqlDateTime(cutoff)]);
  const through = rows[0]?.n;
  if (through === null || through === undefined) return 0;
  return (await db.execute('DELETE FROM event WHERE id <= ?', [Number(through)])).affectedRows;
}
