/**
 * Brute-force protection for `login`, built so one person's typos never lock out the
 * others behind the same address (an office, a NAT):
 * - failures are counted per (address, account): that pair is slowed down, then blocked;
 * - an address is blocked as a whole only when it fails against many different accounts
 *   (spraying), a separate and higher threshold;
 * - failures against one account from any address lock the account for a while;
 * - a success clears its pair and the account's counter.
 * A guess reserves a place on its pair and on its account's counter *before* its password is
 * checked (a compare-and-set on each counter's row: failures + guesses in flight below the
 * limit), so parallel guesses cannot slip past either and at most the configured number of
 * passwords is ever checked. A guess past a limit waits for the verdicts in flight
 * (guess-waits.ts) instead of being refused: a right one frees its place, a wrong one counts
 * (and the one reaching the limit blocks), so parallel correct logins never block their own user.
 * Every block, and every login refused because of one, is logged with address and account.
 * State lives in the database, so it holds on every node.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DuplicateKeyError, type Database } from '../../orm/index.js';
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

/**
 * The `login_failure.address` of an account's own counter (failures from any address), kept
 * beside its pairs rather than as a `pending` column on `user`: the same row shape, claimed
 * and settled by the same compare-and-set, so both counters wait and lock alike, and no
 * operator has to ALTER TABLE `user`. No client address can be it (a socket's, or a PROXY
 * line's, is an IP literal, or 'unknown'). `user.failed_logins`/`locked_until` stay a copy for the admins.
 */
export const ACCOUNT_SCOPE = '*';

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

type Refused = (reason: string, extra: object) => void;

/**
 * Admits one guess of `name` from `address`, or throws the refusal (LOGIN_BLOCKED,
 * ACCOUNT_LOCKED), the same whatever the password. `user` is the account, if it exists.
 * A guess past its pair's or its account's limit waits for the verdicts in flight (BUSY if
 * the wait is full or too long; ConnectionClosed when `signal`, the client's, aborts).
 */
export async function admitGuess(app: App, log: Logger, address: string, name: string, user: User | undefined, signal?: AbortSignal): Promise<Guess> {
  const account = accountKey(name);
  const refused: Refused = (reason, extra) => {
    app.metrics.loginRefusals.inc({ reason });
    log.warn({ addr: address, name: account, reason, ...extra }, 'login refused');
  };
  const pair = pairCounter(app, address, account, refused);
  const whole = user && accountCounter(app, user, refused);
  const settle = async (counter: Counter, id: number, verdict: Verdict) => {
    const outcome = await settleCounter(app, counter, id, verdict);
    app.guessWaits.wake(counter.key);
    return outcome;
  };
  let seat: Seat | undefined;
  let current = user;
  const wait = async (counter: Counter) => {
    if (!seat) {
      try {
        seat = app.guessWaits.enter(address, signal);
      } catch (error) {
        refused('too many logins waiting for a verdict', {});
        throw error;
      }
    }
    await seat.next(counter.key);
    // An admin may have locked the account meanwhile.
    if (current) current = (await User.selectOne(app.db, { id: current.id })) ?? current;
  };
  let onPair: Claim;
  let onAccount: Claim | undefined;
  try {
    for (;;) {
      const addressBlock = await AddressBlock.selectOne(app.db, { address });
      if (addressBlock && addressBlock.blocked_until.getTime() > Date.now()) {
        refused('address blocked', { until: addressBlock.blocked_until });
        throw addressBlocked(addressBlock.blocked_until);
      }
      if (current) assertAccountOpen(current, refused);
      // A read before any write: a guess waiting on a full account, woken by every verdict, only reads.
      if (whole && (await peekCounter(app, whole)) === FULL) {
        await wait(whole);
        continue;
      }
      const claimed = await claimCounter(app, pair);
      if (claimed !== FULL) {
        onPair = claimed;
        break;
      }
      await wait(pair);
    }
    // The pair's place is held while the guess waits for the account's: only logins of the
    // same account from the same address (which need the account's place too) wait behind it,
    // and the pair's row is not given back and taken again (InnoDB deadlocked its INSERTs
    // against the DELETEs of that churn: INTERNAL, seen once in a dozen runs of 30 logins from 6 addresses).
    try {
      while (whole && !onAccount) {
        const claimed = await claimCounter(app, whole);
        if (claimed !== FULL) onAccount = claimed;
        else {
          await wait(whole);
          if (current) assertAccountOpen(current, refused);
        }
      }
    } catch (error) {
      await settle(pair, onPair.id, 'unchecked');
      throw error;
    }
  } finally {
    seat?.leave();
  }
  const release = async () => {
    await settle(pair, onPair.id, 'unchecked');
    if (whole && onAccount) await settle(whole, onAccount.id, 'unchecked');
  };
  try {
    if (onPair.fresh) await checkSpray(app, log, address, account, refused);
  } catch (error) {
    await release();
    throw error;
  }
  return {
    async failed() {
      const counted = await settle(pair, onPair.id, 'failed');
      const onUser = whole && onAccount ? await settle(whole, onAccount.id, 'failed') : undefined;
      app.metrics.loginFailures.inc();
      if (counted?.blockedUntil) {
        app.metrics.loginBlocks.inc({ scope: 'pair' });
        log.warn({ addr: address, name: account, failures: counted.failures, until: counted.blockedUntil }, 'login blocked for this account from this address');
      }
      if (user && onUser) {
        await copyToUser(app, user.id, onUser.failures, onUser.blockedUntil);
        if (onUser.blockedUntil) {
          app.metrics.loginBlocks.inc({ scope: 'account' });
          log.warn({ addr: address, name: account, user: user.id, failures: onUser.failures, until: onUser.blockedUntil }, 'account locked after failed logins');
        }
      }
      await sleep(Math.min(MAX_SLOWDOWN_MS, 100 * 2 ** Math.min(5, (counted?.failures ?? 1) - 1)));
    },
    async succeeded() {
      // Separate statements, not one transaction: 20 parallel logins of one account deadlocked in
      // InnoDB (the delete's gap lock against the others' inserts), which was INTERNAL.
      await settle(pair, onPair.id, 'succeeded');
      if (whole && onAccount) await settle(whole, onAccount.id, 'succeeded');
      if (user) await User.updateWhere(app.db, { failed_logins: 0, locked_until: null }, { id: user.id });
    },
    unchecked: release,
  };
}

