/**
 * The operators' HTTP port, on SQLite and MySQL: `/metrics` counts exactly the requests,
 * bytes and failures a client made over a raw socket; `/health` answers 200 with its checks,
 * 503 draining as soon as a graceful shutdown begins (a download still running and finishing),
 * 503 naming the media check when the store cannot be written (its .incoming replaced by a
 * file: that blocks root too, where chmod does not), 503 naming Redis when it is gone.
 */
import { connect, type Socket } from 'node:net';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { downloadMovie } from '../../src/client/download.js';
import { uploadFile } from '../../src/client/upload.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { REDIS_URL, startPrivateRedis, type PrivateRedis } from '../helpers/redis.js';
import { ADMIN_CODE, startWorld, type World } from '../helpers/world.js';
import { fileSha256, MiB, waitFor } from '../transfers/helpers.js';
import { subscribe } from '../events/helpers.js';

/** One sample of the Prometheus text: `name{labels} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseMetrics(text: string): Sample[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!match) throw new Error(`not a sample line: ${line}`);
      const labels = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
      return { name: match[1]!, labels, value: Number(match[3]) };
    });
}

/** The value of the one sample with this name and (at least) these labels; 0 when the series does not exist yet. */
function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`);
  return found[0]?.value ?? 0;
}

/** A client whose every byte is counted: frames written by hand, replies read off the socket. */
async function countingClient(port: number) {
  const socket: Socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  const decoder = new FrameDecoder({ maxHeaderBytes: 1 << 20 });
  const replies: Record<string, unknown>[] = [];
  let waiting: (() => void) | undefined;
  let sent = 0;
  let received = 0;
  socket.on('data', (chunk: Buffer) => {
    received += chunk.length;
    decoder.append(chunk);
    for (let event = decoder.next(); event; event = decoder.next()) if (event.kind === 'header') replies.push(event.header);
    waiting?.();
  });
  return {
    get sent() {
      return sent;
    },
    get received() {
      return received;
    },
    async request(header: Record<string, unknown>): Promise<Record<string, unknown>> {
      const frame = encodeFrame(header);
      sent += frame.length;
      socket.write(frame);
      while (replies.length === 0) await new Promise<void>((resolve) => (waiting = resolve));
      return replies.shift()!;
    },
    close: () => new Promise<void>((resolve) => socket.end(() => socket.once('close', () => resolve()))),
  };
}

describe.each(databaseKinds)('health and metrics over HTTP (%s)', { timeout: 120_000 }, (kind) => {
  let world: World | undefined;
  let redis: PrivateRedis | undefined;
  afterEach(async () => {
    await world?.close();
    await redis?.stop();
    world = undefined;
    redis = undefined;
  });

  const http = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${world!.server.metricsPort}${path}`, init);
  const metrics = async () => parseMetrics(await (await http('/metrics')).text());
  const health = async () => {
    const res = await http('/health');
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  it('/metrics shows exactly the requests, failures and bytes a client made', async () => {
    world = await startWorld(kind, { metricsPort: 0, nodeName: 'metrics-node' });
    const client = await countingClient(world.server.port);
    const credentials = { name: 'counted', password: wirePassword('pw-counted'), user_type: 'admin' };
    expect(await client.request({ type: 'register', ...credentials, admin_code: ADMIN_CODE })).toMatchObject({ flag: true });
    const login = await client.request({ type: 'login', ...credentials });
    expect(login).toMatchObject({ flag: true });
    for (let i = 0; i < 3; i++) expect(await client.request({ type: 'server_info' })).toMatchObject({ flag: true });
    expect(await client.request({ type: 'no_such_thing' })).toMatchObject({ code: 'UNKNOWN_TYPE' });
    expect(await client.request({ type: 'login', ...credentials, password: wirePassword('wrong') })).toMatchObject({ code: 'LOGIN_FAILED' });
    expect(await client.request({ type: 'check_notice', session: 'not-a-session' })).toMatchObject({ code: 'NOT_LOGGED_IN' });

    const open = await metrics();
    expect(valueOf(open, 'cinebox_connections_open')).toBe(1);
    await client.close();
    await waitFor(() => world!.server.openSockets() === 0 || undefined, 'the socket to close on the server');
    const samples = await metrics();
    const requests = samples.filter((s) => s.name === 'cinebox_requests_total').map((s) => `${s.labels.type} ${s.labels.code} ${s.value}`);
    expect(requests.sort()).toEqual(['check_notice NOT_LOGGED_IN 1', 'login LOGIN_FAILED 1', 'login OK 1', 'register OK 1', 'server_info OK 3', 'unknown UNKNOWN_TYPE 1']);
    expect(valueOf(samples, 'cinebox_request_duration_seconds_count', { type: 'server_info' })).toBe(3);
    expect(valueOf(samples, 'cinebox_request_duration_seconds_count', { type: 'login' })).toBe(2);
    expect(valueOf(samples, 'cinebox_login_failures_total')).toBe(1);
    expect(valueOf(samples, 'cinebox_bytes_received_total')).toBe(client.sent);
    expect(valueOf(samples, 'cinebox_bytes_sent_total')).toBe(client.received);
    expect(valueOf(samples, 'cinebox_connections_open')).toBe(0);
    expect(valueOf(samples, 'cinebox_node_info', { node: 'metrics-node', run: world.server.app.node.run })).toBe(1);
    expect(valueOf(samples, 'cinebox_hash_queue_length')).toBe(0);
    expect(samples.some((s) => s.name === 'process_resident_memory_bytes')).toBe(true);

    // Blocks and subscribers: a pair blocked after --login-max-failures, one subscriber.
    const viewer = await world.loginAs('watcher', 'user');
    await subscribe(viewer);
    const guesser = await world.connect();
    for (let i = 0; i < world.config.loginMaxFailures; i++) {
      await guesser.request({ type: 'login', name: 'watcher', password: wirePassword(`guess-${i}`), user_type: 'user' });
    }
    expect(await guesser.request({ type: 'login', name: 'watcher', password: wirePassword('once more'), user_type: 'user' })).toMatchObject({ code: 'LOGIN_BLOCKED' });
    const after = await metrics();
    expect(valueOf(after, 'cinebox_event_subscribers')).toBe(1);
    expect(valueOf(after, 'cinebox_login_failures_total')).toBe(1 + world.config.loginMaxFailures);
    expect(valueOf(after, 'cinebox_login_blocks_total', { scope: 'pair' })).toBe(1);
    expect(valueOf(after, 'cinebox_login_refused_total')).toBe(1);

    expect((await http('/nothing')).status).toBe(404);
    expect((await http('/health', { method: 'POST' })).status).toBe(404);
  });

  it('/health says draining from the start of a graceful shutdown, while a download still runs to its end', async () => {
    world = await startWorld(kind, { metricsPort: 0, normalSpeedBps: 512 * 1024 });
    expect(await health()).toEqual({ status: 200, body: { status: 'ok', node: world.server.app.node.name, checks: { database: 'ok', media: 'ok' } } });
    const admin = await world.loginAs('boss', 'admin');
    const source = await world.makeFile('slow.mp4', 3 * MiB);
    const uploaded = await uploadFile(admin, source, { isFree: true });
    const viewer = await world.loginAs('slow-viewer', 'user');
    const download = downloadMovie(viewer, Number(uploaded.movie_id), 'free', { outDir: join(world.dir, 'downloads') });
    await waitFor(async () => valueOf(await metrics(), 'cinebox_transfers_running', { direction: 'download' }) === 1 || undefined, 'the download to run');

    const shutdown = world.server.shutdown(60);
    expect(await health()).toEqual({ status: 503, body: { status: 'draining', node: world.server.app.node.name } });
    const done = await download; // 3 MiB at 512 KiB/s: it was still running
    expect(done.sha256).toBe(await fileSha256(source));
    expect(await fileSha256(done.path)).toBe(done.sha256);
    await shutdown;
    await expect(http('/health')).rejects.toThrow(); // the HTTP port closed with the server
  });

  it('/health is 503 naming the media check while the store cannot be written, 200 again once it can', async () => {
    world = await startWorld(kind, { metricsPort: 0 });
    const incoming = world.server.app.media.incomingDir;
    await rename(incoming, `${incoming}-away`);
    await writeFile(incoming, 'not a directory');
    const failing = await health();
    expect(failing.status).toBe(503);
    expect(failing.body).toMatchObject({ status: 'failing', checks: { database: 'ok', media: expect.stringMatching(/ENOTDIR/) } });
    await rm(incoming);
    await rename(`${incoming}-away`, incoming);
    expect(await health()).toMatchObject({ status: 200, body: { status: 'ok' } });
    await mkdir(incoming, { recursive: true });
  });

  it.skipIf(REDIS_URL === undefined)('/health is 503 naming Redis while the configured Redis is gone', async () => {
    redis = await startPrivateRedis();
    world = await startWorld(kind, { metricsPort: 0, redisUrl: redis.url });
    await waitFor(async () => ((await health()).status === 200 ? true : undefined), 'Redis to answer');
    expect((await health()).body).toMatchObject({ checks: { database: 'ok', media: 'ok', redis: 'ok' } });
    await redis.stop();
    const failing = await health();
    expect(failing.status).toBe(503);
    expect(failing.body).toMatchObject({ status: 'failing', checks: { database: 'ok', media: 'ok' } });
    expect((failing.body.checks as Record<string, string>).redis).not.toBe('ok');
    redis = undefined;
  });
});
