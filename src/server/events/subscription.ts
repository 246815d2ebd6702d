/**
 * One connection's subscription. It starts at a position in the event log (the client's
 * `since`, or now), catches up from the table to the hub's position, then takes live events
 * from the hub. Both steps advance one cursor, so nothing is sent twice or skipped at the
 * seam. Live events wait in a bounded queue while the connection is busy; past the limit the
 * client is told it fell behind and the subscription ends. It also ends, with a frame saying
 * why, when its account is locked (the hub checks before it hands out events).
 */
import type { Logger } from 'pino';
import type { Database } from '../../orm/index.js';
import type { EventsEndedReason } from '../../protocol/messages.js';
import { encodeEndedFrame, encodeEventFrame } from './event-frame.js';
import { readEvents, TOPIC_OF, type StoredEvent, type Topic } from './event-store.js';

/** What a subscription needs of its connection: the one outbound writer, and its end. */
export interface EventConnection {
  /** Queues one encoded frame behind whatever the connection is sending; resolves once written. */
  sendFrame(frame: Buffer): Promise<void>;
  readonly closedSignal: AbortSignal;
  readonly log: Logger;
}

/** The hub as a subscription sees it. */
export interface EventSource {
  /** Every event up to this id has been offered to the live subscriptions. */
  readonly cursor: number;
  readonly db: Database;
  forget(subscription: Subscription): void;
}

const REPLAY_PAGE = 200;

export class Subscription {
  /** The log position: every event up to here was sent, queued or (other topic) passed over. */
  private position: number;
  /** The last event handed to the connection's writer: what the client has, or will have, got. */
  private handed: number;
  private live = false;
  private ended = false;
  private pumping = false;
  private queue: { id: number; frame: Buffer }[] = [];

  constructor(
    private readonly source: EventSource,
    readonly conn: EventConnection,
    readonly topics: ReadonlySet<Topic>,
    start: number,
    private readonly queueLimit: number,
    /** The account it is for: a lock ends it. */
    readonly userId: number,
  ) {
    this.position = start;
    this.handed = start;
  }

  /** Events waiting for the connection (a test and the bench watch it stay bounded). */
  get queued(): number {
    return this.queue.length;
  }

  get lastHanded(): number {
    return this.handed;
  }

  get isEnded(): boolean {
    return this.ended;
  }

  /** Runs after the subscribe reply went out: replay from the table, then go live. */
  async start(): Promise<void> {
    try {
      while (!this.ended) {
        const frontier = this.source.cursor;
        // Synchronous with the hub's fan-out: from here every later event is offered to us.
        if (this.position >= frontier) {
          this.live = true;
          return;
        }
        const events = await readEvents(this.source.db, this.position, frontier, REPLAY_PAGE);
        if (events.length === 0 || events[0]!.id !== this.position + 1) {
          this.conn.log.warn({ after: this.position, first: events[0]?.id }, 'events pruned during a replay were skipped');
          if (events.length === 0) this.position = frontier;
        }
        for (const event of events) {
          if (this.ended) return;
          this.position = event.id;
          if (!this.wants(event)) continue;
          this.handed = event.id;
          await this.conn.sendFrame(encodeEventFrame(event));
        }
      }
    } catch (error) {
      this.end();
      if (!this.conn.closedSignal.aborted) this.conn.log.warn({ err: (error as Error).message }, 'event replay failed, subscription ended');
    }
  }

  /** A live event from the hub, in id order; `frame` is shared by every subscriber. */
  offer(event: StoredEvent, frame: Buffer): void {
    if (!this.live || this.ended || event.id <= this.position) return;
    this.position = event.id;
    if (!this.wants(event)) return;
    this.queue.push({ id: event.id, frame });
    if (this.queue.length > this.queueLimit) this.fellBehind();
    else if (!this.pumping) void this.pump();
  }

  /** Ends the subscription; queued events are dropped, the one being written still goes out. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.queue = [];
    this.source.forget(this);
  }

  private wants(event: StoredEvent): boolean {
    return this.topics.has(TOPIC_OF[event.kind]);
  }

  private async pump(): Promise<void> {
    this.pumping = true;
    try {
      while (this.queue.length > 0 && !this.ended) {
        const next = this.queue.shift()!;
        this.handed = next.id;
        await this.conn.sendFrame(next.frame);
      }
    } catch {
      this.end(); // the connection is gone
    } finally {
      this.pumping = false;
    }
  }

  /** Ends the subscription and tells the client why, as the stream's last frame. */
  endWith(reason: EventsEndedReason, msg: string): void {
    if (this.ended) return;
    const lastId = this.handed;
    this.end();
    this.conn.sendFrame(encodeEndedFrame(reason, lastId, msg)).catch(() => undefined);
  }

  private fellBehind(): void {
    this.conn.log.warn({ lastId: this.handed, limit: this.queueLimit }, 'subscriber fell behind, event stream ended');
    this.endWith('fell_behind', `more than ${this.queueLimit} events waited for this connection; subscribe again with since ${this.handed} to catch up`);
  }
}
