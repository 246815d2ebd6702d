/**
 * The daily allowance, kept in the database (download_usage) so it holds on every node and
 * across restarts. A download reserves its bytes and one count before its first byte, with a
 * compare-and-set UPDATE (the row changes only if nobody changed it since it was read), so
 * parallel requests on any nodes cannot together pass the limit; when it ends it settles to
 * the bytes really sent, and gives the count back if it did not finish (a resume then counts
 * once, and only for the bytes it sends). A node that dies mid-download leaves its
 * reservation counted until midnight: the viewer loses at most the rest of that download.
 */
import { DuplicateKeyError } from '../../orm/index.js';
import { DownloadUsage } from '../../orm/models/index.js';
import type { App } from '../context.js';
import { DailyLimitReached } from '../errors.js';
import { formatSize } from '../uploads/quota.js';
import { dayClockFor } from './day-clock.js';
import type { EffectivePolicy } from './policy.js';

/** Compare-and-set rounds before giving up: each lost round means another download of this viewer won. */
const MAX_ROUNDS = 200;

export interface DailyUsage {
  day: string;
  bytes: number;
  count: number;
  resetsAt: Date;
}

export interface Reservation {
  rowId: number;
  bytes: number;
}

export async function usageToday(app: App, userId: number, now = new Date()): Promise<DailyUsage> {
  const clock = dayClockFor(app.config.timeZone);
  const day = clock.dayOf(now);
  const row = await DownloadUsage.selectOne(app.db, { user_id: userId, day });
  return { day, bytes: Number(row?.bytes ?? 0), count: Number(row?.count ?? 0), resetsAt: clock.nextDayStart(now) };
}

/** Reserves `bytes` and one download of today's allowance, or throws DailyLimitReached (nothing reserved). */
export async function reserveAllowance(app: App, userId: number, policy: EffectivePolicy, bytes: number): Promise<Reservation> {
  const clock = dayClockFor(app.config.timeZone);
  const now = new Date();
  const day = clock.dayOf(now);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const row = await todayRow(app, userId, day);
    const used = { bytes: Number(row.bytes), count: Number(row.count) };
    const overBytes = policy.daily_bytes > 0 && used.bytes + bytes > policy.daily_bytes;
    const overCount = policy.daily_count > 0 && used.count + 1 > policy.daily_count;
    if (overBytes || overCount) throw refusal(policy, used, bytes, clock.nextDayStart(now), clock.describe(clock.nextDayStart(now)));
    const changed = await DownloadUsage.updateWhere(
      app.db,
      { bytes: used.bytes + bytes, count: used.count + 1 },
      { id: row.id, bytes: used.bytes, count: used.count },
    );
    if (changed === 1) return { rowId: row.id, bytes };
  }
  throw new Error(`could not reserve the daily allowance of user ${userId}: ${MAX_ROUNDS} rounds lost`);
}

/** Gives back what a download reserved but did not send, and its count when it did not finish. */
export async function settleAllowance(app: App, reservation: Reservation, sentBytes: number, completed: boolean): Promise<void> {
  const refund = Math.max(0, reservation.bytes - sentBytes);
  const countBack = completed ? 0 : 1;
  if (refund === 0 && countBack === 0) return;
  for (let round = 0; round < MAX_ROUNDS; round++) {
    const row = await DownloadUsage.selectOne(app.db, { id: reservation.rowId });
    if (!row) return;
    const bytes = Number(row.bytes);
    const count = Number(row.count);
    const changed = await DownloadUsage.updateWhere(
      app.db,
      { bytes: Math.max(0, bytes - refund), count: Math.max(0, count - countBack) },
      { id: row.id, bytes, count },
    );
    if (changed === 1) return;
  }
  throw new Error(`could not settle the daily allowance row ${reservation.rowId}: ${MAX_ROUNDS} rounds lost`);
}

async function todayRow(app: App, userId: number, day: string): Promise<DownloadUsage> {
  const existing = await DownloadUsage.selectOne(app.db, { user_id: userId, day });
  if (existing) return existing;
  try {
    return await DownloadUsage.from({ user_id: userId, day, bytes: 0, count: 0 }).save(app.db);
  } catch (error) {
    if (!(error instanceof DuplicateKeyError)) throw error;
    // Another download of this viewer made today's row first.
    const made = await DownloadUsage.selectOne(app.db, { user_id: userId, day });
    if (!made) throw error;
    return made;
  }
}

function refusal(policy: EffectivePolicy, used: { bytes: number; count: number }, size: number, resetsAt: Date, resetText: string): DailyLimitReached {
  const overCount = policy.daily_count > 0 && used.count + 1 > policy.daily_count;
  const what = overCount
    ? `you have made all ${policy.daily_count} of today's downloads`
    : `today's download allowance does not cover this download: ${formatSize(used.bytes)} of ${formatSize(policy.daily_bytes)} used, this one needs ${formatSize(size)}`;
  return new DailyLimitReached(`${what}; it resets at ${resetText}`, {
    used_bytes: used.bytes,
    limit_bytes: policy.daily_bytes,
    used_count: used.count,
    limit_count: policy.daily_count,
    size,
    resets_at: resetsAt.toISOString(),
  });
}
