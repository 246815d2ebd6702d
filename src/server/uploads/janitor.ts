/** The expiry janitor: cut uploads nobody resumes would fill the disk, so old ones are removed. */
import { Upload } from '../../orm/models/index.js';
import type { App } from '../context.js';
import { allBeats, isHeld } from '../nodes/heartbeat.js';

/**
 * Deletes uploads nobody touched for `uploadExpirySeconds` (row, then file), the rows of
 * original clients' uploads whose writer went silent past the lease (a crash), and temp
 * files under .incoming that no row names and that are as old (cut uploads of original clients).
 */
export async function sweepExpiredUploads(app: App, now = Date.now()): Promise<number> {
  const cutoff = now - app.config.uploadExpirySeconds * 1000;
  let removed = 0;
  const leaseMs = app.config.uploadLeaseSeconds * 1000;
  const beats = await allBeats(app.db);
  for (const row of await Upload.select(app.db)) {
    // An original client's upload (no fingerprint) cannot be resumed: its row goes once its writer is gone.
    const oneShotLeft = row.file_md5 === '' && !isHeld(row, leaseMs, (node) => beats.get(node), now);
    if (row.updated_time.getTime() >= cutoff && !oneShotLeft) continue;
    // Matching the old time too: a resume that took the row meanwhile keeps it.
    const deleted = await Upload.deleteWhere(app.db, { id: row.id, updated_time: row.updated_time });
    if (deleted === 0) continue;
    await app.media.discard(app.media.incomingPathOf(row.temp_name));
    removed++;
  }
  const files = await app.media.listIncoming();
  const named = new Set((await Upload.select(app.db)).map((row) => row.temp_name));
  for (const file of files) {
    if (named.has(file.name) || file.mtimeMs >= cutoff) continue;
    await app.media.discard(app.media.incomingPathOf(file.name));
    removed++;
  }
  if (removed > 0) app.log.info({ removed }, 'expired uploads removed');
  return removed;
}

/** Sweeps now and then every so often; the timer never keeps the process alive. */
export function startUploadJanitor(app: App): { stop(): void } {
  const sweep = () =>
    sweepExpiredUploads(app).catch((error: Error) => app.log.warn({ err: error.message }, 'upload sweep failed'));
  void sweep();
  const everyMs = Math.min(app.config.uploadExpirySeconds * 250, 3600 * 1000);
  const timer = setInterval(sweep, Math.max(everyMs, 1000));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
