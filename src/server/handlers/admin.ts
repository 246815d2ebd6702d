/** The admin functions: upload, duplicate check, soft delete, notices. */
import { Movie, Notice } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, duplicateOf, NotFound } from '../errors.js';
import { receiveLegacy } from '../uploads/legacy.js';
import { findDuplicate } from '../uploads/publish.js';
import { assertWithinQuota } from '../uploads/quota.js';
import { assertUploadSize, findUpload, heldOffset, receiveResumable } from '../uploads/resumable.js';
import { recordEvent, type StoredEvent } from '../events/event-store.js';

/** A 0-byte upload would be a video nobody can play; the clients refuse it before sending, too. Worded as a field error (`<type>: <field> <problem>`). */
const emptyVideo = (type: string, field: string) => `${type}: ${field} is 0: an empty file is not a video`;

/**
 * check_movie, the step before an upload: refuses a duplicate and, given `size`, an upload
 * over the quota (before any byte is sent); reports in `offset` how many bytes of a cut
 * upload of this file the server already holds (found by `sha256`, or with `size` by the
 * quick fingerprint). With `sha256_trailer` and no sha256 (a client that has not hashed the
 * file yet), a stored video with the same fingerprint is not refused but answered with
 * `sha256_needed`: the client hashes the file and asks again.
 */
export async function checkMovie(req: Request<'check_movie'>, ctx: UserContext): Promise<Reply> {
  if (req.size === 0) throw new BadRequest(emptyVideo('check_movie', 'size'));
  const fingerprintOnly = req.sha256_trailer === true && !req.sha256;
  const existing = await findDuplicate(ctx.app.db, { sha256: req.sha256, fileMd5: req.file_md5 });
  if (existing && fingerprintOnly) {
    return { flag: true, msg: 'a stored video has the same quick fingerprint: send the sha256 to check', sha256_needed: true, offset: 0 };
  }
  if (existing) throw duplicateOf(existing);
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

/** update_movie: resumable with a declared `sha256` (or `sha256_trailer`), else the original clients' upload. */
export async function uploadMovie(req: Request<'update_movie'>, ctx: UserContext): Promise<Reply> {
  if (req.file_size === 0 && !req.offset) throw new BadRequest(emptyVideo('update_movie', 'file_size')); // a resume may have nothing left to send
  if (req.sha256 || req.sha256_trailer) return receiveResumable(req, ctx);
  return receiveLegacy(req, ctx);
}

/**
 * Soft delete: the row and the file stay (history keeps its names), lists and downloads skip
 * it. The file still counts against its admin's quota until the operator purges it
 * (`cinebox purge`), so upload-then-delete cannot fill the disk.
 */
export async function deleteMovie(req: Request<'delete_movie'>, { app, conn, user }: UserContext): Promise<Reply> {
  const event = await app.db.transaction(async (tx): Promise<StoredEvent | undefined> => {
    const movie = await Movie.selectOne(tx, { id: req.movie_id, is_delete: 0 });
    const changed = movie ? await Movie.updateWhere(tx, { is_delete: 1, live_sha256: null, delete_time: new Date() }, { id: movie.id, is_delete: 0 }) : 0;
    if (changed === 0) return undefined;
    return recordEvent(tx, 'video_removed', { movie_id: movie!.id, name: movie!.name, is_free: movie!.is_free, size: movie!.size });
  });
  if (!event) throw new NotFound(`no video #${req.movie_id}`);
  app.events.announce(event);
  app.catalog.invalidate();
  conn.log.info({ user: user.id, movie: req.movie_id }, 'video deleted');
  return { flag: true, msg: 'deleted' };
}

export async function releaseNotice(req: Request<'release_notice'>, { app, conn, user }: UserContext): Promise<Reply> {
  const notice = Notice.from({ title: req.title, content: req.content, user_id: user.id, create_time: new Date() });
  const event = await app.db.transaction(async (tx) => {
    await notice.save(tx);
    return recordEvent(tx, 'notice', { notice_id: notice.id, title: notice.title, content: notice.content });
  });
  app.events.announce(event);
  conn.log.info({ user: user.id, notice: notice.id }, 'notice released');
  return { flag: true, msg: 'notice released', notice_id: notice.id };
}
