/**
 * Resumable uploads (a declared `sha256`, or `sha256_trailer`): a cut upload keeps its bytes
 * and its `upload` row, so the same admin continues it later on any node sharing the database
 * and media; it becomes a video only when the SHA-256 of the whole file matches.
 */
import { randomUUID } from 'node:crypto';
import { DuplicateKeyError } from '../../orm/index.js';
import { Movie, Upload } from '../../orm/models/index.js';
import { encodeFrame } from '../../protocol/frame.js';
import { uploadTrailerSchema, type Reply, type Request } from '../../protocol/messages.js';
import { hashFilePrefix } from '../../transfer/file-hash.js';
import type { IncomingBody } from '../incoming-body.js';
import type { App, UserContext } from '../context.js';
import { BadRequest, Conflict, duplicateOf, IntegrityError, ResumeMismatch, StorageFull, TakenOver } from '../errors.js';
import { isDiskFull } from '../media-store.js';
import { crashPoint } from './crash-points.js';
import { NotAVideo } from '../media/facts.js';
import { isHeldNow } from '../nodes/heartbeat.js';
import { findDuplicate, publishMovie } from './publish.js';
import { assertReservationFits } from './quota.js';

type UploadRequest = Request<'update_movie'>;

/** Which file an upload is of: its SHA-256 when the client has declared it, its size, and its quick fingerprint. */
export interface UploadKey {
  sha256?: string;
  fileMd5: string;
  size: number;
}

/**
 * This admin's upload of the file, if any: by SHA-256; else (or when none is declared) a
 * partial of the same size and fingerprint, the most recent first. A fingerprint may match
 * another file: that costs only time, the whole file is checked at the end (INTEGRITY).
 */
export async function findUpload(app: App, userId: number, key: UploadKey): Promise<Upload | undefined> {
  if (key.sha256) {
    const row = await Upload.selectOne(app.db, { user_id: userId, sha256: key.sha256 });
    if (row) return row;
  }
  const lookalikes = await Upload.select(app.db, { user_id: userId, file_md5: key.fileMd5, total_size: key.size });
  const candidates = key.sha256 ? lookalikes.filter((row) => row.sha256 === null) : lookalikes;
  return candidates.sort((a, b) => b.updated_time.getTime() - a.updated_time.getTime())[0];
}

/**
 * One attempt at writing an upload: the row it holds (its random `holder` token, set by
 * compare-and-set and refreshed while bytes flow) and where its bytes go. A holder silent
 * past the lease is presumed dead and may be replaced; if it was only slow, its next
 * refresh finds the token changed and it stops.
 */
export interface Attempt {
  row: Upload;
  holder: string;
  path: string;
  /** This attempt made the row (nothing was held before it). */
  created: boolean;
}

/**
 * Bytes of this upload's file the server already holds (0 when none, or when the size
 * differs). Refuses at once when another connection is writing it, before any byte is sent.
 */
export async function heldOffset(app: App, row: Upload, size: number): Promise<number> {
  if (await isLive(app, row)) throw busy();
  if (row.total_size !== size) return 0;
  const path = app.media.incomingPathOf(row.temp_name);
  const held = (await app.media.sizeOf(path)) || ((await cutPublishOf(app, row))?.size ?? 0); // claim moves it back
  return Math.min(held, row.total_size);
}

/**
 * The stored file of this upload's publish when a crash cut it between the rename and the
 * commit (its partial is then gone and no movie row names the file): see publish.ts.
 */
async function cutPublishOf(app: App, row: Upload): Promise<{ name: string; size: number } | undefined> {
  for (const file of await app.media.storedFromTemp(row.temp_name)) {
    if (!(await Movie.selectOne(app.db, { path: file.name }))) return file;
  }
  return undefined;
}

/** Puts a cut publish's file back as the partial (the attempt holds the row): the resume keeps every byte. */
async function recoverCutPublish(app: App, attempt: Attempt): Promise<void> {
  if ((await app.media.sizeOf(attempt.path)) > 0) return;
  const cut = await cutPublishOf(app, attempt.row);
  if (!cut) return;
  await app.media.moveBackToIncoming(cut.name, attempt.row.temp_name);
  app.log.warn({ upload: attempt.row.id, file: cut.name, bytes: cut.size }, 'a publish cut by a crash: file moved back to its partial');
}

