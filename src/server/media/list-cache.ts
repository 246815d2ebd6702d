/**
 * The plain video list (get_movie_list without page fields) served from memory: it is the
 * same for every viewer until a video is published or hidden, so each movie_type
 * (the `details` list is not: its `bought` differs per viewer) keeps its encoded reply frame, tagged with the version it was read
 * at. Why it is exact (docs/media.md, "The list from memory"): a request reads the current
 * version first and serves the frame only when both tags still match; the rows of a new
 * frame are read after its version, so a change committed meanwhile only makes the tag older
 * than the rows (a needless re-read), never newer.
 */
import { quoteIdentifier, type Database } from '../../orm/index.js';
import { encodeFrame } from '../../protocol/frame.js';

/** The version the database is at; read per request (reads of one turn share one statement). */
export type ReadVersion = () => Promise<string>;

/**
 * The catalog's version as every node sees it: the last event id and the highest movie id,
 * two primary-key reads (O(1); the row and hidden counts it replaces read the whole
 * (is_delete, id) index: ~ms per turn at 100,000 videos). Every change cinebox makes to a
 * listed video (publish, delete, fsck's hide) records its event in the same transaction, and
 * event ids are handed out in commit order on every node (event-store.ts), so each such
 * commit moves the version. The highest id also moves when rows are inserted with no
 * event (a seeding script, a test).
 */
export function catalogVersion(db: Database): ReadVersion {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const sql =
    `SELECT (SELECT ${q('last_id')} FROM ${q('event_sequence')} WHERE ${q('id')} = 1) AS e, ` +
    `(SELECT MAX(${q('id')}) FROM ${q('movie')}) AS m`;
  return async () => {
    const row = (await db.query<{ e: unknown; m: unknown }>(sql))[0];
    return `${Number(row?.e ?? 0)}/${Number(row?.m ?? 0)}`;
  };
}

interface Entry {
  tag: string;
  frame: Buffer;
}

export class ListCache {
  /** Bumped after every change this node commits, before its reply. */
  private generation = 0;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly readVersion: ReadVersion = async () => '') {}

  /**
   * The encoded reply for `shape`, from memory when nothing changed since it was read, else
   * built by `read` (which may throw: nothing is kept then).
   */
  async frame(shape: string, read: () => Promise<object>): Promise<Buffer> {
    const tag = await this.tag();
    const kept = this.entries.get(shape);
    if (kept !== undefined && kept.tag === tag) return kept.frame;
    const frame = encodeFrame(await read());
    // Tagged with what was current before the read: a change committed during it makes the tag stale, never the frame.
    this.entries.set(shape, { tag, frame });
    return frame;
  }

  /** What a view read now is valid for: this node's generation and the database's version (read in this order). */
  async tag(): Promise<string> {
    const generation = this.generation;
    return `${generation}|${await this.readVersion()}`;
  }

  /** Call after a commit that adds, hides or changes a listed video, before its reply. */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }
}
