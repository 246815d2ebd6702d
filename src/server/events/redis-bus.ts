/**
 * Announcements between nodes over Redis pub/sub (ioredis). The announcing node wakes its own
 * hub at once and publishes the id for the others. While Redis is away the node keeps
 * serving; ioredis reconnects with backoff, and on every (re)connect the hub is woken to catch
 * up from the table, since pub/sub drops what was published while a subscriber was gone.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { EventBus } from './event-bus.js';

export const EVENTS_CHANNEL = 'cinebox:events';
/** A node that starts while Redis is down says so once, after this long. */
const STARTUP_GRACE_MS = 3000;

export class RedisBus implements EventBus {
  /** Marks this node's own messages, which it has already acted on. */
  private readonly nodeId = randomBytes(6).toString('hex');
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly listeners: (() => void)[] = [];
  private up = false;
  private closing = false;

  constructor(
    url: string,
    private readonly log: Logger,
  ) {
    const options = {
      // A publish while Redis is away fails at once instead of queueing: the hint is lost,
      // the others catch up from the table when they reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 5000),
    };
    this.publisher = new Redis(url, options);
    this.subscriber = new Redis(url, { ...options, enableOfflineQueue: true, autoResubscribe: true });
    this.publisher.on('error', () => undefined); // reported once per outage by the subscriber's events
    this.subscriber.on('error', (error: Error) => {
      if (this.up) return;
      this.log.debug({ err: error.message }, 'redis: not reachable');
    });
    this.subscriber.on('ready', () => {
      this.up = true;
      this.log.info({ redis: redactRedisUrl(url) }, 'redis: connected, events fan out across nodes');
      this.wake();
    });
    this.subscriber.on('close', () => {
      if (!this.up || this.closing) return;
      this.up = false;
      this.log.warn({ redis: redactRedisUrl(url) }, 'redis: connection lost; serving on, reconnecting, polling the event table meanwhile');
    });
    this.subscriber.on('message', (_channel: string, message: string) => {
      if (!message.startsWith(`${this.nodeId}:`)) this.wake();
    });
    const startup = setTimeout(() => {
      if (!this.up && !this.closing) this.log.warn({ redis: redactRedisUrl(url) }, 'redis: not reachable yet; serving on, retrying, polling the event table meanwhile');
    }, STARTUP_GRACE_MS);
    startup.unref();
    this.subscriber.subscribe(EVENTS_CHANNEL).catch((error: Error) => this.log.debug({ err: error.message }, 'redis: subscribe failed'));
  }

  get connected(): boolean {
    return this.up;
  }

  announce(id: number): void {
    this.wake();
    this.publisher.publish(EVENTS_CHANNEL, `${this.nodeId}:${id}`).catch((error: Error) => {
      this.log.debug({ err: error.message, event: id }, 'redis: publish failed (other nodes catch up from the table)');
    });
  }

  async ping(): Promise<void> {
    // No offline queue: while Redis is away this fails at once instead of waiting for it.
    await this.publisher.ping();
  }

  onWake(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private wake(): void {
    for (const listener of this.listeners) listener();
  }
}

export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@');
}