/** Some attempt holds the row: refreshed within the lease, on a node that still beats (nodes/heartbeat.ts). */
function isLive(app: App, row: Upload): Promise<boolean> {
  return isHeldNow(app.db, row, app.config.uploadLeaseSeconds * 1000);
}

/**
 * update_movie with sha256 or sha256_trailer: start or continue at `offset`, verify the
 * whole file, publish.
 */
export async function receiveResumable(req: UploadRequest, ctx: UserContext): Promise<Reply> {
  const { app, conn, body, user } = ctx;
  const offset = req.offset ?? 0;
  const total = offset + req.file_size;
  if (!body && req.file_size > 0) throw new BadRequest('file_size announced but no body');
  assertUploadSize(app, total);
  const key = { sha256: req.sha256, fileMd5: req.file_md5, size: total };
  const existing = await findUpload(app, user.id, key);
  const attempt = await claim(ctx, existing, key, offset);
  await reserveSpace(ctx, attempt);
  const started = performance.now();
  let sha256: string;
  let declared: string;
  try {
    const received = await receiveBytes(ctx, attempt, offset, req.sha256_trailer ? () => trailerSha256(body!) : undefined);
    sha256 = received.sha256;
    const trailed = received.trailed;
    if (req.sha256 && trailed && trailed !== req.sha256) throw new BadRequest('the sha256 after the bytes differs from the one before them');
    declared = (req.sha256 ?? trailed)!;
    // The client chose when to send its trailer: make sure no resume took the partial over meanwhile.
    await assertStillHeld(app, attempt);
  } catch (error) {
    const held = await release(app, attempt);
    conn.log.warn({ user: user.id, upload: attempt.row.id, name: req.file_name, offset, held, total, err: (error as Error).message }, 'upload cut, partial kept');
    if (isDiskFull(error)) {
      throw new StorageFull(`the server's storage is full: ${held} of ${total} bytes of this upload are kept, resume it later`, { offset: held });
    }
    throw error;
  }
  if (sha256 !== declared) {
    await abandon(app, attempt);
    throw new IntegrityError(`upload corrupted: server SHA-256 ${sha256} does not match the declared ${declared}; start it again`);
  }
  const movie = await publish(ctx, attempt, req, sha256, total);
  const seconds = (performance.now() - started) / 1000;
  conn.log.info({ user: user.id, movie: movie.id, name: req.file_name, offset, bytes: req.file_size, total, seconds }, 'upload stored');
  const reply = { flag: true, msg: offset > 0 ? `uploaded (resumed at byte ${offset})` : 'uploaded', movie_id: movie.id, sha256, offset };
  crashPoint('mid-reply', () => {
    const frame = encodeFrame(reply);
    conn.socket.write(frame.subarray(0, frame.length >> 1));
  });
  return reply;
}

/**
 * Checks the quota once the attempt's row exists, so uploads running in parallel each see
 * the others' rows (any mode: see one-shot.ts); refused, a new row is dropped, a held one freed.
 */
export async function reserveSpace(ctx: UserContext, attempt: Attempt): Promise<void> {
  try {
    await assertReservationFits(ctx, attempt.row.id, attempt.row.total_size);
  } catch (error) {
    if (attempt.created) await abandon(ctx.app, attempt);
    else await release(ctx.app, attempt);
    throw error;
  }
}

/** A resumed upload arrives in pieces, each under the connection's limit: the whole must be too. */
export function assertUploadSize(app: App, total: number): void {
  const limit = app.config.maxUploadBytes;
  if (total > limit) throw new BadRequest(`uploads are limited to ${limit} bytes, this file has ${total}`);
}

