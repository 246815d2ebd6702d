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
 * The movie table's version as every node sees it: how many rows, how many hidden. Movie rows
 * are only ever inserted (never removed) and hidden (is_delete 0 -> 1, never back), and a
 * listed column never changes, so every publish or hide on any node, committed in any order,
 * moves one of the two counts. One index scan per turn (a covering read of (is_delete, id)),
 * less than the list itself reads.
 */
export function movieTableVersion(db: Database): ReadVersion {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const sql = `SELECT COUNT(*) AS n, SUM(${q('is_delete')}) AS d FROM ${q('movie')}`;
  return async () => {
    const row = (await db.query<{ n: unknown; d: unknown }>(sql))[0];
    return `${Number(row?.n ?? 0)}/${Number(row?.d ?? 0)}`;
  };
}

interface Entry {
  version: string;
  generation: number;
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
    const generation = this.generation;
    const version = await this.readVersion();
    const kept = this.entries.get(shape);
    if (kept !== undefined && kept.version === version && kept.generation === generation) return kept.frame;
    const frame = encodeFrame(await read());
    // Tagged with what was current before the read: a change committed during it makes the tag stale, never the frame.
    this.entries.set(shape, { version, generation, frame });
    return frame;
  }

  /** Call after a commit that adds, hides or changes a listed video, before its reply. */
  invalidate(): void {
    this.generation++;
    this.entries.clear();
  }
}
