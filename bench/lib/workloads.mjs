/**
 * The measured operations. cinebox ones go through the BUILT client library (dist/), exactly
 * what the `cinebox` CLI uses; baseline ones are plain Node streams.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { ClientConnection } from '../../dist/client/connection.js';
import { downloadMovie } from '../../dist/client/download.js';
import { uploadFile } from '../../dist/client/upload.js';
import { wirePassword } from '../../dist/protocol/wire-password.js';
import { latencySummary, mapLimit, now } from './stats.mjs';

export const ADMIN_CODE = 'bench-admin-code';
const HOST = '127.0.0.1';

/** Every client socket the bench opened, so cleanup can close them. */
export const openClients = new Set();

export async function connectClient(port) {
  const conn = await ClientConnection.connect({ host: HOST, port, timeoutMs: 15_000 });
  openClients.add(conn);
  return conn;
}

export function closeClient(conn) {
  openClients.delete(conn);
  conn.close();
}

export async function register(port, name, password, userType) {
  const conn = await connectClient(port);
  try {
    const reply = await conn.request({
      type: 'register',
      name,
      password: wirePassword(password),
      user_type: userType,
      ...(userType === 'admin' ? { admin_code: ADMIN_CODE } : {}),
    });
    if (!reply.flag && reply.code !== 'CONFLICT') throw new Error(`register ${name}: ${reply.msg}`);
  } finally {
    closeClient(conn);
  }
}

export async function login(port, name, password, userType) {
  const conn = await connectClient(port);
  await conn.call('login', { name, password: wirePassword(password), user_type: userType });
  return conn;
}

/** `count` connections logged in as the same account (sessions are per connection). */
export function loginMany(port, count, name, password, userType) {
  return mapLimit(Array.from({ length: count }), 8, () => login(port, name, password, userType));
}

// ---------------------------------------------------------------- baseline pipe

/** Client -> server: stream `src` into the socket; done when the server closed after writing its file. */
export async function pipeUpload(port, src, hwm = 0) {
  const started = now();
  const socket = connect({ host: HOST, port });
  await once(socket, 'connect');
  const closed = once(socket, 'close');
  socket.resume();
  createReadStream(src, hwm > 0 ? { highWaterMark: hwm } : {}).pipe(socket);
  await closed;
  return now() - started;
}

/** Server -> client: read the socket into `dest` until the server's FIN and the file is written. */
export async function pipeDownload(port, dest, hwm = 0) {
  const started = now();
  const socket = connect({ host: HOST, port });
  await pipeline(socket, createWriteStream(dest, hwm > 0 ? { highWaterMark: hwm } : {}));
  const ms = now() - started;
  return { ms, bytes: (await stat(dest)).size };
}

/**
 * The hashed pipe, client -> server: the plain pipe plus the client's SHA-256 of what it sends
 * (the server child hashes what it receives, `--hash 1`), both on cinebox's off-thread sink.
 */
export async function hashedPipeUpload(port, src, hwm, size) {
  const { createSha256Sink } = await import('../../dist/transfer/sha256-sink.js');
  const started = now();
  const socket = connect({ host: HOST, port });
  await once(socket, 'connect');
  const closed = once(socket, 'close');
  socket.resume();
  const hasher = createSha256Sink({ expectedBytes: size });
  for await (const chunk of createReadStream(src, { highWaterMark: hwm })) {
    if (!hasher.write(chunk)) await hasher.drained();
    if (!socket.write(chunk)) await once(socket, 'drain');
  }
  await hasher.finish();
  socket.end();
  await closed;
  return now() - started;
}

/** The hashed pipe, server -> client: the plain pipe plus the client's SHA-256 of what it receives. */
export async function hashedPipeDownload(port, dest, hwm, size) {
  const { createSha256Sink } = await import('../../dist/transfer/sha256-sink.js');
  const started = now();
  const socket = connect({ host: HOST, port });
  const file = createWriteStream(dest, { highWaterMark: hwm });
  const hasher = createSha256Sink({ expectedBytes: size });
  for await (const chunk of socket) {
    file.write(chunk);
    if (!hasher.write(chunk)) await hasher.drained();
    // Checked after the hasher's wait: 'drain' may have fired during it.
    if (file.writableNeedDrain) await once(file, 'drain');
  }
  file.end();
  await once(file, 'finish');
  await hasher.finish();
  const ms = now() - started;
  return { ms, bytes: (await stat(dest)).size };
}

// ---------------------------------------------------------------- cinebox transfers

export async function cineboxUpload(adminConn, src, name) {
  const started = now();
  const reply = await uploadFile(adminConn, src, { isFree: true, name });
  return { ms: now() - started, movieId: Number(reply.movie_id) };
}

export async function cineboxDownload(viewerConn, movieId, outDir) {
  const started = now();
  const result = await downloadMovie(viewerConn, movieId, 'free', { outDir });
  return { ms: now() - started, bytes: result.size, path: result.path };
}

/** The same download with the bytes dropped by the client: no hash, no disk (the server's side alone). */
export async function rawDownload(viewerConn, movieId) {
  const started = now();
  const reply = await viewerConn.requestWithBody(
    { type: 'download_movie', session: viewerConn.session, movie_id: movieId, movie_type: 'free' },
    async () => undefined,
  );
  if (!reply.flag) throw new Error(`raw download: ${reply.msg}`);
  return { ms: now() - started, bytes: Number(reply.file_size) };
}

// ---------------------------------------------------------------- request rate (lean client)

