/**
 * Pages and searches served from this node's memory (video-index.ts) while it holds the
 * catalog's current version; otherwise the caller reads the database (catalog.ts), and the
 * copy is brought up to date in the background. Why it is exact: a request reads the version
 * (the list cache's tag: this node's generation, the last event id, the highest movie id) and
 * uses the copy only when its tag is that version. A copy is brought to a new version by
 * applying the events in between (a publish appends, a delete hides: microseconds) and
 * checking the live count, or read again from the table (0.7 s of CPU at 100,000 videos) when they
 * cannot tell it all: events pruned, a row written or hidden with no event, an id below one
 * already held (MySQL commits in any order).
 * Rows read after their tag can only make the tag older than the copy, and applying an event
 * the copy already shows changes nothing (docs/media.md, "Pages and searches from memory").
 */
import type { Logger } from 'pino';
import { quoteIdentifier, type Database } from '../../orm/index.js';
import { readEvents } from '../events/event-store.js';
import { nameKey } from './name-key.js';
import { VideoIndexBuilder, type IndexedVideo, type VideoIndex } from './video-index.js';

/** Rows per read while loading: each chunk is a short synchronous SQLite read, so other clients are served in between. */
const CHUNK = 5000;
/** After a failed load, the next try waits this long (the database path keeps answering). */
const RETRY_MS = 1000;
/** Newer versions tried in one update before the copy is read whole instead. */
const APPLY_TRIES = 3;
/** More events than this since the copy's version: read it all again instead. */
const MAX_EVENTS_APPLIED = 2000;

/** The catalog version inside a tag (`generation|last event id/highest movie id`, list-cache.ts). */
interface Version {
  event: number;
  maxId: number;
}

function versionOf(tag: string): Version | undefined {
  const match = /^\d+\|(\d+)\/(\d+)$/.exec(tag);
  return match ? { event: Number(match[1]), maxId: Number(match[2]) } : undefined;
}

interface Copy {
  tag: string;
  /** Undefined when the catalog has more live videos than the cap. */
  index: VideoIndex | undefined;
  /** The version the copy shows: the tag's, or after applied events. */
  version: Version | undefined;
}

export class MemoryCatalog {
  private current?: Copy;
  private loading?: Promise<void>;
  private failedAt = 0;
  private closed = false;
  /** How copies were brought up to date (a metric, and what tests check). */
  readonly counts = { readAll: 0, eventsApplied: 0 };

  /**
   * `maxVideos`: above this many live videos nothing is kept (0 = never): each costs ~150 bytes
   * of names and grams (15 MB of heap at 100,000).
   */
  constructor(
    private readonly db: Database,
    private readonly readTag: () => Promise<string>,
    private readonly maxVideos: number,
    private readonly log?: Logger,
  ) {}

  /** The index of the current version, or undefined (read the database) while a copy is loading or too large. */
  async index(): Promise<VideoIndex | undefined> {
    if (this.maxVideos === 0 || this.closed) return undefined;
    const tag = await this.readTag();
    const current = this.current;
    if (current?.tag === tag) return current.index;
    this.refresh();
    return undefined;
  }

  /** Starts bringing the copy up to date unless that is under way (also at server start, so the first pages need not wait). */
  refresh(): void {
    if (this.maxVideos === 0 || this.closed || this.loading !== undefined || Date.now() - this.failedAt < RETRY_MS) return;
    this.loading = this.load()
      .catch((error: unknown) => {
        this.failedAt = Date.now();
        if (!this.closed) this.log?.warn({ err: (error as Error).message }, 'video list could not be read into memory; pages read the database');
      })
      .finally(() => (this.loading = undefined));
  }

  /** Resolves when the copy being read (if any) is in place: for tests and for close. */
  async settled(): Promise<void> {
    await this.loading;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.loading;
  }

  private async load(): Promise<void> {
    let tag = await this.readTag();
    let version = versionOf(tag);
    // A change committed while the events are read moves the version again: try the newer one (a burst of publishes).
    for (let tries = 0; tries < APPLY_TRIES; tries++) {
      const current = this.current;
      if (current?.tag === tag) return;
      if (current?.index === undefined || current.version === undefined || version === undefined) break;
      const applied = await this.apply(current.index, current.version, version);
      if (applied === 'moved') {
        tag = await this.readTag();
        version = versionOf(tag);
        continue;
      }
      if (!applied) break;
      this.current = { tag, index: current.index, version };
      this.counts.eventsApplied++;
      return;
    }
    if (this.current?.tag === tag) return;
    const index = await readLiveVideos(this.db, this.maxVideos, () => this.closed);
    if (this.closed) return;
    this.current = { tag, index, version };
    this.counts.readAll++;
  }

