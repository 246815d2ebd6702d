/**
 * Pages and searches served from this node's memory (video-index.ts) while it holds the
 * catalog's current version; otherwise the caller reads the database (catalog.ts), and a
 * fresh copy is read in the background. Why it is exact: a request reads the version (the
 * list cache's tag: the last event id, the highest movie id, this node's generation) and
 * uses the copy only when its tag is that version; the copy's rows are read after its tag,
 * so a change committed meanwhile makes the tag older than the rows (a needless re-read),
 * never newer (docs/media.md, "Pages from memory").
 */
import type { Logger } from 'pino';
import { quoteIdentifier, type Database } from '../../orm/index.js';
import { nameKey } from './name-key.js';
import { VideoIndexBuilder, type VideoIndex } from './video-index.js';

/** Rows per read while loading: each chunk is a short synchronous SQLite read, so other clients are served in between. */
const CHUNK = 5000;
/** After a failed load, the next try waits this long (the database path keeps answering). */
const RETRY_MS = 1000;

export class MemoryCatalog {
  private current?: { tag: string; index: VideoIndex | undefined };
  private loading?: Promise<void>;
  private failedAt = 0;
  private closed = false;

  /**
   * `maxVideos`: above this many live videos nothing is kept (0 = never): each costs ~150 bytes
   * of names and grams (16 MB at 100,000).
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

  /** Starts reading a copy unless one is being read (also at server start, so the first pages need not wait). */
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
    const tag = await this.readTag();
    if (this.current?.tag === tag) return;
    const index = await readLiveVideos(this.db, this.maxVideos, () => this.closed);
    if (this.closed) return;
    this.current = { tag, index };
  }
}

/** Every live video with its folded name, indexed; undefined when there are more than `max`. */
async function readLiveVideos(db: Database, max: number, stop: () => boolean): Promise<VideoIndex | undefined> {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  // Keyed on movie's primary key; a movie without its media_facts row yet (made at start for
  // older videos) is folded here as that row will be.
  const sql =
    `SELECT m.${q('id')} AS id, m.${q('name')} AS name, m.${q('is_free')} AS is_free, f.${q('name_key')} AS name_key ` +
    `FROM ${q('movie')} m LEFT JOIN ${q('media_facts')} f ON f.${q('movie_id')} = m.${q('id')} ` +
    `WHERE m.${q('is_delete')} = 0 AND m.${q('id')} > ? ORDER BY m.${q('id')} LIMIT ${CHUNK}`;
  const builder = new VideoIndexBuilder();
  const { videos } = builder;
  let after = 0;
  for (;;) {
    if (stop()) return undefined;
    const rows = await db.query<{ id: unknown; name: unknown; is_free: unknown; name_key: unknown }>(sql, [after]);
    for (const row of rows) {
      const name = String(row.name);
      builder.add({ id: Number(row.id), name, is_free: Number(row.is_free), key: row.name_key === null || row.name_key === undefined ? nameKey(name) : String(row.name_key) });
    }
    if (videos.length > max) return undefined;
    if (rows.length < CHUNK) return builder.finish();
    after = videos[videos.length - 1]!.id;
    await new Promise((resolve) => setImmediate(resolve));
  }
}
