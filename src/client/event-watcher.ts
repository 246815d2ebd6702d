/**
 * Follows the live events of a server for as long as it is asked to: connect, log in,
 * subscribe from the last id seen; when the connection drops (or the server says this client
 * fell behind) it reconnects with backoff and resubscribes with `since`, so nothing is missed
 * and nothing is shown twice. A refusal (a wrong password) ends it with that error.
 */
import type { EventFrame, EventTopic } from '../protocol/messages.js';
import type { CineboxClient, SubscriptionFrame } from './cinebox-client.js';
import { ConnectionError, ServerError } from './connection.js';

export interface WatchOptions {
  /** A connected, logged-in client (called again after every drop). */
  open(): Promise<CineboxClient>;
  topics?: EventTopic[];
  /** Start after this event id (default: from now). */
  since?: number;
  onEvent(event: EventFrame): void;
  /** What the watcher is doing: connection lost, reconnecting, caught up. */
  onStatus(message: string): void;
  /** Stops the watch (resolves `watchEvents`). */
  signal: AbortSignal;
  /** First retry delay; doubles up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** A round trip this often keeps the connection open and finds a dead one. */
  pingMs?: number;
}

type Outcome = { kind: 'closed' } | { kind: 'fell_behind'; lastId: number } | { kind: 'locked'; msg: string } | { kind: 'stopped' };

export async function watchEvents(options: WatchOptions): Promise<void> {
  const { signal } = options;
  const backoffMs = options.backoffMs ?? 500;
  const maxBackoffMs = options.maxBackoffMs ?? 30_000;
  let since = options.since;
  let failures = 0;
  let dropped = false;
  while (!signal.aborted) {
    let client: CineboxClient | undefined;
    try {
      client = await options.open();
      const outcome = await followOne(client, options, since, (id) => (since = id), () => {
        if (dropped) options.onStatus(`reconnected to ${client!.where}${since === undefined ? '' : `, from event #${since}`}`);
        failures = 0;
        dropped = false;
      });
      dropped = true;
      if (outcome.kind === 'stopped') return;
      // Subscribing again would be refused until an admin unlocks the account: say so and stop.
      if (outcome.kind === 'locked') throw new ServerError(outcome.msg, 'ACCOUNT_LOCKED');
      if (outcome.kind === 'fell_behind') {
        options.onStatus(`fell behind the server at event #${outcome.lastId}; catching up`);
        continue;
      }
      options.onStatus(`connection lost; reconnecting${since === undefined ? '' : ` from event #${since}`}`);
    } catch (error) {
      if (error instanceof ServerError && error.code === 'EVENTS_EXPIRED') {
        const oldest = Number(error.reply?.oldest_id);
        options.onStatus(`events after #${since} are no longer kept by the server; going on from #${oldest}, the oldest kept`);
        since = oldest - 1;
        continue;
      }
      if (error instanceof ServerError && error.code === 'UNKNOWN_TYPE') throw new ServerError('this server does not send live events (it is older than cinebox 0.2)', error.code);
      if (!(error instanceof ConnectionError)) throw error;
      dropped = true;
      const delay = Math.min(backoffMs * 2 ** failures, maxBackoffMs);
      failures++;
      options.onStatus(`${error.message}; retrying in ${(delay / 1000).toFixed(1)} s`);
      await pause(delay * (0.75 + Math.random() / 2), signal);
    } finally {
      client?.close();
    }
  }
}

/** One connection's subscription, until it closes, falls behind or the watch is stopped. */
async function followOne(
  client: CineboxClient,
  options: WatchOptions,
  since: number | undefined,
  seen: (id: number) => void,
  subscribed: () => void,
): Promise<Outcome> {
  let settle!: (outcome: Outcome) => void;
  const done = new Promise<Outcome>((resolve) => (settle = resolve));
  const onFrame = (frame: SubscriptionFrame) => {
    if (frame.type === 'event') {
      seen(frame.id);
      options.onEvent(frame);
    } else {
      seen(frame.last_id);
      settle(frame.reason === 'account_locked' ? { kind: 'locked', msg: frame.msg } : { kind: 'fell_behind', lastId: frame.last_id });
    }
  };
  const { lastId } = await client.subscribe({ topics: options.topics, since }, onFrame);
  if (since === undefined) seen(lastId);
  subscribed();
  const stop = () => settle({ kind: 'stopped' });
  options.signal.addEventListener('abort', stop, { once: true });
  void client.closed.then(() => settle({ kind: 'closed' }));
  // A ping still unanswered at the next one means a dead link: closing shows it as 'closed'.
  let unanswered = false;
  const pinger = setInterval(() => {
    if (unanswered) return client.close();
    unanswered = true;
    client.ping().then(() => (unanswered = false), () => client.close());
  }, options.pingMs ?? 60_000);
  try {
    return await done;
  } finally {
    clearInterval(pinger);
    options.signal.removeEventListener('abort', stop);
  }
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
