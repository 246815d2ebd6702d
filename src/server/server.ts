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
import { ensureSchema, openDatabase } from '../orm/index.js';
import { allModels } from '../orm/models/index.js';
import { encodeFrame } from '../protocol/frame.js';
import { NONCE_BYTES, PROOF_BYTES, proofMatches, readExactly } from '../protocol/handshake.js';
import type { ServerConfig } from './config.js';
import { Connection, type ConnectionLimits } from './connection.js';
import { ConnectionGate, type Refusal } from './connection-gate.js';
import type { App } from './context.js';
import { createDispatcher } from './dispatcher.js';
import { HashQueue } from './auth/hash-queue.js';
import { sweepLoginFailures } from './auth/login-guard.js';
import { createLogger } from './logger.js';
import { MediaStore } from './media-store.js';
import { startUploadJanitor } from './uploads/resumable.js';

export interface RunningServer {
  app: App;
  server: Server;
  host: string;
  port: number;
  connections: Set<Connection>;
  /** Sockets held now, counted from their first moment (in a TLS or HMAC handshake too). */
  openSockets(): number;
  /** Stops accepting, lets running requests finish up to the grace period, then closes everything. */
  shutdown(graceSeconds?: number): Promise<void>;
  /** Immediate close (tests). */
  close(): Promise<void>;
}

export async function startServer(config: ServerConfig, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const db = await openDatabase(config.db);
  await ensureSchema(db, allModels);
  const media = new MediaStore(config.mediaDir);
  await media.init();
  const app: App = { config, db, media, log, hashes: passwordQueue(config) };
  const janitors = [startUploadJanitor(app), every(LOGIN_SWEEP_MS, () => sweepLoginFailures(app), (error) => log.warn({ err: error.message }, 'login failure sweep failed'))];
  const dispatch = createDispatcher(app);
  const connections = new Set<Connection>();
  const gate = new ConnectionGate(config);
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

  const refuse = (socket: Socket, refusal: Refusal) => {
    log.warn({ addr: socket.remoteAddress, code: refusal.code }, 'connection refused');
    socket.on('error', () => undefined);
    socket.end(encodeFrame({ flag: false, ...refusal }));
    setTimeout(() => socket.destroy(), 1000).unref();
  };

  /** Every TCP socket, from its first moment: counted, or refused (a frame in plain TCP; closed under TLS, which has no frame yet). */
  const onTcpConnection = (raw: Socket) => {
    const refusal = gate.admit(raw);
    if (!refusal) return tls ? undefined : void onSocket(raw);
    if (!tls) return refuse(raw, refusal);
    log.warn({ addr: raw.remoteAddress, code: refusal.code }, 'connection refused');
    raw.on('error', () => undefined);
    raw.destroy();
  };

  /** A counted socket, past TLS if any: the HMAC handshake (with its deadline), then a Connection. */
  const onSocket = async (socket: Socket) => {
    // Admitted before a shutdown began, its TLS handshake may end after it.
    const late = gate.closedRefusal;
    if (late) return refuse(socket, late);
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

  // TLS: `handshakeTimeout` closes a socket that has not finished its handshake in time (Node's default is 120 s).
  const server = tls
    ? createTlsServer({ cert: readFileSync(config.tlsCert!), key: readFileSync(config.tlsKey!), handshakeTimeout: config.handshakeSeconds * 1000 }, (s) => void onSocket(s))
    : createTcpServer();
  server.on('connection', onTcpConnection);
  server.on('error', (error) => log.error({ err: error }, 'server error'));
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
  const address = server.address() as AddressInfo;
  log.info(
    { host: address.address, port: address.port, db: redactUrl(config.db), media: media.root, tls: Boolean(config.tlsCert), handshake: Boolean(config.clientSecret) },
    'cinebox listening',
  );

  const stopListening = () => {
    gate.close();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  /** Both ways of stopping end here, once. */
  let finished: Promise<void> | undefined;
  const finish = (stopped: Promise<void>) =>
    (finished ??= stopped.then(async () => {
      for (const janitor of janitors) janitor.stop();
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
 * Two hashes at a time: each takes 128*N*r bytes (16 MiB at the default cost) on a thread
 * pool thread; two give all the hashing two cores can do, and a login flood still leaves
 * half of the four pool threads to file reads and writes (downloads, uploads). It does not
 * bound RSS: glibc keeps the freed 16 MiB in each pool thread's arena (measured: +68 MB
 * after 100 logins, limit 1 to 4 alike); only MALLOC_ARENA_MAX=1 or MALLOC_MMAP_THRESHOLD_
 * set before start returns it.
 */
function passwordQueue(config: ServerConfig): HashQueue {
  return new HashQueue({ concurrency: 2, maxQueued: config.hashQueueMax, maxQueuedPerAddress: config.hashQueuePerAddress });
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
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
