/**
 * The cinebox server: opens the database (creating missing tables), the media store, and
 * a TCP listener that hands each socket to a Connection. Per-node memory is only the live
 * connections and their sessions; everything else is in the database or the media store,
 * so several nodes can share one MySQL and one media directory.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import type { Logger } from 'pino';
import { ensureSchema, openDatabase } from '../orm/index.js';
import { allModels } from '../orm/models/index.js';
import type { ServerConfig } from './config.js';
import { Connection } from './connection.js';
import type { App } from './context.js';
import { createDispatcher } from './dispatcher.js';
import { createLogger } from './logger.js';
import { MediaStore } from './media-store.js';

export interface RunningServer {
  app: App;
  server: Server;
  host: string;
  port: number;
  connections: Set<Connection>;
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const db = await openDatabase(config.db);
  await ensureSchema(db, allModels);
  const media = new MediaStore(config.mediaDir);
  await media.init();
  const app: App = { config, db, media, log };
  const dispatch = createDispatcher(app);
  const connections = new Set<Connection>();

  const server = createServer((socket) => {
    const conn = new Connection(socket, log, config.maxHeaderBytes);
    connections.add(conn);
    conn.log.debug('connected');
    socket.once('close', () => {
      connections.delete(conn);
      conn.log.debug('disconnected');
    });
    void conn.serve(dispatch);
  });
  server.on('error', (error) => log.error({ err: error }, 'server error'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  log.info({ host: address.address, port: address.port, db: redactUrl(config.db), media: media.root }, 'cinebox listening');

  return {
    app,
    server,
    host: address.address,
    port: address.port,
    connections,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const conn of connections) conn.socket.destroy();
      await closed;
      await db.close();
    },
  };
}

/** Keeps passwords in database URLs out of the logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