function addressBlocked(until: Date): LoginBlocked {
  return new LoginBlocked(`too many failed logins from your address against different accounts; try again in ${secondsUntil(until)} s`);
}

function accountLockedUntil(until: Date): AccountLocked {
  return new AccountLocked(`account locked after repeated failed logins; try again in ${secondsUntil(until)} s`);
}

/** Refuses a locked account before its password is checked, so the answer cannot depend on it. */
function assertAccountOpen(user: User, refused: Refused): void {
  if (user.is_locked) {
    refused('account locked by an admin', { user: user.id });
    throw new AccountLocked('account is locked');
  }
  if (user.locked_until && user.locked_until.getTime() > Date.now()) {
    refused('account locked after failed logins', { user: user.id, until: user.locked_until });
    throw accountLockedUntil(user.locked_until);
  }
}

/**
 * The account's count as the admins see it (`cinebox admin users`), and a lock it set, on the
 * user row. Never lowered here: failures settled together may copy out of order (a success
 * or an unlock resets it).
 */
async function copyToUser(app: App, id: number, failures: number, lockedUntil: Date | null): Promise<void> {
  if (lockedUntil) {
    await User.updateWhere(app.db, { failed_logins: failures, locked_until: lockedUntil }, { id });
    return;
  }
  for (;;) {
    const [row] = await User.select(app.db, { id }, { columns: ['failed_logins'] });
    if (!row || row.failed_logins >= failures) return;
    if (await User.updateWhere(app.db, { failed_logins: failures }, { id, failed_logins: row.failed_logins })) return;
  }
}

/** One counter a guess needs a place on: its (address, account) pair, or its account's (any address). */
interface Counter {
  address: string;
  account: string;
  /** What its waiters are woken by (guess-waits.ts). */
  key: string;
  limit: number;
  /** Failures this quiet no longer count. */
  quietMs: number;
  /** Reset to zero rather than deleted when a verdict leaves nothing (the sweep deletes it once quiet). */
  keepEmpty: boolean;
  /** Logs and returns the refusal while the counter's block runs. */
  blocked(row: LoginFailure): Error;
}

