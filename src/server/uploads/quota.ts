/**
 * Admin storage quotas. An admin's usage is the size of their videos whose files are still
 * stored (live, or deleted but not purged yet) plus the declared size of their uploads in
 * progress (each reserves its space before its bytes flow). The limit is user.quota_bytes,
 * else the server's --admin-quota; 0 = none.
 */
import { Movie, Upload, type User } from '../../orm/models/index.js';
import type { App, UserContext } from '../context.js';
import { QuotaExceeded } from '../errors.js';

export interface QuotaUsage {
  usedBytes: number;
  /** 0 = no limit. */
  quotaBytes: number;
}

export function quotaOf(user: User, app: App): number {
  return user.quota_bytes ?? app.config.adminQuotaBytes;
}

/** Storage an admin fills now; the upload row `exceptUploadId` (the file being checked) is left out. */
export async function usedBytes(app: App, userId: number, exceptUploadId?: number): Promise<number> {
  // Deleted videos too, until purged: their files are still on the disk (is_delete 2 = purged).
  const videos = await Movie.sum(app.db, 'size', { user_id: userId, is_delete: [0, 1] });
  // Sums in the database: with hundreds of uploads in progress, reading every row per check was quadratic.
  const pending = await Upload.sum(app.db, 'total_size', { user_id: userId });
  const except = exceptUploadId === undefined ? undefined : await Upload.selectOne(app.db, { id: exceptUploadId, user_id: userId });
  return videos + pending - (except?.total_size ?? 0);
}

/** Refuses an upload of `size` bytes that would take the admin past their quota. */
export async function assertWithinQuota(ctx: UserContext, size: number, exceptUploadId?: number): Promise<QuotaUsage> {
  const quotaBytes = quotaOf(ctx.user, ctx.app);
  const used = await usedBytes(ctx.app, ctx.user.id, exceptUploadId);
  if (quotaBytes > 0 && used + size > quotaBytes) {
    throw new QuotaExceeded(
      `over your storage quota: ${formatSize(used)} used of ${formatSize(quotaBytes)}, this upload needs ${formatSize(size)}`,
      { used_bytes: used, quota_bytes: quotaBytes, size },
    );
  }
  return { usedBytes: used, quotaBytes };
}

/**
 * The check made once an upload's row exists (resumable.ts, reserveSpace): its size and every
 * other row and video of the admin, parallel uploads included. Two uploads that race may
 * both see each other and both be refused (never both pass over the quota).
 */
export async function assertReservationFits(ctx: UserContext, uploadId: number, size: number): Promise<void> {
  if (quotaOf(ctx.user, ctx.app) === 0) return; // no limit: nothing to count
  await assertWithinQuota(ctx, size, uploadId);
}

/** "1.5 GiB": quotas are set in powers of 1024 (500M, 2G), so they are shown that way. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${Number(value.toFixed(2))} ${units[unit]}`;
}
