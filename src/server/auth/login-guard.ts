/**
 * Brute-force protection for `login`, built so one person's typos never lock out the
 * others behind the same address (an office, a NAT):
 * - failures are counted per (address, account): that pair is slowed down, then blocked;
 * - an address is blocked as a whole only when it fails against many different accounts
 *   (spraying), a separate and higher threshold;
 * - failures against one account from any address lock the account for a while;
 * - a success clears its pair (and the account's counter).
 * A guess reserves a place on its pair *before* its password is checked (a compare-and-set
 * on the pair's row: failures + guesses in flight below the limit), so parallel guesses
 * cannot slip past it and at most the configured number of passwords is ever checked. A
 * guess past the limit waits for the verdicts in flight (guess-waits.ts) instead of being
 * refused: a right one frees its place, a wrong one counts (and the one reaching the limit
 * blocks the pair), so parallel correct logins never block their own user.
 * Every block, and every login refused because of one, is logged with address and account.
 * State lives in the database, so it holds on every node.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DuplicateKeyError } from '../../orm/index.js';
import { AddressBlock, LoginFailure, User } from '../../orm/models/index.js';
import type { App } from '../context.js';
import { AccountLocked, LoginBlocked } from '../errors.js';
import type { Seat } from './guess-waits.js';

/** Failures older than this no longer count (and their rows are swept). */
export const QUIET_WINDOW_MS = 15 * 60 * 1000;
const FIRST_BLOCK_MS = 60 * 1000;
const MAX_BLOCK_MS = 60 * 60 * 1000;
const MAX_SLOWDOWN_MS = 2000;
/**
 * A reservation no verdict settled in this long lapses (its node died mid-login): far longer
 * than a check can take (the password queue holds at most ~2 s of work), short enough that
 * a crash does not keep the pair's logins waiting for long.
 */
const PENDING_LAPSE_MS = 60 * 1000;
/** The longest a user name can be (register's limit): longer login names are cut to it for the key. */
const NAME_KEY_LENGTH = 64;

/** 1 min, 2 min, 4 min, … up to 1 h, for each failure from the threshold on. */
function blockFor(failures: number, threshold: number): number {
  return Math.min(MAX_BLOCK_MS, FIRST_BLOCK_MS * 2 ** Math.min(20, Math.max(0, failures - threshold)));
}

function blockAfter(failures: number, threshold: number, now: Date): Date | null {
  return failures >= threshold ? new Date(now.getTime() + blockFor(failures, threshold)) : null;
}

function secondsUntil(date: Date): number {
  return Math.max(1, Math.ceil((date.getTime() - Date.now()) / 1000));
}

export function accountKey(name: string): string {
  return [...name].slice(0, NAME_KEY_LENGTH).join('');
}

/** A guess admitted and counted: settle it once the password has been checked (or could not be). */
export interface Guess {
  /** The password was wrong: the counts stand; logs a block it caused, then slows the reply down. */
  failed(): Promise<void>;
  /** The password was right: clears the pair and the account's counter. */
  succeeded(): Promise<void>;
  /** The password was never checked (BUSY, the client left): the guess is uncounted. */
  unchecked(): Promise<void>;
}

/**
 * Admits one guess of `name` from `address`, or throws the refusal (LOGIN_BLOCKED,
 * ACCOUNT_LOCKED), the same whatever the password. `user` is the account, if it exists.
 * A guess past its pair's limit waits for the verdicts in flight (BUSY if the wait is full
 * or too long; ConnectionClosed when `signal`, the client's, aborts).
 */
