/**
 * Where a login waits when its (address, account) pair already has the limit's worth of
 * guesses in flight: for their verdicts (a right one frees its place, a wrong one counts and
 * may block the pair), rather than being refused, so parallel correct logins never block
 * their own user. A waiting guess is a password check to come, so it is bounded like the
 * password queue: past `maxQueued` waiting, or `maxQueuedPerAddress` from one address, or
 * after `maxWaitMs`, BUSY. A verdict on this node wakes its pair's waiters at once; one on
 * another node is seen by the next poll.
 */
import type { ServerConfig } from '../config.js';
import { ConnectionClosed } from '../connection-closed.js';
import { Busy } from '../errors.js';

export interface GuessWaitLimits {
  maxQueued: number;
  maxQueuedPerAddress: number;
  /** How often a waiter reads its pair again, for verdicts given on other nodes. */
  pollMs: number;
  maxWaitMs: number;
}

/** A place in the waiting room, held from the first "full" to admission or refusal. */
export interface Seat {
  /** Resolves when the pair may have a place (a verdict here, or the poll); rejects ConnectionClosed or, past the deadline, Busy. */
  next(): Promise<void>;
  leave(): void;
}

export class GuessWaits {
  private waiting = 0;
  private readonly byAddress = new Map<string, number>();
  /** Seats by pair, to wake on a verdict. */
  private readonly byPair = new Map<string, Set<SeatImpl>>();
  /** Counters for the logs and the tests: guesses that waited, refused with BUSY; the most ever waiting. */
  readonly stats = { waited: 0, refused: 0, peakWaiting: 0, peakWaitingPerAddress: 0 };

  constructor(private readonly limits: GuessWaitLimits) {}

  /** Bounded by the password queue's own figures: each waiter is a check to come. */
  static forConfig(config: Pick<ServerConfig, 'hashQueueMax' | 'hashQueuePerAddress'>): GuessWaits {
    return new GuessWaits({ maxQueued: config.hashQueueMax, maxQueuedPerAddress: config.hashQueuePerAddress, pollMs: 250, maxWaitMs: 30_000 });
  }

  /** Takes a seat for a guess of `pair` from `address`; throws Busy when the room is full. */
  enter(address: string, pair: string, signal?: AbortSignal): Seat {
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
    const seat = new SeatImpl(Date.now() + this.limits.maxWaitMs, this.limits.pollMs, signal, () => this.release(address, pair, seat));
    let seats = this.byPair.get(pair);
    if (!seats) this.byPair.set(pair, (seats = new Set()));
    seats.add(seat);
    return seat;
  }

  /** A verdict on `pair` was given here: its waiters read it again now. */
  wake(pair: string): void {
    for (const seat of this.byPair.get(pair) ?? []) seat.wake();
  }

  private release(address: string, pair: string, seat: SeatImpl): void {
    const seats = this.byPair.get(pair);
    if (!seats?.delete(seat)) return;
    if (seats.size === 0) this.byPair.delete(pair);
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

  constructor(
    private readonly deadline: number,
    private readonly pollMs: number,
    private readonly signal: AbortSignal | undefined,
    readonly leave: () => void,
  ) {}

  wake(): void {
    if (this.waiter) this.waiter();
    else this.woken = true;
  }

  next(): Promise<void> {
    if (this.signal?.aborted) return Promise.reject(new ConnectionClosed());
    const left = this.deadline - Date.now();
    if (left <= 0) return Promise.reject(new Busy('logins of this account from your address are still being checked; try again in a moment'));
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