function pairCounter(app: App, address: string, account: string, refused: Refused): Counter {
  return {
    address,
    account,
    key: JSON.stringify([address, account]),
    limit: app.config.loginMaxFailures,
    quietMs: QUIET_WINDOW_MS,
    keepEmpty: false,
    blocked(row) {
      refused('too many failures for this account from this address', { failures: row.failures, until: row.blocked_until });
      return new LoginBlocked(`too many failed logins for this account from your address; try again in ${secondsUntil(row.blocked_until!)} s`);
    },
  };
}

/**
 * The account's counter. Its failures never go quiet (only a success or an unlock clears
 * them, as `user.failed_logins` always did), so an attacker who waits gets no fresh 20. Kept
 * at zero when empty: a burst of logins of one account does not delete and re-insert the one
 * row they all count on (a DELETE racing INSERTs of one unique key is where InnoDB deadlocks).
 */
function accountCounter(app: App, user: User, refused: Refused): Counter {
  const account = accountKey(user.name);
  return {
    address: ACCOUNT_SCOPE,
    account,
    key: JSON.stringify([ACCOUNT_SCOPE, account]),
    limit: app.config.accountMaxFailures,
    quietMs: Number.POSITIVE_INFINITY,
    keepEmpty: true,
    blocked(row) {
      refused('account locked after failed logins', { user: user.id, failures: row.failures, until: row.blocked_until });
      return accountLockedUntil(row.blocked_until!);
    },
  };
}

interface Claim {
  id: number;
  /** A new counter (no failure and nothing in flight, or quiet for the window): a new pair may make the address a sprayer. */
  fresh: boolean;
}

/** The counter has the limit's worth of failures and guesses in flight, and no block yet: wait for a verdict. */
const FULL = Symbol('full');

/** What of a counter's row still counts now: failures not gone quiet, reservations not lapsed. */
function liveCounts(counter: Counter, row: LoginFailure, now: Date): { failures: number; pending: number } {
  const age = now.getTime() - row.last_failure.getTime();
  return { failures: age > counter.quietMs ? 0 : row.failures, pending: age > PENDING_LAPSE_MS ? 0 : row.pending };
}

/** FULL if the counter has no place now (throws while it is blocked): what a claim would find. */
function placeIn(counter: Counter, row: LoginFailure, now: Date): { failures: number; pending: number } | typeof FULL {
  if (row.blocked_until && row.blocked_until.getTime() > now.getTime()) throw counter.blocked(row);
  const live = liveCounts(counter, row, now);
  // After a block ran out (failures at the limit), one guess at a time.
  return live.pending >= Math.max(1, counter.limit - live.failures) ? FULL : live;
}

/** Whether a claim would find the counter full, without claiming (throws while it is blocked). */
async function peekCounter(app: App, counter: Counter): Promise<typeof FULL | undefined> {
  const row = await LoginFailure.selectOne(app.db, { address: counter.address, account: counter.account });
  return row && placeIn(counter, row, new Date()) === FULL ? FULL : undefined;
}

/** The compare-and-set condition: the row as it was read. */
const asRead = (row: LoginFailure) => ({ id: row.id, failures: row.failures, pending: row.pending, last_failure: row.last_failure });

/**
 * Reserves a place for one guess on a counter: admitted while failures and guesses in flight
 * are below the limit (after a block ran out, one guess at a time); FULL when the rest is in
 * flight; throws while the counter is blocked.
 */
async function claimCounter(app: App, counter: Counter): Promise<Claim | typeof FULL> {
  const { address, account } = counter;
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
    const place = placeIn(counter, row, now);
    if (place === FULL) return FULL;
    const { failures, pending } = place;
    const taken = await LoginFailure.updateWhere(app.db, { failures, pending: pending + 1, last_failure: now }, asRead(row));
    if (taken === 0) continue; // another guess counted first: read again
    return { id: row.id, fresh: failures === 0 && pending === 0 };
  }
}

type Verdict = 'failed' | 'succeeded' | 'unchecked';

/**
 * Settles a reservation: a failure counts (arming the block when it reaches the limit), a
 * success clears the failures (the row goes once nothing is in flight, unless kept), an
 * unchecked guess only gives its place back. Returns the count after a failure; undefined if
 * the row is gone (an admin lifted it).
 */
