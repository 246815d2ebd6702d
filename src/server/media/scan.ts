/**
 * `cinebox media scan`: probes the stored videos that have no facts yet (stored before
 * media facts existed, while ffprobe was missing, or whose probe timed out); with `again`,
 * every live video. Runs against the database and media directory directly, like
 * create-admin, so it works while servers run (each row is one UPDATE).
 */
import { access } from 'node:fs/promises';
import { quoteIdentifier, type Database } from '../../orm/index.js';
import { MediaFacts } from '../../orm/models/index.js';
import type { MediaStore } from '../media-store.js';
import { factColumns } from './facts.js';
import type { MediaProber } from './probe.js';
import { addMissingFactsRows } from './setup.js';

export interface ScanSummary {
  /** Videos looked at. */
  scanned: number;
  withFacts: number;
  unknownFormat: number;
  /** ffprobe gave no answer (timeout, crash): still without facts. */
  notProbed: number;
  /** The row names a file the media directory does not have. */
  missingFiles: number;
}

const BATCH = 100;

export async function scanMedia(
  db: Database,
  media: MediaStore,
  prober: MediaProber,
  options: { again?: boolean; onProgress?: (done: number, total: number) => void } = {},
): Promise<ScanSummary> {
  await addMissingFactsRows(db);
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const sql =
    `SELECT m.${q('id')} AS id, m.${q('path')} AS path FROM ${q('movie')} m ` +
    `JOIN ${q('media_facts')} f ON f.${q('movie_id')} = m.${q('id')} ` +
    `WHERE m.${q('is_delete')} = 0${options.again ? '' : ` AND f.${q('probed')} = 0`} ORDER BY m.${q('id')}`;
  const todo = await db.query<{ id: number; path: string }>(sql);
  const summary: ScanSummary = { scanned: 0, withFacts: 0, unknownFormat: 0, notProbed: 0, missingFiles: 0 };
  for (let i = 0; i < todo.length; i += BATCH) {
    // The prober's limit decides how many run at once; a batch keeps the queue short.
    await Promise.all(todo.slice(i, i + BATCH).map((movie) => scanOne(db, media, prober, Number(movie.id), String(movie.path), summary)));
    options.onProgress?.(Math.min(i + BATCH, todo.length), todo.length);
  }
  return summary;
}

async function scanOne(db: Database, media: MediaStore, prober: MediaProber, id: number, storedName: string, summary: ScanSummary): Promise<void> {
  summary.scanned++;
  const path = media.pathOf(storedName);
  if (!(await access(path).then(() => true, () => false))) {
    summary.missingFiles++;
    return;
  }
  const result = await prober.probe(path);
  if (result.outcome === 'not-probed') {
    summary.notProbed++;
    return;
  }
  await MediaFacts.updateWhere(db, factColumns(result), { movie_id: id });
  if (result.outcome === 'facts') summary.withFacts++;
  else summary.unknownFormat++;
}
