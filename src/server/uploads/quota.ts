/**
 * Admin storage quotas. An admin's usage is the size of their live videos plus the declared
 * size of their uploads in progress (so parallel uploads cannot each pass the check and
 * together overshoot). The limit is user.quota_bytes, else the server's --admin-quota; 0 = none.
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
  const videos = await Movie.sum(app.db, 'size', { user_id: userId, is_delete: 0 });
  const uploads = await Upload.select(app.db, { user_id: userId });
  const pending = uploads.filter((u) => u.id !== exceptUploadId).reduce((sum, u) => sum + u.total_size, 0);
  return videos + pending;
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
