/**
 * The trigram index of names (table name_gram): the grams of a movie's folded name are
 * written in the transaction that publishes it (and at start for older movies); a search
 * term of 3 or more code points reads only the movies holding its rarest grams, and the
 * folded LIKE then checks each candidate, so results are exactly the scan's. Every
 * substring's grams are grams of the name, so no match is missed. Shorter terms have no
 * gram: they still read every name (catalog.ts).
 */
import { quoteIdentifier, type Database } from '../../orm/index.js';

export const GRAM = 3;
/** How far the rarity of a gram is counted (an index range of at most this many entries each). */
const COUNT_CAP = 5000;
/**
 * Counted rarities are remembered per database handle: they only choose which grams to join
 * (any choice gives the same results), so an old count costs speed, never correctness.
 */
const COUNT_TTL_MS = 10 * 60_000;
const COUNTS_KEPT = 50_000;
const rememberedCounts = new WeakMap<Database, Map<string, { n: number; at: number }>>();
/** Grams joined per search: the rarest few narrow enough, LIKE does the rest. */
const JOINED_GRAMS = 3;
/** Distinct grams of a long term whose rarity is counted. */
const COUNTED_GRAMS = 12;

/** The distinct grams of an already folded text, by code point (a Chinese character or an emoji is one). */
export function gramsOf(folded: string): string[] {
  const points = Array.from(folded);
  const grams = new Set<string>();
  for (let i = 0; i + GRAM <= points.length; i++) grams.add(points.slice(i, i + GRAM).join(''));
  return [...grams];
}

/** Writes the grams of `nameKey` for `movieId`; on the publishing transaction. Existing rows are kept (a racing start fill). */
export async function saveNameGrams(tx: Database, movieId: number, nameKey: string): Promise<void> {
  const grams = gramsOf(nameKey);
  if (grams.length === 0) return;
  const q = (name: string) => quoteIdentifier(tx.dialect, name);
  const insert = tx.dialect === 'mysql' ? 'INSERT IGNORE' : 'INSERT OR IGNORE';
  for (let start = 0; start < grams.length; start += 100) {
    const chunk = grams.slice(start, start + 100);
    await tx.execute(
      `${insert} INTO ${q('name_gram')} (${q('gram')}, ${q('movie_id')}) VALUES ${chunk.map(() => '(?, ?)').join(', ')}`,
      chunk.flatMap((gram) => [gram, movieId]),
    );
  }
}

/**
 * The grams a search joins, rarest first, or [] when some gram is in no name (nothing can
 * match). Counts stop at COUNT_CAP: past that, which of two common grams drives matters little.
 */
export async function searchGrams(db: Database, folded: string): Promise<string[]> {
  const grams = gramsOf(folded).slice(0, COUNTED_GRAMS);
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const sql = `SELECT COUNT(*) AS n FROM (SELECT 1 FROM ${q('name_gram')} WHERE ${q('gram')} = ? LIMIT ${COUNT_CAP}) c`;
  let remembered = rememberedCounts.get(db);
  if (remembered === undefined) rememberedCounts.set(db, (remembered = new Map()));
  const known = remembered;
  const now = Date.now();
  const counts = await Promise.all(
    grams.map(async (gram) => {
      const kept = known.get(gram);
      if (kept !== undefined && now - kept.at < COUNT_TTL_MS) return kept.n;
      const n = Number((await db.query<{ n: unknown }>(sql, [gram]))[0]?.n ?? 0);
      if (known.size >= COUNTS_KEPT) known.clear();
      known.set(gram, { n, at: now });
      return n;
    }),
  );
  // A remembered 0 may be out of date (a video published since): only a fresh count says "no match".
  if (counts.some((n) => n === 0)) {
    for (const gram of grams) known.delete(gram);
    return fresh(db, sql, grams);
  }
  return rarest(grams, counts);
}

async function fresh(db: Database, sql: string, grams: string[]): Promise<string[]> {
  const counts = await Promise.all(grams.map(async (gram) => Number((await db.query<{ n: unknown }>(sql, [gram]))[0]?.n ?? 0)));
  if (counts.some((n) => n === 0)) return [];
  return rarest(grams, counts);
}

function rarest(grams: string[], counts: number[]): string[] {
  return grams
    .map((gram, i) => ({ gram, n: counts[i]! }))
    .sort((a, b) => a.n - b.n)
    .slice(0, JOINED_GRAMS)
    .map((entry) => entry.gram);
}

/** Gives every movie with a search key but no grams its grams, 500 movies per transaction; returns how many got some. */
export async function addMissingNameGrams(db: Database): Promise<number> {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  // Names under 3 code points have no grams and are looked at again each start: a cheap few.
  const missing =
    `SELECT f.${q('movie_id')} AS id, f.${q('name_key')} AS name_key FROM ${q('media_facts')} f ` +
    `WHERE f.${q('movie_id')} > ? AND NOT EXISTS (SELECT 1 FROM ${q('name_gram')} g WHERE g.${q('movie_id')} = f.${q('movie_id')}) ` +
    `ORDER BY f.${q('movie_id')} LIMIT 500`;
  let added = 0;
  let after = 0;
  for (;;) {
    const rows = await db.query<{ id: unknown; name_key: string }>(missing, [after]);
    if (rows.length === 0) return added;
    await db.transaction(async (tx) => {
      for (const row of rows) await saveNameGrams(tx, Number(row.id), String(row.name_key));
    });
    added += rows.filter((row) => gramsOf(String(row.name_key)).length > 0).length;
    after = Number(rows[rows.length - 1]!.id);
  }
}
