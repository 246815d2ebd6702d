/**
 * What the policy lets one download do, decided before its first byte: refused when
 * downloading is off or today's allowance cannot cover the bytes it would send; otherwise the
 * bytes are reserved and the account's speed budget joined. `settle` runs once the download
 * ended, however it ended.
 */
import type { UserContext } from '../context.js';
import { DailyLimitReached, DownloadsDisabled } from '../errors.js';
import { reserveAllowance, settleAllowance, type Reservation } from './daily-allowance.js';
import { policyOf } from './policy.js';
import { acquireBudget, releaseBudget, type SpeedBudget } from './speed-budget.js';

export class DownloadGrant {
  private settled = false;

  constructor(
    private readonly ctx: UserContext,
    private readonly reservation: Reservation,
    /** Undefined when the account's speed is unlimited. */
    readonly speed: SpeedBudget | undefined,
  ) {}

  /** Gives back what was not sent (and the count of an unfinished download), leaves the budget. */
  async settle(sentBytes: number, completed: boolean): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (this.speed) releaseBudget(this.ctx.app, this.ctx.user.id, this.speed);
    try {
      await settleAllowance(this.ctx.app, this.reservation, sentBytes, completed);
    } catch (error) {
      // The download itself is over; the reservation then stays counted until midnight.
      this.ctx.conn.log.error({ err: error, user: this.ctx.user.id, sentBytes }, 'could not settle the daily allowance');
    }
  }
}

export async function admitDownload(ctx: UserContext, bytes: number): Promise<DownloadGrant> {
  const { app, conn, user } = ctx;
  const policy = await policyOf(app, user);
  if (policy.downloads !== 1) {
    conn.log.info({ user: user.id }, 'download refused: downloads are off for this viewer');
    throw new DownloadsDisabled('downloading is turned off for your account; an admin can turn it back on');
  }
  const reservation = await reserveAllowance(app, user.id, policy, bytes).catch((error: unknown) => {
    if (error instanceof DailyLimitReached) conn.log.info({ user: user.id, bytes, ...error.details }, 'download refused by the daily allowance');
    throw error;
  });
  const speed = policy.speed_bps > 0 ? acquireBudget(app, user.id, policy.speed_bps) : undefined;
  return new DownloadGrant(ctx, reservation, speed);
}
