/**
 * The server's defences, each attacked over a real socket: TLS, the HMAC handshake, login
 * lockout, connection limits, slow and oversized clients, graceful shutdown. Each case
 * also checks that a normal client is still served.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionError, type ClientConnection, type ConnectOptions } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { FrameDecoder } from '../../src/protocol/index.js';
import { handshakeProof } from '../../src/protocol/handshake.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { frame, prefixed, rawExchange, type RawResult } from '../helpers/raw.js';
import { ADMIN_CODE, startWorld, type World } from '../helpers/world.js';
import { waitFor } from './arena.js';

const worlds: World[] = [];
async function world(kind: 'sqlite' | 'mysql', overrides: Parameters<typeof startWorld>[1] = {}) {
  const w = await startWorld(kind, overrides);
  worlds.push(w);
  return w;
}
afterEach(async () => {
  await Promise.all(worlds.splice(0).map((w) => w.close()));
});

/** A normal viewer can still log in and list. */
async function normalClientServed(w: World, options = {}) {
  const conn = await w.connect(options);
  await conn.request({ type: 'register', name: 'normal', password: wirePassword('pw'), user_type: 'user' });
  await conn.call('login', { name: 'normal', password: wirePassword('pw'), user_type: 'user' });
  const reply = await conn.request({ type: 'get_movie_list', session: conn.session, movie_type: 'all' });
  expect(reply.code ?? 'ok').toMatch(/ok|NOT_FOUND/);
}

function openRaw(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
  });
}

function closed(socket: Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c) => chunks.push(c));
  return new Promise((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks))));
}

function firstFrame(bytes: Buffer): Record<string, unknown> | undefined {
  if (bytes.length < 4) return undefined;
  return JSON.parse(bytes.subarray(4, 4 + bytes.readInt32LE(0)).toString());
}

