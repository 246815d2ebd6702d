/**
 * Names as search compares them. Folding in JavaScript and storing the result (media_facts
 * .name_key) makes search behave the same on both databases: SQLite's LIKE and LOWER() fold
 * ASCII only, and the MySQL tables use utf8mb4_bin, which compares bytes. NFKC also makes
 * full-width Latin (ＡＢＣ, common in Chinese text) match plain ABC.
 */
export const NAME_KEY_LENGTH = 512;

export function nameKey(name: string): string {
  const folded = name.normalize('NFKC').toLowerCase();
  // VARCHAR lengths count code points; a few characters grow under NFKC (e.g. ligatures).
  return folded.length <= NAME_KEY_LENGTH ? folded : Array.from(folded).slice(0, NAME_KEY_LENGTH).join('');
}

/** The escape character of the LIKE patterns below (`ESCAPE '!'`). */
export const LIKE_ESCAPE = '!';

/** A LIKE pattern matching names that contain `text`, wildcards in `text` taken literally. */
export function containsPattern(text: string): string {
  return `%${nameKey(text).replace(/[!%_]/g, (c) => LIKE_ESCAPE + c)}%`;
}
