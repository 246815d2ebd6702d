/**
 * The download speed of one account on this node: one budget shared by all of the account's
 * running downloads (two at once get half each), as a token bucket in its virtual-clock form
 * (GCRA): `due` is when the bytes granted so far have been paid for at the rate, and a
 * download may send a buffer once `due` moved past it. The bucket holds CATCH_UP_MS of
 * credit, so a timer that fires late or a slow disk read is made up for instead of lost
 * (the rate holds on a loaded machine), and an idle account starts with that much burst.
 *
 * Per node: across nodes the account's downloads each get this node's budget (docs/policies.md
 * says why; the session cap bounds how many nodes an account can use at once).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { App } from '../context.js';

/** Credit the bucket holds: what a late timer may catch up, and the burst of an idle account. */
export const CATCH_UP_MS = 250;

export class SpeedBudget {
  private due = Number.NEGATIVE_INFINITY;
  /** Downloads using this budget now; the registry forgets it at 0. */
  holders = 0;

  constructor(public bytesPerSecond: number) {}

  /** Resolves once `bytes` more may be sent; rejects with the signal's reason if it aborts first. */
  async take(bytes: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    this.due = Math.max(this.due, now - CATCH_UP_MS) + (bytes * 1000) / this.bytesPerSecond;
    const wait = this.due - now;
    if (wait >= 1) await sleep(wait, undefined, { signal });
  }
}

const budgets = new WeakMap<App, Map<number, SpeedBudget>>();

/** The account's budget on this node; a changed speed applies to its running downloads too. */
export function acquireBudget(app: App, userId: number, bytesPerSecond: number): SpeedBudget {
  let perUser = budgets.get(app);
  if (!perUser) budgets.set(app, (perUser = new Map()));
  let budget = perUser.get(userId);
  if (!budget) perUser.set(userId, (budget = new SpeedBudget(bytesPerSecond)));
  budget.bytesPerSecond = bytesPerSecond;
  budget.holders++;
  return budget;
}

export function releaseBudget(app: App, userId: number, budget: SpeedBudget): void {
  budget.holders--;
  const perUser = budgets.get(app);
  if (budget.holders <= 0 && perUser?.get(userId) === budget) perUser.delete(userId);
}
