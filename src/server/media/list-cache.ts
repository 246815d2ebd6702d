/**
 * The plain video list (get_movie_list without page fields) served from memory: it is the
 * same for every viewer until a video is published or hidden, so each request shape
 * (movie_type x details) keeps its encoded reply frame, tagged with the version it was read
 * at. Why it is exact (docs/media.md, "The list from memory"): a request reads the current
 * version first and serves the frame only when both tags still match; the rows of a new
 * frame are read after its version, so a change committed meanwhile only makes the tag older
 * than the rows (a needless re-read), never newer.
 */
import { encodeFrame } from '../../protocol/frame.js';

/** The version the database is at; read per request (reads of one turn share one statement). */
export type ReadVersion = () => Promise<number>;

interface Entry {
  version: number;
  generation: number;
  frame: Buffer;
}

export class ListCache {
  /** Bumped after every change this node commits, before its reply. */
  private generation = 0;
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly readVersion: ReadVersion = async () => 0) {}

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
