/** What every handler gets: the node's shared services, the connection, and the request body. */
import type { Logger } from 'pino';
import type { Database } from '../orm/index.js';
import type { User } from '../orm/models/index.js';
import type { ServerConfig } from './config.js';
import type { GuessWaits } from './auth/guess-waits.js';
import type { HashQueue } from './auth/hash-queue.js';
import type { Connection } from './connection.js';
import type { IncomingBody } from './incoming-body.js';
import type { EventHub } from './events/event-hub.js';
import type { FactsRecorder } from './media/facts.js';
import type { ListCache } from './media/list-cache.js';
import type { MemoryCatalog } from './media/memory-catalog.js';
import type { MediaStore } from './media-store.js';
import type { NodeIdentity } from './nodes/identity.js';
import type { NodeMetrics } from './metrics/node-metrics.js';

export interface App {
  config: ServerConfig;
  /** This node's name (in every log line) and run (in the rows it holds). */
  node: NodeIdentity;
  db: Database;
  media: MediaStore;
  log: Logger;
  /** Every password hash a request needs runs through it (hash-queue.ts). */
  hashes: HashQueue;
  /** Logins waiting for the verdicts of their pair's guesses in flight (guess-waits.ts). */
  guessWaits: GuessWaits;
  /** Live events: subscriptions on this node, and the announcement of new events. */
  events: EventHub;
  /** Probes published videos with ffprobe and stores their facts. */
  facts: FactsRecorder;
  /** The plain video list in memory; every change to the listed videos invalidates it. */
  catalog: ListCache;
  /** Every live video in memory, for pages and searches; current while the catalog's version holds. */
  videos: MemoryCatalog;
  /** This node's Prometheus metrics (its own registry). */
  metrics: NodeMetrics;
}

export interface HandlerContext {
  app: App;
  conn: Connection;
  body?: IncomingBody;
}

/** The context after the login guard: the session's user, freshly read from the database. */
export interface UserContext extends HandlerContext {
  user: User;
}
