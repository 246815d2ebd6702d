/** Deletes events past the retention window, at start and then every tenth of the window (at most hourly). */
import type { Database } from '../../orm/index.js';
import type { Logger } from 'pino';
import { pruneEvents } from './event-store.js';

export function startEventRetention(db: Database, log: Logger, retentionSeconds: number): { stop(): void } {
  const sweep = async () => {
    try {
      const deleted = await pruneEvents(db, new Date(Date.now() - retentionSeconds * 1000));
      if (deleted > 0) log.info({ deleted, retentionSeconds }, 'old events deleted');
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'event retention sweep failed');
    }
  };
  void sweep();
  const timer = setInterval(sweep, Math.max(Math.min(retentionSeconds * 100, 3600 * 1000), 1000));
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
