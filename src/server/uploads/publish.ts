/**
 * The last step of every upload: rename the verified temp file into the media store and
 * insert its movie row (and its media_facts row, media/facts.ts). The database decides races: `live_sha256` is unique, so of two
 * uploads of the same file that finish together one wins and the other gets CONFLICT.
 */
import { rename } from 'node:fs/promises';
import { DuplicateKeyError, type Database } from '../../orm/index.js';
import { Movie } from '../../orm/models/index.js';
import type { UserContext } from '../context.js';
import { Conflict } from '../errors.js';
import { assertVideo, newFactsRow } from '../media/facts.js';

export interface VerifiedUpload {
  tempPath: string;
  name: string;
  isFree: number;
  fileMd5: string;
  sha256: string;
  size: number;
}

export async function publishMovie(
  { app, user }: UserContext,
  upload: VerifiedUpload,
  /** More writes that must commit with the movie row (e.g. dropping the resumable upload's row). */
  alsoInTransaction?: (tx: Database) => Promise<unknown>,
): Promise<Movie> {
  // Probed before it is stored only when the operator refuses non-videos; else after, in the background.
  const probed = app.config.nonVideoUploads === 'refuse' ? await app.facts.prober.probe(upload.tempPath) : undefined;
  if (probed) assertVideo(probed);
  const storedName = app.media.newStoredName(upload.name);
  const storedPath = await app.media.publish(upload.tempPath, storedName);
  const movie = Movie.from({
    name: upload.name,
    path: storedName,
    is_free: upload.isFree,
    is_delete: 0,
    create_time: new Date(),
    file_md5: upload.fileMd5,
    sha256: upload.sha256,
    live_sha256: upload.sha256,
    size: upload.size,
    user_id: user.id,
  });
  try {
    await app.db.transaction(async (tx) => {
      await movie.save(tx);
      await newFactsRow(movie, probed).save(tx);
      await alsoInTransaction?.(tx);
    });
  } catch (error) {
    // Put the bytes back where they came from, so a retry (or a resume) still has them.
    await rename(storedPath, upload.tempPath).catch(() => app.media.discard(storedPath));
    if (error instanceof DuplicateKeyError) {
      await app.media.discard(upload.tempPath);
      const winner = await Movie.selectOne(app.db, { live_sha256: upload.sha256 });
      throw new Conflict(`this video is already stored${winner ? ` as #${winner.id} "${winner.name}"` : ''}`);
    }
    throw error;
  }
  if (!probed || probed.outcome === 'not-probed') app.facts.probeLater(movie.id, storedPath);
  return movie;
}