export async function admitGuess(app: App, log: Logger, address: string, name: string, user: User | undefined, signal?: AbortSignal): Promise<Guess> {
  const account = accountKey(name);
  const refused = (reason: string, extra: object) => {
    app.metrics.loginRefusals.inc({ reason });
    log.warn({ addr: address, name: account, reason, ...extra }, 'login refused');
  };
  const pairKey = JSON.stringify([address, account]);
  let seat: Seat | undefined;
  let pair: PairClaim;
  try {
    for (;;) {
      const addressBlock = await AddressBlock.selectOne(app.db, { address });
      if (addressBlock && addressBlock.blocked_until.getTime() > Date.now()) {
        refused('address blocked', { until: addressBlock.blocked_until });
        throw addressBlocked(addressBlock.blocked_until);
      }
      if (user) assertAccountOpen(user, refused);
      const claim = await claimPair(app, address, account, refused);
      if (claim !== FULL) {
        pair = claim;
        break;
      }
      if (!seat) {
        try {
          seat = app.guessWaits.enter(address, pairKey, signal);
        } catch (error) {
          refused('too many logins waiting for a verdict', {});
          throw error;
        }
      }
      await seat.next();
    }
  } finally {
    seat?.leave();
  }
  let accountClaim: AccountClaim | undefined;
  const settled = async (verdict: PairVerdict) => {
    const outcome = await settlePair(app, pair.id, verdict);
    app.guessWaits.wake(pairKey);
    return outcome;
  };
  try {
    if (pair.fresh) await checkSpray(app, log, address, account, refused);
    if (user) accountClaim = await claimAccount(app, user, refused);
  } catch (error) {
    await settled('unchecked');
    throw error;
  }
  return {
    async failed() {
      const counted = await settled('failed');
      app.metrics.loginFailures.inc();
      if (counted?.blockedUntil) {
        app.metrics.loginBlocks.inc({ scope: 'pair' });
        log.warn({ addr: address, name: account, failures: counted.failures, until: counted.blockedUntil }, 'login blocked for this account from this address');
      }
      if (accountClaim?.lockedUntil) {
        app.metrics.loginBlocks.inc({ scope: 'account' });
        log.warn({ addr: address, name: account, user: user!.id, failures: accountClaim.failures, until: accountClaim.lockedUntil }, 'account locked after failed logins');
      }
      await sleep(Math.min(MAX_SLOWDOWN_MS, 100 * 2 ** Math.min(5, (counted?.failures ?? 1) - 1)));
    },
    async succeeded() {
      // Two statements, not one transaction: 20 parallel logins of one account deadlocked in
      // InnoDB (the delete's gap lock against the others' inserts), which was INTERNAL.
      await settled('succeeded');
      if (user) await User.updateWhere(app.db, { failed_logins: 0, locked_until: null }, { id: user.id });
    },
    async unchecked() {
      await settled('unchecked');
      await accountClaim?.undo(app);
    },
  };
}

function addressBlocked(until: Date): LoginBlocked {
  return new LoginBlocked(`too many failed logins from your address against different accounts; try again in ${secondsUntil(until)} s`);
}

/** Refuses a locked account before its password is checked, so the answer cannot depend on it. */
function assertAccountOpen(user: User, refused: (reason: string, extra: object) => void): void {
  if (user.is_locked) {
    refused('account locked by an admin', { user: user.id });
    throw new AccountLocked('account is locked');
  }
  if (user.locked_until && user.locked_until.getTime() > Date.now()) {
    refused('account locked after failed logins', { user: user.id, until: user.locked_until });
    throw new AccountLocked(`account locked after repeated failed logins; try again in ${secondsUntil(user.locked_until)} s`);
  }
}

interface PairClaim {
  id: number;
  /** A new pair (no failure and nothing in flight, or quiet for the window): it may make the address a sprayer. */
  fresh: boolean;
}

/** The pair has the limit's worth of failures and guesses in flight, and no block yet: wait for a verdict. */
const FULL = Symbol('full');

/** What of a pair's row still counts now: failures within the quiet window, reservations not lapsed. */
function liveCounts(row: LoginFailure, now: Date): { failures: number; pending: number } {
  const age = now.getTime() - row.last_failure.getTime();
  return { failures: age > QUIET_WINDOW_MS ? 0 : row.failures, pending: age > PENDING_LAPSE_MS ? 0 : row.pending };
}

/** The compare-and-set condition: the row as it was read. */
const asRead = (row: LoginFailure) => ({ id: row.id, failures: row.failures, pending: row.pending, last_failure: row.last_failure });

/**
 * Reserves a place for one guess on (address, account): admitted while failures and guesses
 * in flight are below the limit (after a block ran out, one guess at a time); FULL when the
 * rest is in flight; throws while the pair is blocked.
 */
