/**
 * The node's one reader of the event log. Woken by the bus (a hint, never trusted for
 * content), it reads the table after the last id it delivered and offers each event, encoded
 * once, to every live subscription on this node. Ids are gapless, so a missing id means a
 * commit not visible yet: the hub waits for it rather than skip it.
 */
import type { Logger } from 'pino';
import type { Database } from '../../orm/index.js';
import { User } from '../../orm/models/index.js';
import { BadRequest, EventsExpired } from '../errors.js';
import type { EventBus } from './event-bus.js';
import { encodeEventFrame } from './event-frame.js';
import { lastEventId, oldestKeptId, readEvents, type StoredEvent, type Topic } from './event-store.js';
import { Subscription, type EventConnection, type EventSource } from './subscription.js';

const PAGE = 500;
/** A missing id is retried this often, and skipped (logged) only after GAP_PATIENCE_MS. */
const GAP_RETRY_MS = 20;
const GAP_PATIENCE_MS = 10_000;
/** While the bus is down (Redis away), other nodes' events are found by polling. */
const POLL_WHILE_DOWN_MS = 1000;
const RETRY_AFTER_FAILURE_MS = 1000;

export interface HubOptions {
  /** Events one subscriber may have waiting before it is told it fell behind. */
  queueLimit: number;
}

export class EventHub implements EventSource {
  private delivered = 0;
  private readonly subscriptions = new Map<EventConnection, Subscription>();
  /** Connections whose close already ends their subscription. */
  private readonly watched = new WeakSet<EventConnection>();
  private reading = false;
  private again = false;
  private gapSince?: number;
  private retryTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private stopped = false;

  constructor(
    readonly db: Database,
    readonly bus: EventBus,
    private readonly log: Logger,
    private readonly options: HubOptions,
  ) {}

  async start(): Promise<void> {
    this.delivered = await lastEventId(this.db);
    this.bus.onWake(() => this.wake());
    this.pollTimer = setInterval(() => {
      if (!this.bus.connected) this.wake();
    }, POLL_WHILE_DOWN_MS);
    this.pollTimer.unref();
  }

  get cursor(): number {
    return this.delivered;
  }

  get subscriberCount(): number {
    return this.subscriptions.size;
  }

  /** The subscription of one connection, if it has one (tests and the bench look at its queue). */
  subscriptionOf(conn: EventConnection): Subscription | undefined {
    return this.subscriptions.get(conn);
  }

  /** Call after the transaction that recorded `event` committed. */
  announce(event: StoredEvent): void {
    this.bus.announce(event.id);
  }

  /**
   * Registers a subscription starting after `since` (default: the last committed event, which
   * this node's hub may not have read yet). It replaces the connection's previous one and
   * sends nothing until `start()` (after the reply). `lastId`: the last committed event now.
   */
  async subscribe(conn: EventConnection, userId: number, topics: ReadonlySet<Topic>, since?: number): Promise<{ subscription: Subscription; lastId: number }> {
    this.subscriptions.get(conn)?.end();
    const lastId = Math.max(this.delivered, await lastEventId(this.db));
    if (since !== undefined) await this.assertReplayable(since, lastId);
    const subscription = new Subscription(this, conn, topics, since ?? lastId, this.options.queueLimit, userId);
    this.subscriptions.set(conn, subscription);
    if (!this.watched.has(conn)) {
      this.watched.add(conn);
      conn.closedSignal.addEventListener('abort', () => this.subscriptions.get(conn)?.end(), { once: true });
    }
    return { subscription, lastId };
  }

  /** Ends the connection's subscription; returns the last event id it was sent (undefined: none). */
  unsubscribe(conn: EventConnection): number | undefined {
    const subscription = this.subscriptions.get(conn);
    subscription?.end();
    return subscription?.lastHanded;
  }

  /**
   * Ends, with an `account_locked` frame, the subscriptions of accounts locked now. Run before
   * every page of events is handed out (so a lock made on any node, or by the operator on the
   * database, stops the next event), and by a lock on this node at once.
   */
  async endLockedSubscriptions(): Promise<void> {
    if (this.subscriptions.size === 0) return;
    const ids = [...new Set([...this.subscriptions.values()].map((s) => s.userId))];
    const locked = new Set((await User.select(this.db, { id: ids, is_locked: 1 }, { columns: ['id'] })).map((u) => u.id));
    if (locked.size === 0) return;
    for (const subscription of [...this.subscriptions.values()]) {
      if (!locked.has(subscription.userId)) continue;
      subscription.conn.log.warn({ user: subscription.userId, lastId: subscription.lastHanded }, 'account locked, event stream ended');
      subscription.endWith('account_locked', 'account is locked: no more events');
    }
  }

  forget(subscription: Subscription): void {
    if (this.subscriptions.get(subscription.conn) === subscription) this.subscriptions.delete(subscription.conn);
  }

  /** Reads what is new; calls while a read runs make it read again when done. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.readNew()
      .catch((error: Error) => {
        this.log.warn({ err: error.message }, 'reading new events failed, retrying');
        this.retryLater(RETRY_AFTER_FAILURE_MS);
      })
      .finally(() => {
        this.reading = false;
        if (this.again) this.wake();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.pollTimer);
    clearTimeout(this.retryTimer);
    for (const subscription of [...this.subscriptions.values()]) subscription.end();
    await this.bus.close();
  }

  private async assertReplayable(since: number, last: number): Promise<void> {
    if (since > last) throw new BadRequest(`since: there is no event #${since} yet (the last is #${last})`, { last_id: last });
    const oldest = await oldestKeptId(this.db);
    if (since + 1 < oldest) {
      throw new EventsExpired(
        `events after #${since} are no longer kept (the oldest kept is #${oldest}): reload the lists, then subscribe from #${oldest - 1}`,
        { oldest_id: oldest, last_id: last },
      );
    }
  }

  private async readNew(): Promise<void> {
    do {
      this.again = false;
      for (;;) {
        const events = await readEvents(this.db, this.delivered, 2 ** 31 - 1, PAGE);
        if (events.length > 0) await this.endLockedSubscriptions();
        for (const event of events) {
          if (event.id !== this.delivered + 1 && !(await this.gapExplained(event.id))) return this.retryLater(GAP_RETRY_MS);
          this.gapSince = undefined;
          this.delivered = event.id;
          this.fanOut(event);
        }
        if (events.length < PAGE) break;
      }
    } while (this.again && !this.stopped);
  }

  private fanOut(event: StoredEvent): void {
    if (this.subscriptions.size === 0) return;
    const frame = encodeEventFrame(event);
    for (const subscription of this.subscriptions.values()) subscription.offer(event, frame);
  }

  /** A gap before `id` is passed over when those events were pruned, or after GAP_PATIENCE_MS. */
  private async gapExplained(id: number): Promise<boolean> {
    const from = this.delivered + 1;
    if ((await oldestKeptId(this.db)) >= id) {
      this.log.warn({ from, to: id - 1 }, 'events pruned before this node read them, skipped');
      return true;
    }
    const now = Date.now();
    this.gapSince ??= now;
    if (now - this.gapSince < GAP_PATIENCE_MS) return false;
    this.log.error({ from, to: id - 1 }, 'events missing from the table for 10 s, skipped');
    return true;
  }

  private retryLater(ms: number): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.wake();
    }, ms);
    this.retryTimer.unref();
  }
}
