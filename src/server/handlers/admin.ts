/** The admin functions: upload, duplicate check, soft delete, notices. */
import { Movie, Notice, Upload } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, Conflict, NotFound } from '../errors.js';
import { publishMovie, recordLegacyIntent } from '../uploads/publish.js';
import { assertWithinQuota } from './quotas.js';
import { assertUploadSize, findUpload, heldOffset, receiveResumable, storageError } from '../uploads/resumable.js';

/** A 0-byte upload would be a video nobody can play; the clients refuse it before sending, too. */
const EMPTY_VIDEO = 'an empty file (0 bytes) is not a video';

/** Finds a live video with the same content: by SHA-256 when the client sends one, else by the original's quick MD5. */
async function findDuplicate(ctx: UserContext, fileMd5: string, sha256?: string): Promise<Movie | undefined> {
  const where = sha256 ? { sha256, is_delete: 0 } : { file_md5: fileMd5, is_delete: 0 };
  return Movie.selectOne(ctx.app.db, where);
}

/**
 * check_movie, the step before an upload: refuses a duplicate and, given `size`, an upload
 * over the quota (before any byte is sent); reports in `offset` how many bytes of a cut
 * upload of this file the server already holds (found by `sha256`, or with `size` by the
 * quick fingerprint). With `sha256_trailer` and no sha256 (a client that has not hashed the
 * file yet), a stored video with the same fingerprint is not refused but answered with
 * `sha256_needed`: the client hashes the file and asks again.
 */
export async function checkMovie(req: Request<'check_movie'>, ctx: UserContext): Promise<Reply> {
  if (req.size === 0) throw new BadRequest(EMPTY_VIDEO);
  const fingerprintOnly = req.sha256_trailer === true && !req.sha256;
  const existing = await findDuplicate(ctx, req.file_md5, req.sha256);
  if (existing && fingerprintOnly) {
    return { flag: true, msg: 'a stored video has the same quick fingerprint: send the sha256 to check', sha256_needed: true, offset: 0 };
  }
  if (existing) throw new Conflict(`this video is already stored as #${existing.id} "${existing.name}"`);
  if (req.size !== undefined) assertUploadSize(ctx.app, req.size);
  // Without a size only the SHA-256 can name the upload (size -1 matches no fingerprint).
  const key = { sha256: req.sha256, fileMd5: req.file_md5, size: req.size ?? -1 };
  const upload = req.sha256 || fingerprintOnly ? await findUpload(ctx.app, ctx.user.id, key) : undefined;
  const quota = req.size === undefined ? undefined : await assertWithinQuota(ctx, req.size, upload?.id);
  const offset = upload ? await heldOffset(ctx.app, upload, req.size ?? upload.total_size) : 0;
  return {
    flag: true,
    msg: offset > 0 ? `the server holds ${offset} bytes of this file: resume from there` : 'not stored yet, you may upload',
    offset,
    ...(quota ? { used_bytes: quota.usedBytes, quota_bytes: quota.quotaBytes } : {}),
  };
}

/**
 * update_movie: the body goes to a temp file while the server hashes it; only a complete,
 * verified file is renamed into the media store and gets a database row. With `sha256`
 * the upload is resumable (see uploads.ts); without it (the original clients) a cut upload
 * is simply deleted.
 */
export async function uploadMovie(req: Request<'update_movie'>, ctx: UserContext): Promise<Reply> {
  if (req.file_size === 0 && !req.offset) throw new BadRequest(EMPTY_VIDEO); // a resume may have nothing left to send
  if (req.sha256 || req.sha256_trailer) return receiveResumable(req, ctx);
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
  const duplicate = await findDuplicate(ctx, req.file_md5, sha256);
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

/** Soft delete: the row and the file stay (history keeps its names), lists and downloads skip it. */
export async function deleteMovie(req: Request<'delete_movie'>, { app, conn, user }: UserContext): Promise<Reply> {
  const changed = await Movie.updateWhere(app.db, { is_delete: 1, live_sha256: null }, { id: req.movie_id, is_delete: 0 });
  if (changed === 0) throw new NotFound(`no video #${req.movie_id}`);
  conn.log.info({ user: user.id, movie: req.movie_id }, 'video deleted');
  return { flag: true, msg: 'deleted' };
}

export async function releaseNotice(req: Request<'release_notice'>, { app, conn, user }: UserContext): Promise<Reply> {
  const notice = Notice.from({ title: req.title, content: req.content, user_id: user.id, create_time: new Date() });
  await notice.save(app.db);
  conn.log.info({ user: user.id, notice: notice.id }, 'notice released');
  return { flag: true, msg: 'notice released', notice_id: notice.id };
}
