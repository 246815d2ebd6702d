/**
 * The original clients' upload (no declared SHA-256): the body goes to a temp file while the
 * server hashes it, and only a complete file is renamed into the store and gets its row; a
 * cut upload is simply deleted, as it cannot be resumed.
 */
import { Upload } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, CineboxError, Conflict, StorageFull } from '../errors.js';
import { isDiskFull } from '../media-store.js';
import { findDuplicate, publishMovie, recordLegacyIntent } from './publish.js';
import { assertWithinQuota } from './quota.js';

export async function receiveLegacy(req: Request<'update_movie'>, ctx: UserContext): Promise<Reply> {
  if (req.offset) throw new BadRequest('offset: a resumed upload must declare its sha256 (or sha256_trailer)');
  const { app, conn, body, user } = ctx;
  if (!body && req.file_size > 0) throw new BadRequest('file_size announced but no body');
  await assertWithinQuota(ctx, req.file_size);
  const tempPath = app.media.legacyIncomingPath();
  const started = performance.now();
  let sha256: string;
  const file = await app.media.openPartial(tempPath, { start: 0, expectedBytes: req.file_size });
  try {
    await body?.consume((chunk) => (file.write(chunk) ? undefined : file.drained()));
    sha256 = await file.finish();
  } catch (error) {
    await file.close({ dropQueued: true }); // deleted next: nothing more to write or sync
    await app.media.discard(tempPath);
    conn.log.warn({ err: (error as Error).message, received: body?.received, size: req.file_size }, 'upload failed');
    throw storageError(error);
  }
  const duplicate = await findDuplicate(app.db, { sha256, fileMd5: req.file_md5 });
  if (duplicate) {
    await app.media.discard(tempPath);
    throw new Conflict(`this video is already stored as #${duplicate.id} "${duplicate.name}"`);
  }
  // The intent row lets a restart after a crash mid-publish put the file back (publish.ts).
  const intent = await recordLegacyIntent(ctx, tempPath, { fileMd5: req.file_md5, size: req.file_size }).catch(async (error: unknown) => {
    await app.media.discard(tempPath);
    throw error;
  });
  const movie = await publishMovie(ctx, {
    tempPath,
    intent,
    name: req.file_name,
    isFree: req.is_free,
    fileMd5: req.file_md5,
    sha256,
    size: req.file_size,
  }).catch(async (error: unknown) => {
    // Not resumable without a declared sha256: drop the bytes and the intent row.
    await Upload.deleteWhere(app.db, { id: intent.id, holder: intent.holder });
    await app.media.discard(tempPath);
    throw error;
  });
  const seconds = (performance.now() - started) / 1000;
  conn.log.info({ user: user.id, movie: movie.id, bytes: req.file_size, seconds }, 'upload stored');
  return { flag: true, msg: 'uploaded', movie_id: movie.id, sha256 };
}

/** The reply for a write error of the legacy (non-resumable) upload path. */
function storageError(error: unknown): unknown {
  if (isDiskFull(error) && !(error instanceof CineboxError)) return new StorageFull("the server's storage is full, try again later");
  return error;
}