/** One frame as cinebox and the echo baseline read it: 4-byte little-endian length + JSON. */
export function encodeFrame(message) {
  const json = Buffer.from(JSON.stringify(message));
  const frame = Buffer.allocUnsafe(4 + json.length);
  frame.writeInt32LE(json.length, 0);
  json.copy(frame, 4);
  return frame;
}

/**
 * The request-rate client: a raw `net` socket speaking the framing itself, so the bench
 * process spends as little CPU per request as it can (it shares the two cores with the
 * server) and the echo baseline and cinebox are driven by exactly the same code. Replies are
 * split by their length prefix and every one is parsed (`JSON.parse`) and handed on.
 */
export class LeanClient {
  /** Called with each parsed reply, in order. */
  onReply = () => {};
  /** Called once when the socket fails or closes. */
  onError = () => {};
  /** The pre-encoded request the rate loop sends (set by `prepare`). */
  frame = undefined;
  /** `check(reply)` returns undefined for a good reply, else what is wrong with it. */
  check = () => undefined;
  /** The session this connection logged in with, if any. */
  session = undefined;
  #pending = undefined;
  #failed = undefined;

  static async connect(port) {
    const socket = connect({ host: HOST, port });
    await once(socket, 'connect');
    return new LeanClient(socket);
  }

  constructor(socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.#receive(chunk));
    const fail = (error) => {
      if (this.#failed) return;
      this.#failed = error;
      this.onError(error);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('the server closed the connection')));
    openClients.add(this);
  }

  /** One request and its reply (set-up: register, login). */
  call(message) {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.onReply = resolve;
      this.onError = reject;
      this.socket.write(encodeFrame(message));
    });
  }

  /** Encodes `message` once; the rate loop sends those bytes again and again. */
  prepare(message, check) {
    this.frame = encodeFrame(message);
    this.check = check;
  }

  close() {
    openClients.delete(this);
    this.socket.destroy();
  }

  #receive(chunk) {
    let buffer = this.#pending === undefined ? chunk : Buffer.concat([this.#pending, chunk]);
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = buffer.readInt32LE(offset);
      if (buffer.length - offset - 4 < length) break;
      const reply = JSON.parse(buffer.toString('utf8', offset + 4, offset + 4 + length));
      offset += 4 + length;
      this.onReply(reply);
    }
    this.#pending = offset === buffer.length ? undefined : buffer.subarray(offset);
  }
}

/** Opens `count` lean connections, `limit` at a time, each set up by `setup(client, index)`. */
export function leanClients(port, count, setup, limit = 8) {
  return mapLimit(
    Array.from({ length: count }, (_, i) => i),
    limit,
    async (i) => {
      const client = await LeanClient.connect(port);
      await setup(client, i);
      return client;
    },
  );
}

/** Registers viewer `name` (one left from an earlier run is fine) and logs `client` in as it; returns the session. */
export async function leanViewerLogin(client, name, password) {
  const wire = wirePassword(password);
  const registered = await client.call({ type: 'register', name, password: wire, user_type: 'user' });
  if (!registered.flag && registered.code !== 'CONFLICT') throw new Error(`register ${name}: ${registered.msg}`);
  const reply = await client.call({ type: 'login', name, password: wire, user_type: 'user' });
  if (!reply.flag) throw new Error(`login ${name}: ${reply.msg}`);
  return reply.session;
}

/** A good `get_movie_list` reply: flag true and exactly `movies` entries. */
export function movieListCheck(movies) {
  return (reply) => {
    if (reply.flag !== true) return `flag ${reply.flag}: ${reply.code} ${reply.msg}`;
    if (!Array.isArray(reply.movie_list) || reply.movie_list.length !== movies) {
      return `expected ${movies} movies, got ${JSON.stringify(reply).slice(0, 120)}`;
    }
    return undefined;
  };
}

/**
 * Each client sends its pre-encoded request back to back, one in flight per connection (as
 * the protocol requires), for `warmupMs` (not counted) and then `measureMs`. Every reply, in
 * the warm-up and after the window too, is parsed and checked; any bad one fails the run.
 * `onWindow(start|end)` lets the caller read CPU counters at the window edges.
 */
export function requestRate(clients, { warmupMs, measureMs, onWindow = () => {} }) {
  return new Promise((resolve, reject) => {
    let stopping = false;
    let measuring = false;
    let count = 0;
    let failures = 0;
    let firstFailure;
    let inFlight = clients.length;
    let started = 0;
    let elapsed = 0;
    let done = false;
    const samples = [];
    const finish = (error) => {
      if (done) return;
      done = true;
      for (const client of clients) {
        client.onReply = () => {};
        client.onError = () => {};
      }
      if (error) reject(error);
      else if (failures) reject(new Error(`${failures} requests got a bad reply, e.g. ${firstFailure}`));
      else resolve({ clients: clients.length, requests: count, seconds: elapsed / 1000, rps: count / (elapsed / 1000), ...latencySummary(samples) });
    };
    for (const client of clients) {
      let sentAt = now();
      client.onReply = (reply) => {
        const t = now();
        if (measuring) {
          count++;
          samples.push(t - sentAt);
        }
        const problem = client.check(reply);
        if (problem !== undefined) {
          failures++;
          firstFailure ??= problem;
        }
        if (stopping) {
          if (--inFlight === 0) finish();
          return;
        }
        sentAt = t;
        client.socket.write(client.frame);
      };
      client.onError = (error) => finish(error);
      client.socket.write(client.frame);
    }
    setTimeout(() => {
      onWindow('start');
      measuring = true;
      started = now();
      setTimeout(() => {
        measuring = false;
        elapsed = now() - started;
        onWindow('end');
        stopping = true; // each client's last request is answered (and checked), then the run ends
      }, measureMs);
    }, warmupMs);
  });
}
