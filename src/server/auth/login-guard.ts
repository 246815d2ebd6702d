/**
 * Brute-force protection for `login`. Addresses are slowed down and blocked first, so one
 * attacker can neither guess on nor lock anyone out from one address; only failures from
 * several addresses add up to a temporary lock of the account itself. Every failure is
 * logged with its address. State lives in the database, so it holds on every node.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { DuplicateKeyError } from '../../orm/index.js';
import { LoginFailure, User } from '../../orm/models/index.js';
import type { App } from '../context.js';
import { AccountLocked, LoginBlocked } from '../errors.js';

/** Failures older than this no longer count against an address. */
const QUIET_WINDOW_MS = 15 * 60 * 1000;
const FIRST_BLOCK_MS = 60 * 1000;
const MAX_BLOCK_MS = 60 * 60 * 1000;
const MAX_SLOWDOWN_MS = 2000;

/** 1 min, 2 min, 4 min, … up to 1 h, for each failure past the threshold. */
function blockFor(failures: number, threshold: number): number {
  return Math.min(MAX_BLOCK_MS, FIRST_BLOCK_MS * 2 ** Math.min(20, failures - threshold));
}

function secondsUntil(date: Date): number {
  return Math.max(1, Math.ceil((date.getTime() - Date.now()) / 1000));
}

/** Throws if this address is blocked. */
export async function assertAddressAllowed(app: App, address: string): Promise<void> {
  const row = await LoginFailure.selectOne(app.db, { address });
  if (row?.blocked_until && row.blocked_until.getTime() > Date.now()) {
    throw new LoginBlocked(`too many failed logins from your address; try again in ${secondsUntil(row.blocked_until)} s`);
  }
}

/** Throws if the account is temporarily locked after repeated failures. */
export function assertAccountNotLocked(user: User): void {
  if (user.is_locked) throw new AccountLocked('account is locked');
  if (user.locked_until && user.locked_until.getTime() > Date.now()) {
    throw new AccountLocked(`account locked after repeated failed logins; try again in ${secondsUntil(user.locked_until)} s`);
  }
}

/** Counts a failure against the address (and the account, if it exists), then slows the reply down. */
export async function recordLoginFailure(app: App, address: string, user: User | undefined): Promise<void> {
  const failures = await countAddressFailure(app, address);
  if (user) {
    const count = user.failed_logins + 1;
    const threshold = app.config.accountMaxFailures;
    const lockedUntil = count >= threshold ? new Date(Date.now() + blockFor(count, threshold)) : user.locked_until;
    await User.updateWhere(app.db, { failed_logins: count, locked_until: lockedUntil }, { id: user.id });
  }
  // The same delay whether or not the account exists: it depends on the address only.
  await sleep(Math.min(MAX_SLOWDOWN_MS, 100 * 2 ** Math.min(5, failures - 1)));
}

async function countAddressFailure(app: App, address: string): Promise<number> {
  const now = new Date();
  const threshold = app.config.addressMaxFailures;
  const row = await LoginFailure.selectOne(app.db, { address });
  if (!row) {
    try {
      await LoginFailure.from({ address, failures: 1, last_failure: now, blocked_until: threshold <= 1 ? new Date(now.getTime() + FIRST_BLOCK_MS) : null }).save(app.db);
      return 1;
    } catch (error) {
      if (!(error instanceof DuplicateKeyError)) throw error;
      return countAddressFailure(app, address); // another request created it first
    }
  }
  const failures = now.getTime() - row.last_failure.getTime() > QUIET_WINDOW_MS ? 1 : row.failures + 1;
  const blockedUntil = failures >= threshold ? new Date(now.getTime() + blockFor(failures, threshold)) : row.blocked_until;
  await LoginFailure.updateWhere(app.db, { failures, last_failure: now, blocked_until: blockedUntil }, { id: row.id });
  return failures;
}

/** A good login clears the account's counter (not the address's: that only decays). */
export async function recordLoginSuccess(app: App, user: User): Promise<void> {
  if (user.failed_logins > 0 || user.locked_until) {
    await User.updateWhere(app.db, { failed_logins: 0, locked_until: null }, { id: user.id });
  }
}
