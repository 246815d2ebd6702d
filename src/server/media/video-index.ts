/**
 * The live videos of one catalog version, in memory: by id, by folded name, and a posting
 * list per name gram. Pages and searches read it in microseconds where the SQL walks an
 * index and probes a row per candidate (~150 µs a page, ~2.5 ms a search at 100,000 videos).
 * Results are exactly the SQL's (catalog.ts): the same folded key (media_facts.name_key),
 * the same substring test, the same orders, the same keyset cursors. A publish appends, a
 * delete hides (memory-catalog.ts applies the events), so a change costs microseconds.
 */
import type { MovieOrder } from '../../protocol/messages.js';
import { GRAM, gramsOf } from './name-grams.js';
import { nameKey } from './name-key.js';

export interface IndexedVideo {
  id: number;
  name: string;
  is_free: number;
  /** The folded name as stored (media_facts.name_key). */
  key: string;
  /** Deleted since the copy was read: kept in place (positions stay valid), never listed. */
  hidden?: true;
  /** Its `movie_list` entry as JSON, made on its first listing (a page is then a join of them). */
  entry?: string;
}

export interface IndexQuery {
  movieType: 'all' | 'free' | 'charge';
  search?: string;
  limit?: number;
  after?: number;
  order: MovieOrder;
}

/**
 * UTF-16 code-unit order differs from code-point order (SQLite's BINARY on UTF-8, MySQL's
 * utf8mb4_bin) only where a surrogate meets U+E000..U+FFFF: shift those two ranges past each
 * other at the first difference (the usual fix-up; ICU does the same).
 */
