/**
 * The operator's purge: deleted videos older than an age lose their files for good. The
 * file goes first, then the row is marked purged (`is_delete` 2), so a crash in between
 * leaves a row the next purge finishes; the row stays, for download histories.
 */
import type { Logger } from 'pino';
import type { Database } from '../orm/index.js';
import { Movie } from '../orm/models/index.js';
import type { MediaStore } from './media-store.js';

export interface PurgeResult {
  videos: number;
  bytes: number;
}

export async function purgeDeleted(
  { db, media, log }: { db: Database; media: MediaStore; log?: Logger },
  olderThanMs: number,
  { dryRun = false, now = Date.now() } = {},
): Promise<PurgeResult> {
  const cutoff = now - olderThanMs;
  const deleted = await Movie.select(db, { is_delete: 1 }, { columns: ['id', 'path', 'size', 'delete_time'], orderBy: [['id', 'asc']] });
  // Deleted before delete_time existed: as old as any age.
  const due = deleted.filter((movie) => movie.delete_time === null || movie.delete_time.getTime() <= cutoff);
  const result = { videos: 0, bytes: 0 };
  for (const movie of due) {
    if (!dryRun) {
      await media.discard(media.pathOf(movie.path));
      if ((await Movie.updateWhere(db, { is_delete: 2 }, { id: movie.id, is_delete: 1 })) === 0) continue;
      log?.info({ movie: movie.id, bytes: movie.size }, 'deleted video purged');
    }
    result.videos++;
    result.bytes += movie.size;
  }
  return result;
}
