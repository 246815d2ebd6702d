/** The admin functions: upload, duplicate check, soft delete, notices. */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { finished } from 'node:stream/promises';
import { Movie, Notice } from '../orm/models/index.js';
import type { Reply, Request } from '../protocol/messages.js';
import type { UserContext } from './context.js';
import { BadRequest, Conflict, IntegrityError, NotFound } from './errors.js';

/** Finds a live video with the same content: by SHA-256 when the client sends one, else by the original's quick MD5. */
async function findDuplicate(ctx: UserContext, fileMd5: string, sha256?: string): Promise<Movie | undefined> {
  const where = sha256 ? { sha256, is_delete: 0 } : { file_md5: fileMd5, is_delete: 0 };
  return Movie.selectOne(ctx.app.db, where);
}

export async function checkMovie(req: Request<'check_movie'>, ctx: UserContext): Promise<Reply> {
  const existing = await findDuplicate(ctx, req.file_md5, req.sha256);
  if (existing) throw new Conflict(`this video is already stored as #${existing.id} "${existing.name}"`);
  return { flag: true, msg: 'not stored yet, you may upload' };
}

/**
 * update_movie: the body goes to a temp file while the server hashes it; only a complete,
 * verified file is renamed into the media store and gets a database row.
 */
export async function uploadMovie(req: Request<'update_movie'>, ctx: UserContext): Promise<Reply> {
  const { app, conn, body, user } = ctx;
  if (!body && req.file_size > 0) throw new BadRequest('file_size announced but no body');
  const tempPath = app.media.incomingPath();
  const hash = createHash('sha256');
  const file = createWriteStream(tempPath, { highWaterMark: 1024 * 1024 });
  let writeError: Error | undefined;
  file.on('error', (error) => (writeError ??= error));
  const started = performance.now();
  try {
    await body?.pipeTo(file, (chunk) => {
      if (writeError) throw writeError;
      hash.update(chunk);
    });
    file.end();
    await finished(file);
  } catch (error) {
    file.destroy();
    await app.media.discard(tempPath);
    conn.log.warn({ err: (error as Error).message, received: body?.received, size: req.file_size }, 'upload failed');
    throw error;
  }
  const sha256 = hash.digest('hex');
  if (req.sha256 && req.sha256 !== sha256) {
    await app.media.discard(tempPath);
    throw new IntegrityError(`upload corrupted: server SHA-256 ${sha256} does not match the declared ${req.sha256}`);
  }
  const duplicate = await findDuplicate(ctx, req.file_md5, sha256);
  if (duplicate) {
    await app.media.discard(tempPath);
    throw new Conflict(`this video is already stored as #${duplicate.id} "${duplicate.name}"`);
  }
  const storedName = app.media.newStoredName(req.file_name);
  const storedPath = await app.media.publish(tempPath, storedName);
  const movie = Movie.from({
    name: req.file_name,
    path: storedName,
    is_free: req.is_free,
    is_delete: 0,
    create_time: new Date(),
    file_md5: req.file_md5,
    sha256,
    size: req.file_size,
    user_id: user.id,
  });
  try {
    await movie.save(app.db);
  } catch (error) {
    await app.media.discard(storedPath);
    throw error;
  }
  const seconds = (performance.now() - started) / 1000;
  conn.log.info({ user: user.id, movie: movie.id, bytes: req.file_size, seconds }, 'upload stored');
  return { flag: true, msg: 'uploaded', movie_id: movie.id, sha256 };
}

/** Soft delete: the row and the file stay (history keeps its names), lists and downloads skip it. */
export async function deleteMovie(req: Request<'delete_movie'>, { app, conn, user }: UserContext): Promise<Reply> {
  const changed = await Movie.updateWhere(app.db, { is_delete: 1 }, { id: req.movie_id, is_delete: 0 });
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
