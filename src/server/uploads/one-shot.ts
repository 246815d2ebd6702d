/**
 * An upload of the original clients (no `sha256`): not resumable, so a cut one is simply
 * deleted. It still holds an upload row while its bytes flow, the same as a resumable one,
 * so its space is reserved against the quota (parallel uploads see each other) and a crash
 * leaves a row the janitor sweeps. The row has no fingerprint (`file_md5` ''), so no resume
 * can ever find it.
 */
import { randomUUID } from 'node:crypto';
import { Movie, Upload } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { App, UserContext } from '../context.js';
import { BadRequest, Conflict } from '../errors.js';
import { publishMovie } from './publish.js';
import { receiveBytes, reserveSpace, storageError, type Attempt } from './resumable.js';

export async function receiveOneShot(req: Request<'update_movie'>, ctx: UserContext): Promise<Reply> {
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
    conn.log.warn({ err: (error as Error).message, received: body?.received, size: req.file_size }, 'upload failed');
    throw storageError(error);
  }
  const duplicate = await Movie.selectOne(app.db, { sha256, is_delete: 0 });
  if (duplicate) {
    await drop(app, attempt);
    throw new Conflict(`this video is already stored as #${duplicate.id} "${duplicate.name}"`);
  }
  // Its row is the publish's intent record too (publish.ts: a crash between rename and commit is put back).
  const intent = { id: attempt.row.id, holder: attempt.holder, tempName: attempt.row.temp_name };
  const upload = { tempPath: attempt.path, intent, name: req.file_name, isFree: req.is_free, fileMd5: req.file_md5, sha256, size: req.file_size };
  const movie = await publishMovie(ctx, upload).catch(async (error: unknown) => {
    await drop(app, attempt);
    throw error;
  });
  const seconds = (performance.now() - started) / 1000;
  conn.log.info({ user: user.id, movie: movie.id, bytes: req.file_size, seconds }, 'upload stored');
  return { flag: true, msg: 'uploaded', movie_id: movie.id, sha256 };
}

async function startAttempt(ctx: UserContext, size: number): Promise<Attempt> {
  const { app, user } = ctx;
  const holder = randomUUID();
  const now = new Date();
  // Its bytes go to a legacy temp file (.tmp: not resumable, swept by age); the row names
  // the same UUID as a partial, as publishing expects of its intent record.
  const path = app.media.legacyIncomingPath();
  const row = Upload.from({
    user_id: user.id,
    sha256: null,
    file_md5: '',
    temp_name: app.media.tempNameOf(path),
    total_size: size,
    received_bytes: 0,
    holder,
    create_time: now,
    updated_time: now,
  });
  await row.save(app.db);
  return { row, holder, path, created: true };
}

/** Ends an attempt whose bytes are worthless: the file first (it is what the disk holds), then the row. */
async function drop(app: App, attempt: Attempt): Promise<void> {
  await app.media.discard(attempt.path);
  await Upload.deleteWhere(app.db, { id: attempt.row.id, holder: attempt.holder });
}