describe.each(databaseKinds)('defences (%s)', (kind) => {
  describe('TLS', () => {
    let cert: string;
    let key: string;
    beforeAll(async () => {
      ({ cert, key } = selfSignedCertificate((await world(kind)).dir, 'tls'));
    });

    it('serves a client that trusts its certificate and nobody speaking plain TCP', async () => {
      const w = await world(kind, { tlsCert: cert, tlsKey: key });
      const ca = await readFile(cert);
      await normalClientServed(w, { tls: { ca } });
      const plain = await w.connect();
      await expect(plain.request({ type: 'server_info' })).rejects.toBeInstanceOf(ConnectionError);
      const untrusted = await w.connect({ tls: true }).catch((e: Error) => e);
      expect(untrusted).toBeInstanceOf(ConnectionError);
    });
  });

  describe('client handshake', () => {
    it('serves only clients that prove the secret, in time', async () => {
      const w = await world(kind, { clientSecret: 'shared-secret', handshakeSeconds: 1 });
      const wrong = await w.connect({ clientSecret: 'wrong' });
      await expect(wrong.request({ type: 'server_info' })).rejects.toBeInstanceOf(ConnectionError);

      const silent = await openRaw(w.server.port);
      const silentBytes = await closed(silent); // the server gives up after handshakeSeconds
      expect(silentBytes).toHaveLength(32); // only the nonce, never a frame

      // A proof sent together with the first frame in one chunk is fine.
      const eager = await openRaw(w.server.port);
      const nonce = await new Promise<Buffer>((resolve) => eager.once('data', resolve));
      const reply = new Promise<Buffer>((resolve) => eager.once('data', resolve));
      eager.write(Buffer.concat([handshakeProof('shared-secret', nonce), frame({ type: 'server_info' })]));
      expect(firstFrame(await reply)).toMatchObject({ flag: true });
      eager.destroy();

      await normalClientServed(w, { clientSecret: 'shared-secret' });
      expect(w.logs.some((l) => l.msg === 'handshake failed: wrong proof')).toBe(true);
    });
  });

  describe('login lockout', () => {
    it('blocks an address after repeated failures, logs each with its address, and leaves others alone', async () => {
      const w = await world(kind, { loginMaxFailures: 3 });
      const victim = await w.loginAs('victim', 'user', 'right');
      victim.close();
      const attacker = await w.connect();
      for (let i = 0; i < 3; i++) {
        const reply = await attacker.request({ type: 'login', name: 'victim', password: wirePassword(`guess${i}`), user_type: 'user' });
        expect(reply.code).toBe('LOGIN_FAILED');
      }
      const blocked = await attacker.request({ type: 'login', name: 'victim', password: wirePassword('right'), user_type: 'user' });
      expect(blocked).toMatchObject({ flag: false, code: 'LOGIN_BLOCKED' });
      const [row] = await w.server.app.db.query<{ failures: number; blocked_until: string | null }>(
        'SELECT failures, blocked_until FROM login_failure WHERE address = ?',
        ['127.0.0.1'],
      );
      expect(Number(row.failures)).toBe(3);
      expect(row.blocked_until).not.toBeNull();
      const failures = w.logs.filter((l) => l.msg === 'login failed');
      expect(failures).toHaveLength(3);
      expect(failures.every((l) => l.addr === '127.0.0.1')).toBe(true);
      // The account itself is not locked: only the address was blocked.
      const [user] = await w.server.app.db.query<{ locked_until: unknown }>("SELECT locked_until FROM user WHERE name = 'victim'");
      expect(user.locked_until).toBeNull();
    });

    it('locks an account for a while after failures from many places; an admin can unlock it', async () => {
      const w = await world(kind, { loginMaxFailures: 1000, accountMaxFailures: 2 });
      const admin = await w.loginAs('boss', 'admin');
      (await w.loginAs('target', 'user', 'right')).close();
      const conn = await w.connect();
      for (const guess of ['a', 'b']) {
        await conn.request({ type: 'login', name: 'target', password: wirePassword(guess), user_type: 'user' });
      }
      const locked = await conn.request({ type: 'login', name: 'target', password: wirePassword('right'), user_type: 'user' });
      expect(locked).toMatchObject({ flag: false, code: 'ACCOUNT_LOCKED' });
      const users = await admin.call('list_users', {});
      expect(users.users).toContainEqual(expect.objectContaining({ name: 'target', failed_logins: 2 }));
      await admin.call('unlock_user', { name: 'target' });
      const ok = await conn.request({ type: 'login', name: 'target', password: wirePassword('right'), user_type: 'user' });
      expect(ok.flag).toBe(true);
    });

    it('lets an admin lock a user, which ends what that user can do at once', async () => {
      const w = await world(kind);
      const admin = await w.loginAs('boss', 'admin');
      const viewer = await w.loginAs('troll', 'user');
      await admin.call('lock_user', { name: 'troll' });
      const reply = await viewer.request({ type: 'check_notice', session: viewer.session });
      expect(reply).toMatchObject({ flag: false, code: 'ACCOUNT_LOCKED' });
      expect(await admin.request({ type: 'lock_user', session: admin.session, name: 'boss' })).toMatchObject({ flag: false });
      expect(await viewer.request({ type: 'unlock_user', session: viewer.session, name: 'troll' })).toMatchObject({ flag: false });
      await admin.call('unlock_user', { name: 'troll' });
      expect((await viewer.request({ type: 'check_notice', session: viewer.session })).code).toBe('NOT_FOUND');
    });
  });

  describe('limits', () => {
    it('caps connections per address with an error frame', async () => {
      const w = await world(kind, { maxConnectionsPerAddress: 3 });
      const held = await Promise.all([0, 1, 2].map(() => openRaw(w.server.port)));
      const extra = await rawExchange(w.server.port, Buffer.alloc(0));
      expect(extra.closed).toBe(true);
      expect(extra.frames[0]).toMatchObject({ flag: false, code: 'BUSY' });
      held.forEach((s) => s.destroy());
      // The server frees an address's slots when it sees those sockets close.
      await waitFor(() => w.server.connections.size === 0, 10_000, 'the held connections to be let go');
      await normalClientServed(w);
    });

    it('closes a client that does not finish its header in time (slowloris)', async () => {
      const w = await world(kind, { headerDeadlineSeconds: 1 });
      const socket = await openRaw(w.server.port);
      const done = closed(socket);
      const bytes = frame({ type: 'server_info' });
      socket.write(bytes.subarray(0, 6)); // then nothing more
      const received = await done;
      expect(firstFrame(received)).toMatchObject({ flag: false, code: 'TIMEOUT' });
      await normalClientServed(w);
    });

    it('closes an idle connection', async () => {
      const w = await world(kind, { idleTimeoutSeconds: 1 });
      const socket = await openRaw(w.server.port);
      expect(firstFrame(await closed(socket))).toMatchObject({ code: 'TIMEOUT' });
    });

    it('refuses an upload over the size limit before reading it', async () => {
      const w = await world(kind, { maxUploadBytes: 1000 });
      const admin = await w.loginAs('boss', 'admin');
      const header = frame({ type: 'update_movie', session: admin.session, file_name: 'big', file_size: 5000, file_md5: 'x', is_free: 1 });
      const result = await rawExchange(w.server.port, header);
      expect(result.frames[0]).toMatchObject({ flag: false, code: 'TOO_LARGE' });
      expect(result.closed).toBe(true);
      expect(await w.server.app.db.query('SELECT id FROM movie')).toEqual([]);
    });

    it('limits the request rate of one connection', async () => {
      const w = await world(kind, { requestsPerSecond: 5 });
      const burst = Buffer.concat(Array.from({ length: 30 }, () => frame({ type: 'server_info' })));
      const result = await rawExchange(w.server.port, burst);
      expect(result.closed).toBe(true);
      const last = result.frames.at(-1);
      expect(last).toMatchObject({ flag: false, code: 'RATE_LIMITED' });
      expect(result.frames.length).toBeLessThan(30);
      await normalClientServed(w);
    });

    it('still closes a header over the limit with a prefix alone', async () => {
      const w = await world(kind);
      const result = await rawExchange(w.server.port, prefixed(2 ** 31 - 1));
      expect(result.frames).toHaveLength(1);
      expect(result.frames[0]).toMatchObject({ flag: false, code: 'BAD_FRAME' });
      // rawExchange reports closed: false when its wait ran out with the socket still open.
      expect(result.closed).toBe(true);
    });
  });

  describe('graceful shutdown', () => {
    let cert: string;
    let key: string;
    beforeAll(async () => {
      ({ cert, key } = selfSignedCertificate((await world(kind)).dir, 'shutdown'));
    });

    // TLS, because only there can a client be accepted during a shutdown: a plain TCP connect
    // finds the listener closed, but a TLS handshake begun before it may end after, and then
    // the server must say SHUTTING_DOWN.
    it('while a download runs: closes idle clients, refuses new ones (SHUTTING_DOWN), then lets the download finish', { timeout: 60_000 }, async () => {
      const w = await world(kind, { tlsCert: cert, tlsKey: key });
      const tls = { tls: { ca: await readFile(cert) } };
      const admin = await loginOver(w, tls, 'boss', 'admin');
      // Larger than socket buffers and the client's read-ahead, so a paused reader keeps the server sending.
      const source = await w.makeFile('film.mp4', 32 * 1024 * 1024);
      const { movie_id } = await uploadFile(admin, source, { isFree: true });
      const viewer = await loginOver(w, tls, 'viewer', 'user');

      // The viewer takes the first bytes, then stops reading until released.
      const received: Buffer[] = [];
      const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (received.push(Buffer.from(chunk)), done()) });
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let receiving!: () => void;
      const firstBytes = new Promise<void>((resolve) => (receiving = resolve));
      let settled = false;
      const download = viewer
        .requestWithBody({ type: 'download_movie', session: viewer.session, movie_id, movie_type: 'free' }, async () => ({
          sink,
          onChunk: () => (received.length === 0 ? (receiving(), released) : undefined),
        }))
        .finally(() => (settled = true));
      download.catch(() => undefined); // awaited below; this only keeps a failed check from leaving it unhandled
      await firstBytes;
      // A raw connection the server has accepted, whose TLS handshake has not begun yet.
      const late = connect({ host: '127.0.0.1', port: w.server.port });
      late.on('error', () => undefined);
      let shutDown = false;
      let shutdown: Promise<unknown> = Promise.resolve();
      try {
        await new Promise((resolve) => late.once('connect', resolve));
        await waitFor(async () => (await acceptedSockets(w)) === 3, 10_000, 'the server to accept the late socket');

        shutdown = w.server.shutdown(30).then(() => (shutDown = true));

        // The idle admin is closed now, while the download still runs.
        await waitFor(() => w.server.connections.size === 1, 10_000, 'the idle admin to be closed');
        await expect(admin.request({ type: 'server_info' })).rejects.toBeInstanceOf(ConnectionError);
        // A new client finds no listener; one whose handshake ends now is told why, then closed.
        await expect(w.connect(tls)).rejects.toBeInstanceOf(ConnectionError);
        const refused = await tlsExchange(late, await readFile(cert));
        expect(refused.frames).toEqual([{ flag: false, code: 'SHUTTING_DOWN', msg: expect.any(String) }]);
        expect(refused.closed).toBe(true);
        // All of that happened during the shutdown, with the download still held.
        expect(shutDown).toBe(false);
        expect(settled).toBe(false);
        expect(w.server.connections.size).toBe(1);
      } finally {
        // Also when a check above failed, so that the world can close.
        release();
        late.destroy();
      }
      const reply = await download;
      expect(reply).toMatchObject({ flag: true, file_size: 32 * 1024 * 1024 });
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(sha(Buffer.concat(received))).toBe(sha(await readFile(source)));
      await shutdown;
      expect(w.server.connections.size).toBe(0);
      await expect(viewer.request({ type: 'server_info' })).rejects.toBeInstanceOf(ConnectionError);
    });
  });
});

