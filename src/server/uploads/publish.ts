/**
 * The last step of every upload: rename the verified temp file into the media store and
 * swap its upload row for a movie row. The database decides races: `live_sha256` is unique,
 * so of two uploads of the same file that finish together one wins and the other gets CONFLICT.
 * The movie's media_facts row (media/facts.ts) is inserted in the same transaction.
 */
import { DuplicateKeyError, type Database } from '../../orm/index.js';
import { Movie, Upload, User } from '../../orm/models/index.js';
import type { UserContext } from '../context.js';
import { AccountLocked, Conflict, duplicateOf, Forbidden, TakenOver } from '../errors.js';
import { crashPoint } from './crash-points.js';
import { assertVideo, insertFactsRows } from '../media/facts.js';
import { recordEvent, type StoredEvent } from '../events/event-store.js';

export interface VerifiedUpload {
  tempPath: string;
  /**
   * The upload row naming this partial (the intent record) and the attempt's holder token:
   * the commit deletes it only if this attempt still holds it.
   */
  intent: { id: number; holder: string; tempName: string };
  name: string;
  isFree: number;
  fileMd5: string;
  sha256: string;
  size: number;
}

/** A live video with the same content: by SHA-256 when known, else by the original's quick MD5. */
export async function findDuplicate(db: Database, content: { sha256?: string; fileMd5: string }): Promise<Movie | undefined> {
  const where = content.sha256 ? { sha256: content.sha256, is_delete: 0 } : { file_md5: content.fileMd5, is_delete: 0 };
  return Movie.selectOne(db, where);
}

/**
 * The order, and why (a crash may stop the process, or the power, between any two steps):
 *  1. the partial's bytes are durable (the sink fdatasyncs before it hands out the digest);
 *  2. an upload row names the partial (`intent`), committed before the rename;
 *  3. rename .incoming/U.part -> U.ext, then fsync the media directory: the name is durable;
 *  4. one transaction inserts the movie row and deletes the upload row, durable at COMMIT
 *     (SQLite WAL + synchronous=FULL, InnoDB flush at commit);
 *  5. only then the reply.
 * Cut before 3: the partial and its row are there, the upload resumes. Cut between 3 and 4:
 * U.ext has no movie row but an upload row names U.part, so a restart moves it back
 * (fsck/check-store.ts) and the resume finds every byte. Cut after 4: the video is stored; the client
 * that got no reply is told so when it tries again.
 */
export async function publishMovie(
  { app, user }: UserContext,
  upload: VerifiedUpload,
): Promise<Movie> {
  // Probed before it is stored only when the operator refuses non-videos; else after, in the background.
  const probed = app.config.refuseNonVideo ? await app.facts.prober.probe(upload.tempPath) : undefined;
  if (probed) assertVideo(probed);
  const storedName = app.media.storedNameFor(upload.intent.tempName, upload.name);
  crashPoint('before-rename');
  const storedPath = await app.media.moveIntoStore(upload.tempPath, storedName);
  crashPoint('after-rename');
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
  let event: StoredEvent;
  try {
    await app.media.syncStore();
    crashPoint('after-dir-sync');
    event = await app.db.transaction(async (tx) => {
      await assertStillAllowed(tx, user.id);
      await movie.save(tx);
      await insertFactsRows(tx, movie, probed);
      await dropIntent(tx, upload.intent);
      return recordEvent(tx, 'video_added', { movie_id: movie.id, name: movie.name, is_free: movie.is_free, size: movie.size });
    });
  } catch (error) {
    // Put the bytes back where they came from, so a retry (or a resume) still has them.
    await app.media.disk.rename(storedPath, upload.tempPath).catch(() => undefined);
    if (error instanceof DuplicateKeyError) {
      const winner = await Movie.selectOne(app.db, { live_sha256: upload.sha256 });
      throw winner ? duplicateOf(winner) : new Conflict('this video is already stored');
    }
    throw error;
  }
  crashPoint('after-commit');
  app.catalog.invalidate();
  if (!probed || probed.outcome === 'not-probed') app.facts.probeLater(movie.id, storedPath);
  app.events.announce(event);
  return movie;
}

/**
 * The uploader read again at the last moment: an upload can run for hours (and a trailer
 * upload waits for its client), and an admin locked or demoted meanwhile must not publish.
 */
async function assertStillAllowed(tx: Database, userId: number): Promise<void> {
  const user = await User.selectOne(tx, { id: userId });
  if (!user || user.is_locked) throw new AccountLocked('account is locked: the upload was not published');
  if (user.user_type !== 'admin') throw new Forbidden('only admins may publish videos');
}

/** Deletes the intent row in the publishing transaction; if another attempt (or a repair) took it meanwhile, rolls back. */
async function dropIntent(tx: Database, intent: VerifiedUpload['intent']): Promise<void> {
  const dropped = await Upload.deleteWhere(tx, { id: intent.id, holder: intent.holder });
  if (dropped !== 1) throw new TakenOver('this upload was taken over by another connection while it was published; try again');
}
