/**
 * The fan-out step: N subscriber connections on one cinebox node, one notice published, and
 * when each subscriber's socket first sees bytes of it; the same for a private redis-server
 * fanning one PUBLISH out to N SUBSCRIBE connections. Both sides use raw sockets and stamp
 * the first byte, so the client does the same (little) work for either.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FrameDecoder } from '../../dist/protocol/decoder.js';
import { encodeFrame } from '../../dist/protocol/frame.js';
import { wirePassword } from '../../dist/protocol/wire-password.js';
import { latencySummary, mapLimit, now } from './stats.mjs';

/** Source addresses 127.0.0.2, .3, ...: at most this many connections each, under the server's per-address cap (256). */
const PER_ADDRESS = 200;
const localAddressFor = (index) => `127.0.${Math.floor(index / PER_ADDRESS / 250)}.${2 + (Math.floor(index / PER_ADDRESS) % 250)}`;

function openSocket(port, index) {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: localAddressFor(index) });
    socket.setNoDelay(true);
    socket.once('connect', () => {
      socket.on('error', () => undefined); // a reset shows as a missing arrival, not a crash
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Reads whole frames from a socket until `count` headers arrived. */
function readFrames(socket, count) {
  const decoder = new FrameDecoder({ maxHeaderBytes: 1 << 20 });
  const headers = [];
  return new Promise((resolve, reject) => {
    const onData = (chunk) => {
      decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) if (event.kind === 'header') headers.push(event.header);
      if (headers.length >= count) {
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(headers);
      }
    };
    const onClose = () => reject(new Error(`closed after ${headers.length} of ${count} frames`));
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}

/** The first frame's header in `bytes` (what a subscriber got), or undefined. */
export function firstHeader(bytes) {
  const decoder = new FrameDecoder({ maxHeaderBytes: 1 << 20 });
  decoder.append(bytes);
  const event = decoder.next();
  return event?.kind === 'header' ? event.header : undefined;
}

/** `count` raw connections, each logged in and subscribed to notices. */
export async function openCineboxSubscribers(port, count, { name, password }) {
  return mapLimit(Array.from({ length: count }), 250, async (_, index) => {
    const socket = await openSocket(port, index);
    // Hundreds of logins of one account at once meet the login guard's bound on guesses
    // waiting for a verdict (BUSY, the connection stays open): try again, as a client would.
    let login;
    for (let attempt = 0; ; attempt++) {
      const loggedIn = readFrames(socket, 1);
      socket.write(encodeFrame({ type: 'login', name, password: wirePassword(password), user_type: 'user' }));
      [login] = await loggedIn;
      if (login.flag || login.code !== 'BUSY' || attempt === 200) break;
      await sleep(20 + Math.random() * 80);
    }
    if (!login.flag) throw new Error(`login: ${login.msg}`);
    const subscribed = readFrames(socket, 1);
    socket.write(encodeFrame({ type: 'subscribe', session: login.session, topics: ['notices'] }));
    const [reply] = await subscribed;
    if (!reply.flag) throw new Error(`subscribe: ${reply.msg}`);
    return socket;
  });
}

/**
 * A redis-server of the bench's own (never the machine's shared one), room for every subscriber.
 * Protected mode off: it would refuse the subscribers' source addresses 127.0.0.2+ (it is bound to loopback only).
 */
export async function startRedis(port, maxClients) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', '--maxclients', String(maxClients + 100)], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    const up = await openSocket(port, 0).then((s) => (s.destroy(), true), () => false);
    if (up) return { child, pid: child.pid, stop: async () => (child.kill('SIGTERM'), await once(child, 'exit')) };
    await sleep(25);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not start on port ${port}`);
}

const resp = (...parts) => `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;

/** `count` raw connections, each SUBSCRIBEd to `channel` (confirmed by the server). */
export async function openRedisSubscribers(port, count, channel) {
  return mapLimit(Array.from({ length: count }), 250, async (_, index) => {
    const socket = await openSocket(port, index);
    let seen = '';
    const confirmed = new Promise((resolve, reject) => {
      const onData = (chunk) => {
        seen += chunk.toString('latin1');
        if (seen.startsWith('-')) reject(new Error(`redis refused SUBSCRIBE: ${seen.trim()}`));
        else if (seen.includes(':1\r\n')) {
          socket.off('data', onData);
          resolve();
        }
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
    socket.write(resp('SUBSCRIBE', channel));
    await confirmed;
    return socket;
  });
}

export function redisPublish(socket, channel, message) {
  socket.write(resp('PUBLISH', channel, message));
}

/**
 * Arms every subscriber to stamp its first byte, runs `trigger` (t = 0 just before), and waits
 * until all have bytes (or `timeoutMs`). Returns the arrival times in ms and what each got.
 */
export async function measureArrivals(sockets, trigger, timeoutMs = 30_000) {
  const arrivals = new Array(sockets.length).fill(NaN);
  const received = sockets.map(() => []);
  let left = sockets.length;
  let allIn;
  const done = new Promise((resolve) => (allIn = resolve));
  let t0 = 0;
  sockets.forEach((socket, i) => {
    socket.on('data', (chunk) => {
      received[i].push(chunk);
      if (Number.isNaN(arrivals[i])) {
        arrivals[i] = now() - t0;
        if (--left === 0) allIn();
      }
    });
  });
  t0 = now();
  await trigger();
  const triggerMs = now() - t0;
  await Promise.race([done, sleep(timeoutMs)]);
  await sleep(200); // let the rest of each message in, for the check
  const times = arrivals.filter((t) => Number.isFinite(t));
  return {
    subscribers: sockets.length,
    reached: times.length,
    /** When `trigger` resolved (for cinebox: the release_notice reply, i.e. after its commit). */
    triggerMs,
    firstMs: times.length ? Math.min(...times) : NaN,
    ...latencySummary(times),
    received: received.map((chunks) => Buffer.concat(chunks)),
  };
}