/** A self-signed certificate for 127.0.0.1 and localhost, next to the world's dir. */
function selfSignedCertificate(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, '..', `cinebox-test-${name}-cert-${process.pid}.pem`);
  const key = join(dir, '..', `cinebox-test-${name}-key-${process.pid}.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', key, '-out', cert,
  ], { stdio: 'ignore' });
  return { cert, key };
}

/** Registers and logs in over a connection made with `options` (world.loginAs speaks plain TCP only). */
async function loginOver(w: World, options: Partial<ConnectOptions>, name: string, role: 'admin' | 'user'): Promise<ClientConnection> {
  const conn = await w.connect(options);
  const password = wirePassword(`secret-${name}`);
  await conn.call('register', { name, password, user_type: role, ...(role === 'admin' ? { admin_code: ADMIN_CODE } : {}) });
  await conn.call('login', { name, password, user_type: role });
  return conn;
}

/** Sockets the server's listener has accepted and not yet seen closed (TLS handshakes included). */
function acceptedSockets(w: World): Promise<number> {
  return new Promise((resolve, reject) => w.server.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

/** Speaks TLS over an already connected socket and collects the frames until the server closes. */
function tlsExchange(socket: Socket, ca: Buffer, waitMs = 10_000): Promise<RawResult> {
  return new Promise((resolve) => {
    const secure = tlsConnect({ socket, ca, host: '127.0.0.1', servername: 'localhost' });
    const decoder = new FrameDecoder();
    const frames: Record<string, unknown>[] = [];
    const timer = setTimeout(() => {
      secure.destroy();
      resolve({ frames, closed: false });
    }, waitMs);
    secure.on('data', (chunk: Buffer) => {
      decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) if (event.kind === 'header') frames.push(event.header);
    });
    secure.on('error', () => undefined);
    secure.on('close', () => {
      clearTimeout(timer);
      resolve({ frames, closed: true });
    });
  });
}