/** The SHA-256 the client sent after the bytes; a malformed one is refused (the bytes stay for a resume). */
async function trailerSha256(body: IncomingBody): Promise<string> {
  const trailer = uploadTrailerSchema.safeParse(await body.trailer());
  if (!trailer.success) throw new BadRequest('the frame after the bytes must be {"type": "upload_sha256", "sha256": <64 hex digits>}');
  return trailer.data.sha256;
}

/** Takes `row` (this admin's upload of the file, if any) or creates it; checks `offset` against the bytes held. */
async function claim(ctx: UserContext, found: Upload | undefined, key: UploadKey, offset: number): Promise<Attempt> {
  const { app } = ctx;
  const holder = randomUUID();
  const total = key.size;
  let row = found;
  if (!row) {
    if (offset > 0) throw new ResumeMismatch('the server holds none of this file: start from 0', { offset: 0 });
    row = newAttemptRow(ctx, holder, { sha256: key.sha256 ?? null, file_md5: key.fileMd5, temp_name: app.media.newTempName(), total_size: total });
    try {
      await row.save(app.db);
    } catch (error) {
      if (error instanceof DuplicateKeyError) throw busy();
      throw error;
    }
    return { row, holder, path: app.media.incomingPathOf(row.temp_name), created: true };
  }
  if (await isLive(app, row)) throw busy();
  // Compare-and-set on the old holder: of two nodes taking over a dead node's upload, one wins.
  const taken = await Upload.updateWhere(app.db, { holder, holder_node: app.node.name, holder_run: app.node.run, updated_time: new Date() }, { id: row.id, holder: row.holder });
  if (taken === 0) throw busy();
  if (row.holder !== null) app.log.info({ upload: row.id, from_node: row.holder_node }, 'upload taken over from a node that stopped');
  const attempt = { row, holder, path: app.media.incomingPathOf(row.temp_name), created: false };
  await recoverCutPublish(app, attempt).catch((error: Error) => app.log.warn({ err: error.message, upload: row!.id }, 'could not move a cut publish back'));
  const held = Math.min(await app.media.sizeOf(attempt.path), row.total_size);
  const sameFile = row.total_size === total;
  if (offset > 0 && (!sameFile || offset > held)) {
    await release(app, attempt);
    const from = sameFile ? held : 0;
    throw new ResumeMismatch(`the server holds ${from} bytes of this file: resume from there`, { offset: from });
  }
  if (!sameFile) await Upload.updateWhere(app.db, { total_size: total }, { id: row.id, holder });
  row.total_size = total;
  return attempt;
}

/** The row of a new attempt, held by this node's run from its first byte (the legacy path's too). */
export function newAttemptRow(ctx: UserContext, holder: string, file: Pick<Upload, 'sha256' | 'file_md5' | 'temp_name' | 'total_size'>): Upload {
  const now = new Date();
  return Upload.from({
    user_id: ctx.user.id,
    ...file,
    received_bytes: 0,
    holder,
    holder_node: ctx.app.node.name,
    holder_run: ctx.app.node.run,
    create_time: now,
    updated_time: now,
  });
}

function busy(): Conflict {
  // `upload_busy`: a client retrying after a dropped connection waits for its old attempt's lease.
  return new Conflict('this file is being uploaded on another connection; try again in a moment', { upload_busy: true });
}

/** Refreshes the lease with a compare-and-set; throws CONFLICT when another attempt holds the row now. */
async function assertStillHeld(app: App, attempt: Attempt): Promise<void> {
  const kept = await Upload.updateWhere(app.db, { updated_time: new Date() }, { id: attempt.row.id, holder: attempt.holder });
  if (kept === 0) throw busy();
}

/**
 * Writes the body after the bytes already held and returns the SHA-256 of the whole file:
 * the bytes on disk are hashed again first, so a partial changed on disk cannot pass. With
 * `trailer`, also the SHA-256 the client sends after the bytes, read while the lease is
 * still kept alive.
 */
