/**
 * The measured operations. cinebox ones go through the BUILT client library (dist/), exactly
 * what the `cinebox` CLI uses; baseline ones are plain Node streams.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { once } from 'node:events';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ClientConnection } from '../../dist/client/connection.js';
import { downloadMovie, uploadFile } from '../../dist/client/transfers.js';
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

// ---------------------------------------------------------------- request rate

/**
 * Each connection sends `get_movie_list` back to back (one in flight per connection, as the
 * protocol requires) for `warmupMs` (not counted) and then `measureMs`.
 * `onWindow(start|end)` lets the caller read CPU counters at the window edges.
 */
export async function requestRate(conns, { warmupMs, measureMs, onWindow = () => {} }) {
  let stop = false;
  let measuring = false;
  let count = 0;
  let failures = 0;
  let firstFailure;
  const samples = [];
  const loops = conns.map(async (conn) => {
    const header = { type: 'get_movie_list', session: conn.session ?? 'none', movie_type: 'all' };
    while (!stop) {
      const t = now();
      const reply = await conn.request(header);
      const dt = now() - t;
      if (!measuring) continue;
      count++;
      samples.push(dt);
      if (!reply.flag) {
        failures++;
        firstFailure ??= reply.msg;
      }
    }
  });
  const failed = Promise.all(loops).then(
    () => undefined,
    (error) => error,
  );
  const race = async (ms) => {
    const error = await Promise.race([failed, sleep(ms).then(() => undefined)]);
    if (error) throw error;
  };
  await race(warmupMs);
  onWindow('start');
  measuring = true;
  const started = now();
  await race(measureMs);
  measuring = false;
  const elapsed = now() - started;
  onWindow('end');
  stop = true;
  const error = await failed;
  if (error) throw error;
  if (failures) throw new Error(`${failures} get_movie_list requests failed, e.g. ${firstFailure}`);
  return { clients: conns.length, requests: count, seconds: elapsed / 1000, rps: count / (elapsed / 1000), ...latencySummary(samples) };
}
