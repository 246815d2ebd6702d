/** Subscribers for the event suites: a real connection that collects every frame it is sent unasked. */
import type { ClientConnection } from '../../src/client/connection.js';
import type { Reply } from '../../src/protocol/messages.js';

export interface Collected {
  frames: Record<string, unknown>[];
  /** Only the `event` frames. */
  events(): Record<string, unknown>[];
  ids(): number[];
  /** Resolves once `count` event frames arrived (rejects after `timeoutMs`). */
  waitForEvents(count: number, timeoutMs?: number): Promise<Record<string, unknown>[]>;
}

export function collect(conn: ClientConnection): Collected {
  const frames: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  conn.onUnasked((frame) => {
    frames.push(frame);
    for (const wake of waiters.splice(0)) wake();
  });
  const events = () => frames.filter((f) => f.type === 'event');
  return {
    frames,
    events,
    ids: () => events().map((f) => Number(f.id)),
    async waitForEvents(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events().length < count) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`waited ${timeoutMs} ms for ${count} events, got ${events().length}: ${JSON.stringify(frames)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => (clearTimeout(timer), resolve()));
        });
      }
      return events();
    },
  };
}

/** Subscribes `conn` (logged in) and collects what follows. */
export async function subscribe(conn: ClientConnection, fields: { topics?: string[]; since?: number } = {}): Promise<Collected & { reply: Reply }> {
  const collected = collect(conn);
  const reply = await conn.call('subscribe', fields as never);
  return { ...collected, reply };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
