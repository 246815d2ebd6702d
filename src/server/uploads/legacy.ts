/**
 * The original clients' upload (no declared SHA-256): not resumable, so a cut one is simply
 * deleted. It still holds an upload row from its first byte, as a resumable one does: its
 * space is reserved against the quota (parallel uploads see each other), the row is the
 * publish's intent record (publish.ts), and one left by a crash is swept once its writer's
 * lease lapses (janitor.ts). The row has no fingerprint (`file_md5` ''), so no resume ever
 * finds it; the bytes go to a legacy temp file (`.tmp`, swept by age).
 */
import { randomUUID } from 'node:crypto';
import { Upload } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { App, UserContext } from '../context.js';
import { BadRequest, CineboxError, duplicateOf, StorageFull } from '../errors.js';
import { isDiskFull } from '../media-store.js';
import { findDuplicate, publishMovie } from './publish.js';
import { newAttemptRow, receiveBytes, reserveSpace, type Attempt } from './resumable.js';

export async function receiveLegacy(req: Request<'update_movie'>, ctx: UserContext): Promise<Reply> {
  if (req.offset) throw new BadRequest('offset: a resumed upload must declare its sha256 (or sha256_trailer)');
  const { app, conn, body, user } = ctx;
  if (!body && req.file_size > 0) throw new BadRequest('file_size announced but no body');
  const attempt = await startAttempt(ctx, req.file_size);
  await reserveSpace(ctx, attempt);
  const started = performance.now();
  let sha256: string;
  try {
    ({ sha256 } = await receiveBytes(ctx, attempt, 0));
  } catch (error) {
    await drop(app, attempt);
    // Who, what and how much, as the resumable path's lines say it (resumable.ts).
    const where = { user: user.id, upload: attempt.row.id, name: req.file_name, offset: 0, received: body?.received, total: req.file_size };
    conn.log.warn({ ...where, err: (error as Error).message }, 'upload failed');
    throw storageError(error);
  }
  const duplicate = await findDuplicate(app.db, { sha256, fileMd5: req.file_md5 });
  if (duplicate) {
    await drop(app, attempt);
    throw duplicateOf(duplicate);
  }
  const intent = { id: attempt.row.id, holder: attempt.holder, tempName: attempt.row.temp_name };
  const upload = { tempPath: attempt.path, intent, name: req.file_name, isFree: req.is_free, fileMd5: req.file_md5, sha256, size: req.file_size };
  const movie = await publishMovie(ctx, upload).catch(async (error: unknown) => {
    await drop(app, attempt);
    throw error;
  });
  const seconds = (performance.now() - started) / 1000;
  conn.log.info({ user: user.id, movie: movie.id, name: req.file_name, offset: 0, bytes: req.file_size, total: req.file_size, seconds }, 'upload stored');
  return { flag: true, msg: 'uploaded', movie_id: movie.id, sha256 };
}

async function startAttempt(ctx: UserContext, size: number): Promise<Attempt> {
  const { app } = ctx;
  const holder = randomUUID();
  const path = app.media.legacyIncomingPath();
  // The row names the same UUID as a partial, as publishing expects of its intent record.
  const row = newAttemptRow(ctx, holder, { sha256: null, file_md5: '', temp_name: app.media.tempNameOf(path), total_size: size });
  await row.save(app.db);
  return { row, holder, path, created: true };
}

/** Ends an attempt whose bytes are worthless: the file first (it is what the disk holds), then the row. */
async function drop(app: App, attempt: Attempt): Promise<void> {
  await app.media.discard(attempt.path);
  await Upload.deleteWhere(app.db, { id: attempt.row.id, holder: attempt.holder });
}

/** The reply for a write error of the legacy (non-resumable) upload path. */
function storageError(error: unknown): unknown {
  if (isDiskFull(error) && !(error instanceof CineboxError)) return new StorageFull("the server's storage is full, try again later");
  return error;
}