async function settleCounter(app: App, counter: Counter, id: number, verdict: Verdict): Promise<{ failures: number; blockedUntil: Date | null } | undefined> {
  for (;;) {
    const row = await LoginFailure.selectOne(app.db, { id });
    if (!row) return undefined;
    const now = new Date();
    const live = liveCounts(counter, row, now);
    const pending = Math.max(0, live.pending - 1);
    if (verdict === 'failed') {
      const failures = live.failures + 1;
      const blockedUntil = blockAfter(failures, counter.limit, now);
      if (await LoginFailure.updateWhere(app.db, { failures, pending, last_failure: now, blocked_until: blockedUntil }, asRead(row))) return { failures, blockedUntil };
      continue;
    }
    const failures = verdict === 'succeeded' ? 0 : live.failures;
    const changed =
      failures === 0 && pending === 0 && !counter.keepEmpty
        ? await LoginFailure.deleteWhere(app.db, asRead(row))
        : await LoginFailure.updateWhere(app.db, verdict === 'succeeded' ? { failures, pending, blocked_until: null } : { failures, pending }, asRead(row));
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

/** A current block, as `list_blocks` shows it: a pair (address and account) or a whole address (account null). */
export interface BlockRow {
  address: string;
  account: string | null;
  failures: number;
  blocked_until: string;
}

/** The account locks are not listed: `cinebox admin users` shows them, and `unlock` lifts them. */
export async function currentBlocks(app: App, now = new Date()): Promise<BlockRow[]> {
  const pairs = (await LoginFailure.select(app.db, {}, { orderBy: [['blocked_until', 'desc']] })).filter((p) => p.address !== ACCOUNT_SCOPE);
  const addresses = await AddressBlock.select(app.db, {}, { orderBy: [['blocked_until', 'desc']] });
  const live = (until: Date | null): until is Date => until !== null && until.getTime() > now.getTime();
  return [
    ...addresses.filter((a) => live(a.blocked_until)).map((a) => ({ address: a.address, account: null, failures: a.accounts, blocked_until: a.blocked_until.toISOString() })),
    ...pairs.filter((p) => live(p.blocked_until)).map((p) => ({ address: p.address, account: p.account, failures: p.failures, blocked_until: p.blocked_until!.toISOString() })),
  ];
}

/** Lifts the blocks of an address (all its pairs and the address-wide one), or of one account from it; returns the rows removed. */
export async function liftBlocks(app: App, address: string, name?: string): Promise<number> {
  if (address === ACCOUNT_SCOPE) return 0; // not an address: an account's counter is cleared by unlocking it
  if (name !== undefined) return LoginFailure.deleteWhere(app.db, { address, account: accountKey(name) });
  const pairs = await LoginFailure.deleteWhere(app.db, { address });
  return pairs + (await AddressBlock.deleteWhere(app.db, { address }));
}

/** Clears an account's counter (an unlock): its failures from any address no longer count. */
export async function forgetAccountFailures(db: Database, name: string): Promise<number> {
  return LoginFailure.deleteWhere(db, { address: ACCOUNT_SCOPE, account: accountKey(name) });
}

/**
 * Deletes counters and blocks that no longer matter: quiet for the window and no block
 * running (an account's counter only once it holds no failure: those never go quiet).
 */
export async function sweepLoginFailures(app: App, now = Date.now()): Promise<number> {
  const cutoff = now - QUIET_WINDOW_MS;
  let removed = 0;
  for (const row of await LoginFailure.select(app.db, {}, { columns: ['id', 'address', 'failures', 'last_failure', 'blocked_until'] })) {
    if (row.last_failure.getTime() >= cutoff || (row.blocked_until && row.blocked_until.getTime() > now)) continue;
    if (row.address === ACCOUNT_SCOPE && row.failures > 0) continue;
    removed += await LoginFailure.deleteWhere(app.db, { id: row.id, last_failure: row.last_failure });
  }
  for (const row of await AddressBlock.select(app.db, {}, { columns: ['id', 'blocked_until'] })) {
    if (row.blocked_until.getTime() >= cutoff) continue;
    removed += await AddressBlock.deleteWhere(app.db, { id: row.id, blocked_until: row.blocked_until });
  }
  if (removed > 0) app.log.info({ removed }, 'expired login failures removed');
  return removed;
}