export async function receiveBytes(
  ctx: UserContext,
  attempt: Attempt,
  offset: number,
  trailer?: () => Promise<string>,
): Promise<{ sha256: string; trailed?: string }> {
  const { app, body } = ctx;
  // A restart below the bytes held (from 0, or a shorter resume) lowers the row before it
  // cuts the partial: killed in between, the row would claim bytes the file no longer has.
  if (offset < attempt.row.received_bytes) {
    await Upload.updateWhere(app.db, { received_bytes: offset, updated_time: new Date() }, { id: attempt.row.id, holder: attempt.holder });
    attempt.row.received_bytes = offset;
  }
  if (offset > 0) await app.media.truncateTo(attempt.path, offset);
  const file = await app.media.openPartial(attempt.path, { start: offset, expectedBytes: attempt.row.total_size });
  let failure: Error | undefined;
  let beating = false;
  // The row records only bytes the file holds on stable storage (synced first, then
  // recorded), so after a crash or a power cut it never claims more than the partial has.
  const heartbeat = setInterval(() => {
    if (beating) return;
    beating = true;
    file
      .syncedLength()
      .then((held) => Upload.updateWhere(app.db, { received_bytes: held, updated_time: new Date() }, { id: attempt.row.id, holder: attempt.holder }))
      .then(
        (kept) => {
          if (kept === 0) failure ??= busy();
        },
        (error: Error) => ctx.conn.log.warn({ err: error.message }, 'upload heartbeat failed'),
      )
      .finally(() => (beating = false));
  }, (app.config.uploadLeaseSeconds * 1000) / 3);
  try {
    // The bytes held are hashed again first, read back from the disk: a partial changed
    // there since cannot pass. The sink's file position is already past them.
    if (offset > 0) await hashFilePrefix(attempt.path, offset, file);
    await body?.consume((chunk) => {
      if (failure) throw failure;
      return file.write(chunk) ? undefined : file.drained();
    });
    const sha256 = await file.finish();
    const trailed = await trailer?.();
    if (failure) throw failure;
    return { sha256, trailed };
  } catch (error) {
    // Lease lost: another attempt owns the partial now, so not one more byte is written.
    await file.close({ dropQueued: failure !== undefined });
    throw failure ?? error;
  } finally {
    clearInterval(heartbeat);
  }
}

/** Ends an attempt that was cut: records the bytes on disk and frees the row for a resume. */
async function release(app: App, attempt: Attempt): Promise<number> {
  const held = Math.min(await app.media.sizeOf(attempt.path), attempt.row.total_size);
  try {
    await Upload.updateWhere(
      app.db,
      { holder: null, holder_node: null, holder_run: null, received_bytes: held, updated_time: new Date() },
      { id: attempt.row.id, holder: attempt.holder },
    );
  } catch (error) {
    // The lease expires on its own; the partial stays resumable after it.
    app.log.warn({ err: (error as Error).message, upload: attempt.row.id }, 'could not release an upload');
  }
  return held;
}

/** Drops an attempt whose bytes can never become the declared file. */
export async function abandon(app: App, attempt: Attempt): Promise<void> {
  await Upload.deleteWhere(app.db, { id: attempt.row.id, holder: attempt.holder });
  await app.media.discard(attempt.path);
}

/** Renames the verified partial into the store and swaps the upload row for a movie row (publish.ts). */
async function publish(ctx: UserContext, attempt: Attempt, req: UploadRequest, sha256: string, total: number): Promise<Movie> {
  const { app } = ctx;
  const duplicate = await findDuplicate(app.db, { sha256, fileMd5: req.file_md5 });
  if (duplicate) {
    await abandon(app, attempt);
    throw duplicateOf(duplicate);
  }
  try {
    return await publishMovie(ctx, {
      tempPath: attempt.path,
      intent: { id: attempt.row.id, holder: attempt.holder, tempName: attempt.row.temp_name },
      name: req.file_name,
      isFree: req.is_free,
      fileMd5: req.file_md5,
      sha256,
      size: total,
    });
  } catch (error) {
    // Taken over: the partial is someone else's now. A lost race leaves nothing worth
    // resuming; any other failure keeps the bytes for a retry.
    if (error instanceof TakenOver) throw error;
    if (error instanceof Conflict || error instanceof NotAVideo) await abandon(app, attempt);
    else await release(app, attempt);
    throw error;
  }
}