async function claimPair(app: App, address: string, account: string, refused: (reason: string, extra: object) => void): Promise<PairClaim | typeof FULL> {
  const limit = app.config.loginMaxFailures;
  for (;;) {
    const now = new Date();
    const row = await LoginFailure.selectOne(app.db, { address, account });
    if (!row) {
      const created = LoginFailure.from({ address, account, failures: 0, pending: 1, last_failure: now, blocked_until: null });
      try {
        await created.save(app.db);
      } catch (error) {
        if (error instanceof DuplicateKeyError) continue; // a parallel guess created it first
        throw error;
      }
      return { id: created.id, fresh: true };
    }
    if (row.blocked_until && row.blocked_until.getTime() > now.getTime()) {
      refused('too many failures for this account from this address', { failures: row.failures, until: row.blocked_until });
      throw new LoginBlocked(`too many failed logins for this account from your address; try again in ${secondsUntil(row.blocked_until)} s`);
    }
    const { failures, pending } = liveCounts(row, now);
    if (pending >= Math.max(1, limit - failures)) return FULL;
    const taken = await LoginFailure.updateWhere(app.db, { failures, pending: pending + 1, last_failure: now }, asRead(row));
    if (taken === 0) continue; // another guess counted first: read again
    return { id: row.id, fresh: failures === 0 && pending === 0 };
  }
}

type PairVerdict = 'failed' | 'succeeded' | 'unchecked';

/**
 * Settles a reservation: a failure counts (arming the block when it reaches the limit), a
 * success clears the failures (the row goes once nothing is in flight), an unchecked guess
 * only gives its place back. Returns the count after a failure; undefined if the row is gone
 * (an admin lifted it).
 */
async function settlePair(app: App, id: number, verdict: PairVerdict): Promise<{ failures: number; blockedUntil: Date | null } | undefined> {
  const limit = app.config.loginMaxFailures;
  for (;;) {
    const row = await LoginFailure.selectOne(app.db, { id });
    if (!row) return undefined;
    const now = new Date();
    const live = liveCounts(row, now);
    const pending = Math.max(0, live.pending - 1);
    if (verdict === 'failed') {
      const failures = live.failures + 1;
      const blockedUntil = blockAfter(failures, limit, now);
      if (await LoginFailure.updateWhere(app.db, { failures, pending, last_failure: now, blocked_until: blockedUntil }, asRead(row))) return { failures, blockedUntil };
      continue;
    }
    const failures = verdict === 'succeeded' ? 0 : live.failures;
    const changed =
      failures === 0 && pending === 0
        ? await LoginFailure.deleteWhere(app.db, asRead(row))
        : await LoginFailure.updateWhere(app.db, verdict === 'succeeded' ? { failures, pending, blocked_until: null } : { pending }, asRead(row));
    if (changed) return undefined;
  }
}

/**
 * A new pair from an address: past `addressMaxAccounts` different accounts within the quiet
 * window the whole address is blocked (the guess that reaches the threshold still runs).
 */
async function checkSpray(app: App, log: Logger, address: string, account: string, refused: (reason: string, extra: object) => void): Promise<void> {
  const max = app.config.addressMaxAccounts;
  const cutoff = Date.now() - QUIET_WINDOW_MS;
  const rows = await LoginFailure.select(app.db, { address }, { columns: ['last_failure'] });
  const accounts = rows.filter((row) => row.last_failure.getTime() >= cutoff).length;
  if (accounts < max) return;
  const until = await blockAddress(app, address, accounts);
  if (until) {
    app.metrics.loginBlocks.inc({ scope: 'address' });
    log.warn({ addr: address, name: account, accounts, until }, 'address blocked: failed logins against many accounts');
  }
  if (accounts > max) {
    refused('address blocked', { accounts });
    throw addressBlocked(until ?? new Date(Date.now() + FIRST_BLOCK_MS));
  }
}

