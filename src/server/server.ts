/**
 * The cinebox server: opens the database (creating missing tables), the media store, and
 * a TCP (or TLS) listener that hands each socket to a Connection. Per-node memory is only
 * the live connections and their sessions; everything else is in the database or the
 * media store, so several nodes can share one MySQL and one media directory.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from 'pino';
import { durabilityWarnings, ensureSchema, openDatabase } from '../orm/index.js';
import { allModels } from '../orm/models/index.js';
import { encodeFrame } from '../protocol/frame.js';
import { NONCE_BYTES, PROOF_BYTES, proofMatches, readExactly } from '../protocol/handshake.js';
import type { ServerConfig } from './config.js';
import { Connection, type ConnectionLimits } from './connection.js';
import type { App } from './context.js';
import { createDispatcher } from './dispatcher.js';
import { startEvents } from './events/index.js';
import { createLogger } from './logger.js';
import { MediaStore } from './media-store.js';
import { ListCache, movieTableVersion } from './media/list-cache.js';
import { startMediaFacts } from './media/setup.js';
import { checkStore } from './fsck/check-store.js';
import { newScrubStats, startScrubber, type ScrubStats } from './fsck/scrub.js';
import { startUploadJanitor } from './uploads/janitor.js';
import { ERRORS } from '../protocol/error-codes.js';

export interface RunningServer {
  app: App;
  server: Server;
  host: string;
  port: number;
  connections: Set<Connection>;
  /** What this node's scheduled scrub found (counters for a metric). */
  scrub: ScrubStats;
  /** Stops accepting, lets running requests finish up to the grace period, then closes everything. */
  shutdown(graceSeconds?: number): Promise<void>;
  /** Immediate close (tests). */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const db = await openDatabase(config.db, { durable: config.durable });
  await ensureSchema(db, allModels);
  const media = new MediaStore(config.mediaDir, { durable: config.durable });
  await media.init();
  const events = await startEvents(config, db, log);
  const facts = await startMediaFacts(db, config, log);
  const app: App = { config, db, media, log, facts, events: events.hub, catalog: new ListCache(movieTableVersion(db)) };
  if (config.durable) for (const warning of await durabilityWarnings(db)) log.warn(warning);
  else log.warn('--durable false: uploads are acknowledged without fsync; a power cut may lose them');
  await quickCheck(app);
  const janitor = startUploadJanitor(app);
  const scrub = newScrubStats();
  const scrubber = startScrubber(app, scrub);
  const dispatch = createDispatcher(app);
  const connections = new Set<Connection>();
  const perAddress = new Map<string, number>();
  const limits: ConnectionLimits = {
    maxHeaderBytes: config.maxHeaderBytes,
    headerDeadlineMs: config.headerDeadlineSeconds * 1000,
    idleTimeoutMs: config.idleTimeoutSeconds * 1000,
    maxUploadBytes: config.maxUploadBytes,
    requestsPerSecond: config.requestsPerSecond,
    minTransferRate: config.minTransferRate,
    transferWindowMs: config.transferWindowSeconds * 1000,
  };
  let accepting = true;

  const onSocket = async (socket: Socket) => {
    const address = socket.remoteAddress ?? 'unknown';
    const refusal = !accepting
      ? { code: ERRORS.SHUTTING_DOWN.code, msg: 'the server is shutting down' }
      : connections.size >= config.maxConnections
        ? { code: ERRORS.BUSY.code, msg: 'the server has too many connections, try again later' }
        : (perAddress.get(address) ?? 0) >= config.maxConnectionsPerAddress
          ? { code: ERRORS.BUSY.code, msg: 'too many connections from your address' }
          : undefined;
    if (refusal) {
      log.warn({ addr: address, code: refusal.code }, 'connection refused');
      socket.on('error', () => undefined);
      socket.end(encodeFrame({ flag: false, ...refusal }));
      setTimeout(() => socket.destroy(), 1000).unref();
      return;
    }
    perAddress.set(address, (perAddress.get(address) ?? 0) + 1);
    socket.once('close', () => {
      const left = (perAddress.get(address) ?? 1) - 1;
      if (left > 0) perAddress.set(address, left);
      else perAddress.delete(address);
    });
    const initial = config.clientSecret ? await verifyClient(socket, config, log) : undefined;
    if (initial === null) return;
    const conn = new Connection(socket, log, limits, initial);
    connections.add(conn);
    conn.log.info('connected');
    socket.once('close', () => {
      connections.delete(conn);
      conn.log.info('disconnected');
    });
    void conn.serve(dispatch);
  };

  const server = config.tlsCert && config.tlsKey
    ? createTlsServer({ cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) }, (s) => void onSocket(s))
    : createTcpServer((s) => void onSocket(s));
  server.on('tlsClientError', (error: Error, socket: Socket) => {
    log.warn({ addr: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: config.port, host: config.host, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Only now: a failure to listen (the port is taken) is the caller's to say, in one line, not a logged stack.
  server.on('error', (error) => log.error({ err: error }, 'server error'));
  const address = server.address() as AddressInfo;
  log.info(
    { host: address.address, port: address.port, db: redactUrl(config.db), media: media.root, tls: Boolean(config.tlsCert), handshake: Boolean(config.clientSecret) },
    'cinebox listening',
  );

  const stopListening = () => {
    accepting = false;
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  /** Both ways of stopping end here, once. */
  let finished: Promise<void> | undefined;
  const finish = (stopped: Promise<void>) =>
    (finished ??= stopped.then(async () => {
      janitor.stop();
      scrubber.stop();
      await facts.idle(); // a running probe ends within its timeout
      await events.stop();
      await db.close();
      log.info('stopped');
    }));

  return {
    app,
    server,
    host: address.address,
    port: address.port,
    connections,
    scrub,
    async shutdown(graceSeconds = config.shutdownGraceSeconds) {
      if (finished) return finished;
      const stopped = stopListening();
      for (const conn of connections) conn.drain();
      const deadline = Date.now() + graceSeconds * 1000;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (connections.size > 0) log.warn({ connections: connections.size }, 'grace period over, closing the rest');
      for (const conn of connections) conn.socket.destroy();
      return finish(stopped);
    },
    async close() {
      if (finished) return finished;
      const stopped = stopListening();
      for (const conn of connections) conn.socket.destroy();
      return finish(stopped);
    },
  };
}

/**
 * The quick fsck at start (sizes, no hashes): repairs what a crash leaves (a publish cut
 * between rename and commit, partials and rows out of step) and logs anything else for
 * the operator (`cinebox fsck --repair`). A publish whose holder still looks live (this
 * node's previous run, dead for less than a lease) is looked at again once the lease is over.
 */
async function quickCheck(app: App, pass = 1): Promise<void> {
  const report = await checkStore(app, { repair: 'crash' });
  const fields = { pass, videos: report.videosChecked, problems: report.problems.length, remaining: report.remaining, inFlight: report.inFlight, seconds: report.seconds };
  if (report.remaining > 0) app.log.error(fields, 'start check: problems remain, run `cinebox fsck` (--repair to fix them)');
  else app.log.info(fields, 'start check done');
  if (report.inFlight > 0 && pass < 3) {
    const again = () => quickCheck(app, pass + 1).catch((error: Error) => app.log.warn({ err: error.message }, 'start check failed'));
    setTimeout(again, app.config.uploadLeaseSeconds * 1000 + 100).unref();
  }
}

/**
 * The client handshake: send a nonce, expect HMAC-SHA256(secret, nonce) back in time.
 * Resolves to the bytes that followed the proof (the first frames), or null when refused.
 */
async function verifyClient(socket: Socket, config: ServerConfig, log: Logger): Promise<Buffer | null> {
  const nonce = randomBytes(NONCE_BYTES);
  socket.on('error', () => undefined);
  socket.write(nonce);
  try {
    const { bytes, rest } = await readExactly(socket, PROOF_BYTES, config.handshakeSeconds * 1000);
    if (proofMatches(config.clientSecret!, nonce, bytes)) return rest;
    log.warn({ addr: socket.remoteAddress }, 'handshake failed: wrong proof');
  } catch (error) {
    log.warn({ addr: socket.remoteAddress, err: (error as Error).message }, 'handshake failed');
  }
  socket.destroy();
  return null;
}

/** Keeps passwords in database URLs out of the logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
