/**
 * The cinebox server: opens the database (creating missing tables), the media store, and
 * a TCP (or TLS) listener that hands each socket to a Connection. Per-node memory is only
 * the live connections, their sessions and copies of the video list checked against the
 * database on every request; everything else is in the database or the media store, so
 * several nodes can share one MySQL and one media directory.
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
import { readProxyHeader } from './proxy-protocol.js';
import type { ServerConfig } from './config.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { ConnectionGate, type Refusal } from './connection-gate.js';
import type { App } from './context.js';
import { createDispatcher } from './dispatcher.js';
import { GuessWaits } from './auth/guess-waits.js';
import { HashQueue } from './auth/hash-queue.js';
import { sweepLoginFailures } from './auth/login-guard.js';
import { endSessionsOfDeadNodes, endSessionsOfThisNode } from './policies/live-sessions.js';
import { startEvents } from './events/index.js';
import { createLogger } from './logger.js';
import { MediaStore } from './media-store.js';
import { ListCache, catalogVersion } from './media/list-cache.js';
import { MemoryCatalog } from './media/memory-catalog.js';
import { startMediaFacts } from './media/setup.js';
import { checkStore } from './fsck/check-store.js';
import { newScrubStats, startScrubber, type ScrubStats } from './fsck/scrub.js';
import { startUploadJanitor } from './uploads/janitor.js';
import { startMetricsServer, type MetricsServer } from './metrics/http.js';
import { NodeMetrics } from './metrics/node-metrics.js';
import { Heartbeat } from './nodes/heartbeat.js';
import { nodeIdentityFor } from './nodes/identity.js';

export interface RunningServer {
  app: App;
  server: Server;
  host: string;
  port: number;
  connections: Set<Connection>;
  /** Sockets held now, counted from their first moment (in a TLS or HMAC handshake too). */
  openSockets(): number;
  /** Of those, the ones counted under `address` (a balancer's until their PROXY line arrives). */
  openSocketsFrom(address: string): number;
  /** What this node's scheduled scrub found (counters for a metric). */
  scrub: ScrubStats;
  /** The port of `/health` and `/metrics`, when `--metrics-port` is set. */
  metricsPort?: number;
  /** True from the moment a shutdown began (`/health` says draining). */
  readonly draining: boolean;
  /** Stops accepting, lets running requests finish up to the grace period, then closes everything. */
  shutdown(graceSeconds?: number): Promise<void>;
  /** Immediate close (tests). */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, rootLog: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const node = nodeIdentityFor(config);
  // Every line of this node names it, so the logs of a cluster can be read together.
  const log = rootLog.child({ node: node.name });
  const db = await openDatabase(config.db, { durable: config.durable });
  await ensureSchema(db, allModels);
  // Before the start check: a previous run of this node that was killed is then another, dead run.
  const heartbeat = await Heartbeat.start(db, node, config.nodeBeatSeconds, log).catch(async (error: unknown) => {
    await db.close();
    throw error;
  });
  const media = new MediaStore(config.mediaDir, { durable: config.durable });
  await media.init();
  const events = await startEvents(config, db, log);
  const facts = await startMediaFacts(db, config, log);
  const gate = new ConnectionGate(config);
  const hashes = HashQueue.forConfig(config);
  const metrics = new NodeMetrics(node, {
    openConnections: () => gate.open,
    bytesReceived: () => gate.bytesRead,
    bytesSent: () => gate.bytesWritten,
    hashQueueLength: () => hashes.queued,
    eventSubscribers: () => events.hub.subscriberCount,
  });
  const catalog = new ListCache(catalogVersion(db));
  const videos = new MemoryCatalog(db, () => catalog.tag(), config.memoryCatalogVideos, log);
  const app: App = { config, node, db, media, log, facts, events: events.hub, hashes, guessWaits: GuessWaits.forConfig(config), catalog, videos, metrics };
  if (config.durable) for (const warning of await durabilityWarnings(db)) log.warn(warning);
  else log.warn('--durable false: uploads are acknowledged without fsync; a power cut may lose them');
  await quickCheck(app);
  videos.refresh(); // read in the background: until it is in place, pages read the database
  const scrub = newScrubStats();
  const janitors = [
    startUploadJanitor(app),
    startScrubber(app, scrub),
    every(LOGIN_SWEEP_MS, () => sweepLoginFailures(app), (error) => log.warn({ err: error.message }, 'login failure sweep failed')),
    // Ten beats: a dead node's sessions go a few beats after it is known to be dead.
    every(Math.max(1000, config.nodeBeatSeconds * 10_000), () => endSessionsOfDeadNodes(app), (error) => log.warn({ err: error.message }, 'dead session sweep failed')),
  ];
  const dispatch = createDispatcher(app);
  const connections = new Set<Connection>();
  const limits: ConnectionLimits = {
    maxHeaderBytes: config.maxHeaderBytes,
    headerDeadlineMs: config.headerDeadlineSeconds * 1000,
    idleTimeoutMs: config.idleTimeoutSeconds * 1000,
    maxUploadBytes: config.maxUploadBytes,
    requestsPerSecond: config.requestsPerSecond,
    minTransferRate: config.minTransferRate,
    transferWindowMs: config.transferWindowSeconds * 1000,
  };
  const tls = Boolean(config.tlsCert && config.tlsKey);
  // The PROXY line comes before TLS, and Node's TLS server starts reading at once: TLS ends at the balancer.
  if (tls && config.proxyProtocol !== 'off') throw new Error('--proxy-protocol and --tls-cert do not go together: terminate TLS at the balancer');

  const refuse = (socket: Socket, refusal: Refusal, address = socket.remoteAddress) => {
    log.warn({ addr: address, code: refusal.code }, 'connection refused');
    socket.on('error', () => undefined);
    socket.end(encodeFrame({ flag: false, ...refusal }));
    setTimeout(() => socket.destroy(), 1000).unref();
  };

  /** Every TCP socket, from its first moment: counted, or refused (a frame in plain TCP; closed under TLS, which has no frame yet). */
  const onTcpConnection = (raw: Socket) => {
    const refusal = gate.admit(raw);
    if (!refusal && config.proxyProtocol === 'v1') return void introduce(raw);
    if (!refusal) return tls ? undefined : void onSocket(raw);
    if (!tls) return refuse(raw, refusal);
    log.warn({ addr: raw.remoteAddress, code: refusal.code }, 'connection refused');
    raw.on('error', () => undefined);
    raw.destroy();
  };

  /**
   * Behind a balancer: the PROXY line first (within the handshake timeout), then the socket
   * counts under the client it names; a bad, overlong or missing line closes it without a frame.
   */
  const introduce = async (raw: Socket) => {
    raw.on('error', () => undefined);
    let peer: { address: string; port?: number };
    try {
      const line = await readProxyHeader(raw, config.handshakeSeconds * 1000);
      peer = { address: line.address ?? raw.remoteAddress ?? 'unknown', port: line.port ?? raw.remotePort };
      if (line.rest.length > 0) raw.unshift(line.rest);
    } catch (error) {
      log.warn({ addr: raw.remoteAddress, err: (error as Error).message }, 'no valid PROXY line, closing');
      raw.destroy();
      return;
    }
    const refusal = gate.move(raw, peer.address);
    if (refusal) return refuse(raw, refusal, peer.address);
    return onSocket(raw, peer);
  };

  /** A counted socket, past TLS if any: the HMAC handshake (with its deadline), then a Connection. */
  const onSocket = async (socket: Socket, peer?: { address: string; port?: number }) => {
    // Admitted before a shutdown began, its TLS handshake may end after it.
    const late = gate.closedRefusal;
    if (late) return refuse(socket, late, peer?.address);
    const initial = config.clientSecret ? await verifyClient(socket, config, log, peer?.address) : undefined;
    if (initial === null) return;
    const conn = new Connection(socket, log, limits, initial, peer);
    connections.add(conn);
    conn.log.info('connected');
    socket.once('close', () => {
      connections.delete(conn);
      conn.log.info('disconnected');
    });
    void conn.serve(dispatch);
  };

  // TLS: `handshakeTimeout` closes a socket that has not finished its handshake in time (Node's default is 120 s).
  const server = tls
    ? createTlsServer({ cert: readFileSync(config.tlsCert!), key: readFileSync(config.tlsKey!), handshakeTimeout: config.handshakeSeconds * 1000 }, (s) => void onSocket(s))
    : createTcpServer();
  server.on('connection', onTcpConnection);
  // With a listener, Node leaves the socket open (a timed-out handshake too): close it here.
  server.on('tlsClientError', (error: Error, socket: Socket) => {
    log.warn({ addr: socket.remoteAddress, err: error.message }, 'TLS handshake failed');
    socket.destroy();
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
  let draining = false;
  let metricsServer: MetricsServer | undefined;
  if (config.metricsPort !== undefined) {
    metricsServer = await startMetricsServer(app, () => draining).catch(async (error: unknown) => {
      await new Promise((resolve) => server.close(resolve));
      throw error;
    });
  }
  log.info(
    { host: address.address, port: address.port, db: redactUrl(config.db), media: media.root, tls: Boolean(config.tlsCert), handshake: Boolean(config.clientSecret) },
    'cinebox listening',
  );

  const stopListening = () => {
    draining = true;
    gate.close();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  /** Both ways of stopping end here, once. */
  let finished: Promise<void> | undefined;
  const finish = (stopped: Promise<void>) =>
    (finished ??= stopped.then(async () => {
      for (const janitor of janitors) janitor.stop();
      await metricsServer?.close();
      await endSessionsOfThisNode(app);
      // Last of this node's rows: whatever it still held is free at once, not after a lease.
      await heartbeat.stop();
      await facts.idle(); // a running probe ends within its timeout
      await videos.close();
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
    openSockets: () => gate.open,
    openSocketsFrom: (address) => gate.heldBy(address),
    scrub,
    metricsPort: metricsServer?.port,
    get draining() {
      return draining;
    },
    async shutdown(graceSeconds = config.shutdownGraceSeconds) {
      if (finished) return finished;
      const stopped = stopListening();
      for (const conn of connections) conn.drain();
      const deadline = Date.now() + graceSeconds * 1000;
      while (connections.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      if (connections.size > 0) log.warn({ connections: connections.size }, 'grace period over, closing the rest');
      for (const conn of connections) conn.socket.destroy();
      gate.destroyAll();
      return finish(stopped);
    },
    async close() {
      if (finished) return finished;
      const stopped = stopListening();
      for (const conn of connections) conn.socket.destroy();
      gate.destroyAll();
      return finish(stopped);
    },
  };
}

/** Login counters are swept this often (they stop counting after 15 quiet minutes). */
const LOGIN_SWEEP_MS = 5 * 60 * 1000;

/** Runs `task` now and then every `ms`; the timer never keeps the process alive. */
function every(ms: number, task: () => Promise<unknown>, onError: (error: Error) => void): { stop(): void } {
  const run = () => void task().catch(onError);
  run();
  const timer = setInterval(run, ms);
  timer.unref();
  return { stop: () => clearInterval(timer) };
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
async function verifyClient(socket: Socket, config: ServerConfig, log: Logger, address = socket.remoteAddress): Promise<Buffer | null> {
  const nonce = randomBytes(NONCE_BYTES);
  socket.on('error', () => undefined);
  socket.write(nonce);
  try {
    const { bytes, rest } = await readExactly(socket, PROOF_BYTES, config.handshakeSeconds * 1000);
    if (proofMatches(config.clientSecret!, nonce, bytes)) return rest;
    log.warn({ addr: address }, 'handshake failed: wrong proof');
  } catch (error) {
    log.warn({ addr: address, err: (error as Error).message }, 'handshake failed');
  }
  socket.destroy();
  return null;
}

/** Keeps passwords in database URLs out of the logs. */
function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