/** Blocks the address (1 min, doubling for each block in a row); returns the new end, or undefined if a block runs already. */
async function blockAddress(app: App, address: string, accounts: number): Promise<Date | undefined> {
  for (;;) {
    const now = new Date();
    const row = await AddressBlock.selectOne(app.db, { address });
    if (!row) {
      const until = new Date(now.getTime() + FIRST_BLOCK_MS);
      try {
        await AddressBlock.from({ address, blocks: 1, accounts, last_block: now, blocked_until: until }).save(app.db);
        return until;
      } catch (error) {
        if (error instanceof DuplicateKeyError) continue;
        throw error;
      }
    }
    if (row.blocked_until.getTime() > now.getTime()) return undefined;
    const blocks = now.getTime() - row.blocked_until.getTime() > QUIET_WINDOW_MS ? 1 : row.blocks + 1;
    const until = new Date(now.getTime() + blockFor(blocks, 1));
    const taken = await AddressBlock.updateWhere(app.db, { blocks, accounts, last_block: now, blocked_until: until }, { id: row.id, blocks: row.blocks, blocked_until: row.blocked_until });
    if (taken > 0) return until;
  }
}

interface AccountClaim {
  failures: number;
  lockedUntil: Date | null;
  undo(app: App): Promise<void>;
}

/** Counts the guess against the account (any address), locking it in the same write at the threshold. */
async function claimAccount(app: App, found: User, refused: (reason: string, extra: object) => void): Promise<AccountClaim> {
  const max = app.config.accountMaxFailures;
  let user: User | undefined = found;
  for (;;) {
    assertAccountOpen(user, refused);
    const now = new Date();
    const failures = user.failed_logins + 1;
    const lockedUntil = blockAfter(failures, max, now);
    const previous = { failed_logins: user.failed_logins, locked_until: user.locked_until };
    const set = { failed_logins: failures, locked_until: lockedUntil ?? user.locked_until };
    const taken = await User.updateWhere(app.db, set, { id: user.id, failed_logins: user.failed_logins });
    if (taken > 0) {
      const id = user.id;
      return { failures, lockedUntil, undo: async (a) => void (await User.updateWhere(a.db, previous, { id, failed_logins: failures })) };
    }
    user = await User.selectOne(app.db, { id: user.id });
    if (!user) throw new AccountLocked('account is locked');
  }
}

/** A current block, as `list_blocks` shows it: a pair (address and account) or a whole address (account null). */
export interface BlockRow {
  address: string;
  account: string | null;
  failures: number;
  blocked_until: string;
}

export async function currentBlocks(app: App, now = new Date()): Promise<BlockRow[]> {
  const pairs = await LoginFailure.select(app.db, {}, { orderBy: [['blocked_until', 'desc']] });
  const addresses = await AddressBlock.select(app.db, {}, { orderBy: [['blocked_until', 'desc']] });
  const live = (until: Date | null): until is Date => until !== null && until.getTime() > now.getTime();
  return [
    ...addresses.filter((a) => live(a.blocked_until)).map((a) => ({ address: a.address, account: null, failures: a.accounts, blocked_until: a.blocked_until.toISOString() })),
    ...pairs.filter((p) => live(p.blocked_until)).map((p) => ({ address: p.address, account: p.account, failures: p.failures, blocked_until: p.blocked_until!.toISOString() })),
  ];
}

/** Lifts the blocks of an address (all its pairs and the address-wide one), or of one account from it; returns the rows removed. */
export async function liftBlocks(app: App, address: string, name?: string): Promise<number> {
  if (name !== undefined) return LoginFailure.deleteWhere(app.db, { address, account: accountKey(name) });
  const pairs = await LoginFailure.deleteWhere(app.db, { address });
  return pairs + (await AddressBlock.deleteWhere(app.db, { address }));
}

/** Deletes counters and blocks that no longer matter: quiet for the window and no block running. */
export async function sweepLoginFailures(app: App, now = Date.now()): Promise<number> {
  const cutoff = now - QUIET_WINDOW_MS;
  let removed = 0;
  for (const row of await LoginFailure.select(app.db, {}, { columns: ['id', 'last_failure', 'blocked_until'] })) {
    if (row.last_failure.getTime() >= cutoff || (row.blocked_until && row.blocked_until.getTime() > now)) continue;
    removed += await LoginFailure.deleteWhere(app.db, { id: row.id, last_failure: row.last_failure });
  }
  for (const row of await AddressBlock.select(app.db, {}, { columns: ['id', 'blocked_until'] })) {
    if (row.blocked_until.getTime() >= cutoff) continue;
    removed += await AddressBlock.deleteWhere(app.db, { id: row.id, blocked_until: row.blocked_until });
  }
  if (removed > 0) app.log.info({ removed }, 'expired login failures removed');
  return removed;
}