export function compareCodePoints(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x += x >= 0xe000 ? -0x800 : 0x2000;
      y += y >= 0xe000 ? -0x800 : 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

/**
 * The distinct grams of 1, 2 and 3 code points of a folded name. The database has 3-grams
 * only (shorter terms read every name there); here a 1- or 2-character term, common in
 * Chinese (熊猫), is one list too, for ~2x the memory of the 3-grams alone.
 */
function shortGramsOf(key: string): Set<string> {
  const points = Array.from(key);
  const grams = new Set<string>();
  for (let i = 0; i < points.length; i++) {
    const one = points[i]!;
    grams.add(one);
    if (i + 1 < points.length) {
      const two = one + points[i + 1]!;
      grams.add(two);
      if (i + 2 < points.length) grams.add(two + points[i + 2]!);
    }
  }
  return grams;
}

/** How the grams of a search term are looked up: its 3-grams, or the whole term when shorter. */
function termGrams(folded: string): string[] {
  const length = Array.from(folded).length;
  return length >= GRAM ? gramsOf(folded) : length > 0 ? [folded] : [];
}

/** Collects videos in id order and their grams' posting lists; a load adds a chunk at a time, yielding in between. */
export class VideoIndexBuilder {
  readonly videos: IndexedVideo[] = [];
  private readonly lists = new Map<string, number[]>();

  add(video: IndexedVideo): void {
    const position = this.videos.push(video) - 1;
    for (const gram of shortGramsOf(video.key)) {
      const list = this.lists.get(gram);
      if (list === undefined) this.lists.set(gram, [position]);
      else list.push(position);
    }
  }

  finish(): VideoIndex {
    // Packed: 4 bytes an entry instead of 8 (~20 MB less at 100,000 videos); a list an append touches is unpacked then.
    const grams = new Map<string, Int32Array | number[]>();
    for (const [gram, list] of this.lists) grams.set(gram, Int32Array.from(list));
    return new VideoIndex(this.videos, grams);
  }
}

/** Posting lists merged per search (the rarest first), each at most MERGE_RATIO times the candidates so far. */
const INTERSECTED = 3;
const MERGE_RATIO = 8;

/** Up to this page size, a search by name keeps its lowest places in a sorted list as it goes; above it, it sorts them all. */
const SMALL_PAGE = 100;

export class VideoIndex {
  /** Built on the first `name` order asked for (a sort of every name, ~0.1 s at 100,000); appends insert into it. */
  private names?: { byName: number[]; rank?: Int32Array };
  private hiddenCount = 0;

  /** `videos` ascending by id; `grams`: each gram's positions in `videos`, ascending. */
  constructor(
    private readonly videos: IndexedVideo[],
    private readonly grams: Map<string, Int32Array | number[]>,
  ) {}

  static of(videos: IndexedVideo[]): VideoIndex {
    const builder = new VideoIndexBuilder();
    for (const video of videos) builder.add(video);
    return builder.finish();
  }

  /** Live videos. */
  get size(): number {
    return this.videos.length - this.hiddenCount;
  }

  /** Deleted videos still held in place (a fresh read drops them). */
  get hidden(): number {
    return this.hiddenCount;
  }

  /** The highest id ever held, live or hidden (0 when empty). */
  get lastId(): number {
    return this.videos.length === 0 ? 0 : this.videos[this.videos.length - 1]!.id;
  }

  /** The live video with this id, if any. */
  byId(id: number): IndexedVideo | undefined {
    const video = this.videos[this.firstAbove(id - 1)];
    return video?.id === id && !video.hidden ? video : undefined;
  }

  /** Whether this id is held, live or hidden. */
  holds(id: number): boolean {
    return this.videos[this.firstAbove(id - 1)]?.id === id;
  }

  /** Adds a video above every id held (a publish); false when its id is not (the caller reads everything again). */
  append(video: IndexedVideo): boolean {
    if (video.id <= this.lastId) return false;
    const position = this.videos.push(video) - 1;
    for (const gram of shortGramsOf(video.key)) {
      const list = this.grams.get(gram);
      if (list === undefined) this.grams.set(gram, [position]);
      else if (Array.isArray(list)) list.push(position);
      else this.grams.set(gram, [...list, position]);
    }
    if (this.names !== undefined) {
      const { byName } = this.names;
      let lo = 0;
      let hi = byName.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if ((compareCodePoints(this.videos[byName[mid]!]!.key, video.key) || this.videos[byName[mid]!]!.id - video.id) > 0) hi = mid;
        else lo = mid + 1;
      }
      byName.splice(lo, 0, position);
      this.names.rank = undefined; // places after it moved: counted again when a search by name needs them
    }
    return true;
  }

  /** Hides a video (a delete); one not held is fine (it was deleted before the copy was read). */
  hide(id: number): void {
    const video = this.videos[this.firstAbove(id - 1)];
    if (video?.id !== id || video.hidden) return;
    video.hidden = true;
    this.hiddenCount++;
  }

  /**
   * The page's videos. `cursorKey`: the folded name of `after` for the name order (the caller
   * reads it from the database when `after` is not a live video here, as the SQL does).
   */
  select(query: IndexQuery, cursorKey?: string): IndexedVideo[] {
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const wanted = query.movieType === 'all' ? -1 : query.movieType === 'free' ? 1 : 0;
    let candidates: ArrayLike<number> | undefined;
    let folded: string | undefined;
    if (query.search !== undefined) {
      folded = nameKey(query.search);
      const grams = termGrams(folded);
      const lists: ArrayLike<number>[] = [];
      for (const gram of grams) {
        const list = this.grams.get(gram);
        if (list === undefined) return [];
        lists.push(list);
      }
      // Every gram of the term is a gram of a matching name: the rarest lists' common positions
      // hold every match. A merge of two sorted lists costs less than a substring test per entry.
      lists.sort((a, b) => a.length - b.length);
      candidates = lists[0];
      for (let l = 1; l < Math.min(lists.length, INTERSECTED) && candidates!.length > 0; l++) {
        if (lists[l]!.length > MERGE_RATIO * candidates!.length) break;
        candidates = intersect(candidates!, lists[l]!);
      }
      // A term of at most 3 code points is its own gram: its list holds exactly the names containing it.
      if (grams.length === 1 && grams[0] === folded) folded = undefined;
    }
    const matches = (video: IndexedVideo) => !video.hidden && (wanted < 0 || video.is_free === wanted) && (folded === undefined || video.key.includes(folded));
    if (query.order === 'name') return this.selectByName(query, limit, matches, candidates, cursorKey);

    const out: IndexedVideo[] = [];
    const ascending = query.order === 'oldest';
    const { videos } = this;
    if (candidates === undefined) {
      // Positions in id order: from just past the cursor, forwards or backwards.
      if (ascending) {
        for (let i = query.after === undefined ? 0 : this.firstAbove(query.after); i < videos.length && out.length < limit; i++) {
          if (matches(videos[i]!)) out.push(videos[i]!);
        }
      } else {
        for (let i = (query.after === undefined ? videos.length : this.firstAbove(query.after - 1)) - 1; i >= 0 && out.length < limit; i--) {
          if (matches(videos[i]!)) out.push(videos[i]!);
        }
      }
      return out;
    }
    // Candidates are positions, ascending: in id order too.
    const start = query.after === undefined ? (ascending ? 0 : candidates.length) : lowerBound(candidates, ascending ? this.firstAbove(query.after) : this.firstAbove(query.after - 1));
    if (ascending) {
      for (let c = start; c < candidates.length && out.length < limit; c++) {
        const video = videos[candidates[c]!]!;
        if (matches(video)) out.push(video);
      }
    } else {
      for (let c = start - 1; c >= 0 && out.length < limit; c--) {
        const video = videos[candidates[c]!]!;
        if (matches(video)) out.push(video);
      }
    }
    return out;
  }

  private selectByName(query: IndexQuery, limit: number, matches: (video: IndexedVideo) => boolean, candidates: ArrayLike<number> | undefined, cursorKey: string | undefined): IndexedVideo[] {
    const { videos } = this;
    const names = (this.names ??= { byName: this.sortByName() });
    const { byName } = names;
    let first = 0;
    if (query.after !== undefined) {
      // The first place in the name order past (cursorKey, after).
      const after = query.after;
      let hi = byName.length;
      while (first < hi) {
        const mid = (first + hi) >>> 1;
        const video = videos[byName[mid]!]!;
        if ((compareCodePoints(video.key, cursorKey!) || video.id - after) > 0) hi = mid;
        else first = mid + 1;
      }
    }
    const out: IndexedVideo[] = [];
    if (candidates === undefined) {
      for (let i = first; i < byName.length && out.length < limit; i++) {
        const video = videos[byName[i]!]!;
        if (matches(video)) out.push(video);
      }
      return out;
    }
    // A search: the matches' places in the name order, the lowest `limit` of them kept
    // (O(candidates); a walk of the name order could read every name before its first match).
    const rank = (names.rank ??= ranks(byName));
    let kept: number[] = [];
    const bounded = limit <= SMALL_PAGE;
    for (let c = 0; c < candidates.length; c++) {
      const place = rank[candidates[c]!]!;
      if (place < first || (bounded && kept.length >= limit && place > kept[kept.length - 1]!)) continue;
      if (!matches(videos[candidates[c]!]!)) continue;
      if (!bounded) {
        kept.push(place);
        continue;
      }
      let at = kept.length;
      while (at > 0 && kept[at - 1]! > place) at--;
      kept.splice(at, 0, place);
      if (kept.length > limit) kept.pop();
    }
    if (!bounded) kept = Array.from(Int32Array.from(kept).sort().subarray(0, Math.min(kept.length, limit)));
    return kept.map((place) => videos[byName[place]!]!);
  }

  /** Every position in name order: folded name in code-point order, then id. */
  private sortByName(): number[] {
    const { videos } = this;
    const order = Array.from({ length: videos.length }, (_, i) => i);
    return order.sort((a, b) => compareCodePoints(videos[a]!.key, videos[b]!.key) || videos[a]!.id - videos[b]!.id);
  }

  /** The first position whose id is above `id`. */
  private firstAbove(id: number): number {
    const { videos } = this;
    let lo = 0;
    let hi = videos.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (videos[mid]!.id > id) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** Each position's place in the name order. */
function ranks(byName: number[]): Int32Array {
  const rank = new Int32Array(byName.length);
  for (let place = 0; place < byName.length; place++) rank[byName[place]!] = place;
  return rank;
}

/** The values in both ascending lists, ascending. */
function intersect(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const value = a[i]!;
    while (j < b.length && b[j]! < value) j++;
    if (j === b.length) break;
    if (b[j] === value) out.push(value);
  }
  return out;
}

/** The first index of the ascending `list` holding a value >= `value`. */
function lowerBound(list: ArrayLike<number>, value: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! >= value) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}
