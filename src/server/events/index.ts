/** Builds a node's live events: the bus (Redis when configured, else in-process), the hub, retention. */
import type { Logger } from 'pino';
import type { Database } from '../../orm/index.js';
import type { ServerConfig } from '../config.js';
import { LocalBus } from './event-bus.js';
import { EventHub } from './event-hub.js';
import { ensureEventSequence } from './event-store.js';
import { RedisBus } from './redis-bus.js';
import { startEventRetention } from './retention.js';

export async function startEvents(config: ServerConfig, db: Database, log: Logger): Promise<{ hub: EventHub; stop(): Promise<void> }> {
  await ensureEventSequence(db);
  const bus = config.redisUrl ? new RedisBus(config.redisUrl, log) : new LocalBus();
  const hub = new EventHub(db, bus, log, { queueLimit: config.subscriberQueueLimit });
  await hub.start();
  const retention = startEventRetention(db, log, config.eventRetentionSeconds);
  return {
    hub,
    async stop() {
      retention.stop();
      await hub.stop();
    },
  };
}
