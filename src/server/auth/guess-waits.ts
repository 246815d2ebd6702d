/**
 * Where a login waits when a counter it needs a place on (its (address, account) pair, or the
 * account's, any address) already has the limit's worth of guesses in flight: for their
 * verdicts (a right one frees its place, a wrong one counts and may block), rather than being
 * refused, so parallel correct logins never block their own user. A waiting guess is a
 * password check to come, so it is bounded like the password queue: past `maxQueued`
 * waiting, or `maxQueuedPerAddress` from one address, or after `maxWaitMs`, BUSY. A verdict
 * on this node wakes that counter's waiters at once; one on another node is seen by the next poll.
 */
import type { ServerConfig } from '../config.js';
import { ConnectionClosed } from '../connection-closed.js';
import { Busy } from '../errors.js';

export interface GuessWaitLimits {
  maxQueued: number;
  maxQueuedPerAddress: number;
  /** How often a waiter reads its counter again, for verdicts given on other nodes. */
  pollMs: number;
  maxWaitMs: number;
}

/** A place in the waiting room, held from the first "full" to admission or refusal (one per guess, whatever it waits on). */
export interface Seat {
  /**
   * Resolves when the counter `key` may have a place (a verdict on it here, or the poll);
   * rejects ConnectionClosed or, past the deadline, Busy. The seat stays woken by `key` until it leaves.
   */
  next(key: string): Promise<void>;
  leave(): void;
}

export class GuessWaits {
  private waiting = 0;
  private readonly byAddress = new Map<string, number>();
  /** Seats by counter key, to wake on a verdict. */
  private readonly byKey = new Map<string, Set<SeatImpl>>();
  /** Counters for the logs and the tests: guesses that waited, refused with BUSY; the most ever waiting. */
  readonly stats = { waited: 0, refused: 0, peakWaiting: 0, peakWaitingPerAddress: 0 };

  constructor(private readonly limits: GuessWaitLimits) {}

  /** Bounded by the password queue's own figures: each waiter is a check to come. */
  static forConfig(config: Pick<ServerConfig, 'hashQueueMax' | 'hashQueuePerAddress'>): GuessWaits {
    return new GuessWaits({ maxQueued: config.hashQueueMax, maxQueuedPerAddress: config.hashQueuePerAddress, pollMs: 250, maxWaitMs: 30_000 });
  }

  /** Takes a seat for a guess from `address`; throws Busy when the room is full. */
  enter(address: string, signal?: AbortSignal): Seat {
    const fromAddress = this.byAddress.get(address) ?? 0;
    if (this.waiting >= this.limits.maxQueued || fromAddress >= this.limits.maxQueuedPerAddress) {
      this.stats.refused++;
      throw new Busy('too many logins are waiting for a verdict; try again in a moment');
    }
    this.waiting++;
    this.byAddress.set(address, fromAddress + 1);
    this.stats.waited++;
    this.stats.peakWaiting = Math.max(this.stats.peakWaiting, this.waiting);
    this.stats.peakWaitingPerAddress = Math.max(this.stats.peakWaitingPerAddress, fromAddress + 1);
    const seat = new SeatImpl(
      Date.now() + this.limits.maxWaitMs,
      this.limits.pollMs,
      signal,
      (key) => this.watch(key, seat),
      () => this.release(address, seat),
    );
    return seat;
  }

  /** A verdict on the counter `key` was given here: its waiters read it again now. */
  wake(key: string): void {
    for (const seat of this.byKey.get(key) ?? []) seat.wake();
  }

  private watch(key: string, seat: SeatImpl): void {
    let seats = this.byKey.get(key);
    if (!seats) this.byKey.set(key, (seats = new Set()));
    seats.add(seat);
  }

  private release(address: string, seat: SeatImpl): void {
    if (seat.left) return;
    seat.left = true;
    for (const key of seat.keys) {
      const seats = this.byKey.get(key);
      seats?.delete(seat);
      if (seats?.size === 0) this.byKey.delete(key);
    }
    this.waiting--;
    const left = (this.byAddress.get(address) ?? 1) - 1;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
  }
}

class SeatImpl implements Seat {
  /** A wake that came while the guess was reading its pair, not waiting: the next wait returns at once. */
  private woken = false;
  private waiter: (() => void) | undefined;
  /** The counters this seat waited on: a verdict on any of them wakes it. */
  readonly keys = new Set<string>();
  left = false;

  constructor(
    private readonly deadline: number,
    private readonly pollMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly onWatch: (key: string) => void,
    readonly leave: () => void,
  ) {}

  wake(): void {
    if (this.waiter) this.waiter();
    else this.woken = true;
  }

  next(key: string): Promise<void> {
    if (this.signal?.aborted) return Promise.reject(new ConnectionClosed());
    const left = this.deadline - Date.now();
    if (left <= 0) return Promise.reject(new Busy('logins of this account are still being checked; try again in a moment'));
    if (!this.keys.has(key)) {
      this.keys.add(key);
      this.onWatch(key);
    }
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        this.waiter = undefined;
        this.signal?.removeEventListener('abort', onAbort);
        outcome();
      };
      const onAbort = () => settle(() => reject(new ConnectionClosed()));
      const timer = setTimeout(() => settle(resolve), Math.min(this.pollMs, left));
      this.waiter = () => settle(resolve);
      this.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