  /**
   * Applies the video events between two versions to `index`, all at once after every read;
   * false (nothing changed) when they do not explain the new version, 'moved' when the
   * database is past `to` already.
   */
  private async apply(index: VideoIndex, from: Version, to: Version): Promise<boolean | 'moved'> {
    const count = to.event - from.event;
    if (count < 0 || count > MAX_EVENTS_APPLIED) return false;
    // Live videos at `to`, in the same snapshot as its version (once per change, not per
    // request: a count of the (is_delete, id) index, 2.5-3.5 ms at 100,000 on SQLite under load). A row written
    // with no event, hidden by hand or inserted below a later event's row shows as a wrong size.
    const check = (await this.db.query<{ e: unknown; m: unknown; n: unknown }>(this.checkSql))[0];
    if (Number(check?.e ?? 0) !== to.event || Number(check?.m ?? 0) !== to.maxId) return 'moved';
    const events = count === 0 ? [] : await readEvents(this.db, from.event, to.event, count);
    if (events.length !== count) return false; // pruned
    const added = new Set<number>();
    const removed: number[] = [];
    for (const event of events) {
      if (event.kind === 'video_added') added.add(Number(event.data.movie_id));
      else if (event.kind === 'video_removed') removed.push(Number(event.data.movie_id));
    }
    // A row inserted with no event moves the highest id without one: only a full read sees it.
    if (Math.max(from.maxId, ...added) !== to.maxId) return false;
    const fresh = [...added].filter((id) => !index.holds(id)).sort((a, b) => a - b);
    if (fresh.length > 0 && fresh[0]! <= index.lastId) return false;
    if (index.size + fresh.length > this.maxVideos || index.hidden + removed.length > Math.max(1000, index.size / 4)) return false;
    const videos = await readVideos(this.db, fresh);
    if (videos.length !== fresh.length || this.closed) return false;
    // Synchronous from here: no request sees half of it.
    for (const video of videos) index.append(video);
    for (const id of removed) index.hide(id);
    if (index.size === Number(check?.n ?? 0)) return true;
    this.current = undefined; // the events did not tell it all
    return false;
  }

  private get checkSql(): string {
    const q = (name: string) => quoteIdentifier(this.db.dialect, name);
    return (
      `SELECT (SELECT ${q('last_id')} FROM ${q('event_sequence')} WHERE ${q('id')} = 1) AS e, (SELECT MAX(${q('id')}) FROM ${q('movie')}) AS m, ` +
      `(SELECT COUNT(*) FROM ${q('movie')} WHERE ${q('is_delete')} = 0) AS n`
    );
  }
}

const videoColumns = (db: Database) => {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  return (
    `SELECT m.${q('id')} AS id, m.${q('name')} AS name, m.${q('is_free')} AS is_free, f.${q('name_key')} AS name_key ` +
    `FROM ${q('movie')} m LEFT JOIN ${q('media_facts')} f ON f.${q('movie_id')} = m.${q('id')}`
  );
};

// A movie without its media_facts row yet (made at start for older videos) is folded here as that row will be.
function videoOf(row: { id: unknown; name: unknown; is_free: unknown; name_key: unknown }): IndexedVideo {
  const name = String(row.name);
  return { id: Number(row.id), name, is_free: Number(row.is_free), key: row.name_key === null || row.name_key === undefined ? nameKey(name) : String(row.name_key) };
}

/** These movies (live or not: the events say which are), in id order. */
async function readVideos(db: Database, ids: number[]): Promise<IndexedVideo[]> {
  if (ids.length === 0) return [];
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const rows = await db.query<{ id: unknown; name: unknown; is_free: unknown; name_key: unknown }>(
    `${videoColumns(db)} WHERE m.${q('id')} IN (${ids.map(() => '?').join(', ')}) ORDER BY m.${q('id')}`,
    ids,
  );
  return rows.map(videoOf);
}

/** Every live video with its folded name, indexed; undefined when there are more than `max`. */
async function readLiveVideos(db: Database, max: number, stop: () => boolean): Promise<VideoIndex | undefined> {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const sql = `${videoColumns(db)} WHERE m.${q('is_delete')} = 0 AND m.${q('id')} > ? ORDER BY m.${q('id')} LIMIT ${CHUNK}`;
  const builder = new VideoIndexBuilder();
  const { videos } = builder;
  let after = 0;
  for (;;) {
    if (stop()) return undefined;
    const rows = await db.query<{ id: unknown; name: unknown; is_free: unknown; name_key: unknown }>(sql, [after]);
    for (const row of rows) builder.add(videoOf(row));
    if (videos.length > max) return undefined;
    if (rows.length < CHUNK) return builder.finish();
    after = videos[videos.length - 1]!.id;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
