/**
 * Three cinebox nodes behind real HAProxy (deploy/haproxy.cfg), on one MariaDB, one Redis and
 * one media directory, under a mixed workload through the balancer: admins uploading,
 * viewers listing, buying and downloading, subscribers following the live events. Meanwhile
 * a node is killed (-9) in the middle of an upload and another in the middle of a download,
 * both started again, then every node is restarted in turn with SIGTERM. Afterwards, from
 * the database, the disk and the nodes' logs: every acknowledged upload is stored once with
 * its SHA-256, every finished download matched, both cut transfers resumed on another node,
 * nobody paid twice, every subscriber got every event once, failed logins spread over nodes
 * added up to one block, and no request failed that the client could not retry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient, type MovieRow, type Role } from '../../src/client/cinebox-client.js';
import { watchEvents } from '../../src/client/event-watcher.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';
import type { Reply } from '../../src/protocol/messages.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { ADMIN_CODE, Balancer, dropClusterDatabase, freshClusterDatabase, nodeSpecs, NodeProcess, runCluster, waitUntil } from './cluster-env.js';
import { startTapProxy, type TapProxy } from './tap-proxy.js';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const MiB = 1024 * 1024;
const PASSWORD = 'cluster-pw';
/** Generous for a loaded machine: HAProxy notices a dead node within ~2 s; its uploads are free once it missed 3 heartbeats (~6 s). */
const RETRY = { retries: 6, backoffMs: 250, maxBackoffMs: 3000 };
/** Every retry, for the report of a failed run. */
const retryLog: string[] = [];

interface Stats {
  requests: number;
  failures: string[];
  clients: CineboxClient[];
  watcherRetries: number;
}

describe.runIf(runCluster)('three nodes behind HAProxy: a node killed mid-transfer, a rolling restart', () => {
  let work: string;
  let nodes: NodeProcess[];
  let balancer: Balancer;
  let sql: mysql.Connection;
  const taps: TapProxy[] = [];
  const stats: Stats = { requests: 0, failures: [], clients: [], watcherRetries: 0 };
  /** The workers loop while it holds; a failed run stops them too, before the files go. */
  let running = true;

  beforeAll(async () => {
    const main = await builtCli();
    const dbUrl = await freshClusterDatabase();
    work = await mkdtemp(join(tmpdir(), 'cinebox-cluster-'));
    const specs = await nodeSpecs();
    const args = [
      '--host', '127.0.0.1', '--db', dbUrl, '--media-dir', join(work, 'media'), '--redis', process.env.REDIS_URL!, '--proxy-protocol', 'v1',
      '--admin-code', ADMIN_CODE, '--scrypt-n', '1024', '--free-wait', '0', '--log-level', 'info', '--shutdown-grace', '20',
      // Viewers keep the default speed (2 MiB/s: a download lasts long enough to be cut); no daily or session caps in the way.
      '--normal-daily', 'unlimited', '--normal-daily-count', '0', '--normal-max-sessions', '0',
    ];
    nodes = specs.map((spec) => new NodeProcess(spec, main, args));
    await nodes[0]!.start(); // creates the tables; the others find them
    await Promise.all(nodes.slice(1).map((node) => node.start()));
    balancer = new Balancer(specs);
    await balancer.start();
    sql = await mysql.createConnection(dbUrl);
  }, 240_000);

  afterAll(async () => {
    running = false;
    // What went wrong, for a failed run: the unretried failures and the last lines of each node.
    if (stats.failures.length) console.log(`cluster failures:\n${stats.failures.join('\n')}`);
    if (process.env.CINEBOX_CLUSTER_DEBUG) {
      console.log(`cluster retries:\n${retryLog.join('\n')}\ntap ports: ${JSON.stringify(taps.map((t) => t.upstreamPorts))}`);
      for (const node of nodes ?? []) await writeFile(join(tmpdir(), `cinebox-cluster-${node.spec.name}.log`), node.logs);
      if (balancer) await writeFile(join(tmpdir(), 'cinebox-cluster-haproxy.log'), balancer.logs);
    }
    for (const client of stats.clients) client.close();
    for (const tap of taps) await tap.close();
    await sql?.end();
    await balancer?.stop();
    for (const node of nodes ?? []) await node.kill();
    await dropClusterDatabase();
    if (work) await rm(work, { recursive: true, force: true, maxRetries: 5 });
  }, 60_000);

  const rows = async <T>(query: string, params: unknown[] = []) => (await sql.query(query, params))[0] as T[];

  /** Counts one request; a failure the client could not ride through is recorded, not thrown. */
  async function track<T>(what: string, task: () => Promise<T>): Promise<T | undefined> {
    stats.requests++;
    try {
      return await task();
    } catch (error) {
      stats.failures.push(`${what}: ${(error as Error).message}`);
      return undefined;
    }
  }

  async function clientAs(name: string, role: Role, port = balancer.port): Promise<CineboxClient> {
    const client = await CineboxClient.connect(
      { host: '127.0.0.1', port },
      { ...RETRY, onRetry: ({ what, attempt, error }) => retryLog.push(`${new Date().toISOString()} ${name} ${what} #${attempt}: ${error.message}`) },
    );
    stats.clients.push(client);
    stats.requests++;
    await client.login(name, PASSWORD, role);
    return client;
  }

  async function makeFile(name: string, size: number): Promise<{ path: string; sha: string }> {
    const bytes = randomBytes(size);
    const path = join(work, name);
    await writeFile(path, bytes);
    return { path, sha: sha256(bytes) };
  }

  /** Which node serves the connection HAProxy opened for a tap's upstream port (the port the PROXY line names). */
  function nodeServing(port: number): NodeProcess | undefined {
    return nodes.find((node) => node.lines().some((l) => l.msg === 'connected' && l.port === port));
  }

  it('serves a mixed workload through kills and a rolling restart without a failed request', async () => {
    // Accounts, before anything is cut (register is never repeated by a client).
    const setup = await CineboxClient.connect({ host: '127.0.0.1', port: balancer.port });
    stats.clients.push(setup);
    const admins = ['ada', 'bob', 'cut-uploader'];
    const viewers = ['vic', 'wes', 'xia', 'cut-downloader'];
    const subscribers = ['sub1', 'sub2'];
    for (const name of admins) await setup.register(name, PASSWORD, 'admin', ADMIN_CODE);
    for (const name of [...viewers, ...subscribers, 'guessed']) await setup.register(name, PASSWORD, 'user');
    setup.close();

    // A video for the cut download, stored before the subscribers start.
    const curator = await clientAs('ada', 'admin');
    const big = await makeFile('big-download.mp4', 10 * MiB);
    const bigVideo = await curator.upload(big.path, { isFree: true });
    const acked = new Map<string, number>([[big.sha, bigVideo.movieId]]);

    // Subscribers follow the events from the last id now; each must see every later event once.
    const [{ n: startId }] = await rows<{ n: number }>('SELECT COALESCE(MAX(id), 0) AS n FROM event');
    const stop = new AbortController();
    const seen = new Map<string, number[]>(subscribers.map((s) => [s, []]));
    const watchers = subscribers.map((name) =>
      watchEvents({
        open: () => clientAs(name, 'user'),
        since: Number(startId),
        onEvent: (event) => seen.get(name)!.push(event.id),
        onStatus: (message) => {
          if (/lost|retrying|fell behind/.test(message)) stats.watcherRetries++;
        },
        signal: stop.signal,
        backoffMs: 200,
        maxBackoffMs: 2000,
        pingMs: 5000,
      }).catch((error: Error) => stats.failures.push(`watch ${name}: ${error.message}`)),
    );

    const uploaded: { sha: string; movieId: number }[] = [];
    const uploader = async (name: string) => {
      const client = await clientAs(name, 'admin');
      for (let i = 0; running; i++) {
        const file = await makeFile(`${name}-${i}.mp4`, 256 * 1024 + Math.floor(Math.random() * 768 * 1024));
        const result = await track(`${name} upload`, () => client.upload(file.path, { isFree: i % 3 !== 0 }));
        if (result) {
          expect(result.sha256).toBe(file.sha);
          acked.set(file.sha, result.movieId);
          uploaded.push({ sha: file.sha, movieId: result.movieId });
        }
        await track(`${name} list`, () => client.moviePage({ limit: 20, order: 'newest' }));
        await rm(file.path, { force: true });
        await pause(300); // a steady trickle, not a flood: the machine is shared
      }
    };

    const downloads = { verified: 0, mismatched: [] as string[] };
    const paidBy = new Map<string, Set<number>>();
    const viewer = async (name: string, vip: boolean) => {
      const client = await clientAs(name, 'user');
      if (vip) await track(`${name} buy VIP`, () => client.buyVip());
      paidBy.set(name, new Set());
      const outDir = join(work, `downloads-${name}`);
      while (running) {
        const page = await track(`${name} list`, () => client.moviePage({ limit: 30, order: 'newest' }));
        const movies = (page?.movies ?? []).filter((m: MovieRow) => m.id !== bigVideo.movieId && (m.size ?? 0) <= 3 * MiB);
        await track(`${name} status`, () => client.status());
        if (movies.length === 0) {
          await pause(200);
          continue;
        }
        const movie = movies[Math.floor(Math.random() * movies.length)]!;
        if (!movie.is_free) paidBy.get(name)!.add(movie.id);
        const result = await track(`${name} download #${movie.id}`, () => client.download(movie.id, movie.is_free ? 'free' : 'charge', { outDir }));
        if (!result) continue;
        const onDisk = sha256(await readFile(result.path));
        if (onDisk === movie.sha256 && result.sha256 === movie.sha256) downloads.verified++;
        else downloads.mismatched.push(`${name} #${movie.id}`);
        await rm(result.path, { force: true });
        await pause(100);
      }
    };

    const workers = [uploader('ada'), uploader('bob'), viewer('vic', true), viewer('wes', false), viewer('xia', false)];
    await waitUntil(() => uploaded.length >= 3 && downloads.verified >= 3, 60_000, 'the workload under way');

    // 1. kill -9 the node that is in the middle of an upload; the client resumes it on another node.
    const upTap = await startTapProxy(balancer.port, 3 * MiB);
    taps.push(upTap);
    const cutUp = await makeFile('cut-upload.mp4', 12 * MiB);
    const cutUploader = await clientAs('cut-uploader', 'admin', upTap.port);
    let upSent = 0;
    let upResumedAt = 0;
    const cutUpload = track('cut upload', () =>
      cutUploader.upload(cutUp.path, { isFree: true, onProgress: (sent) => (upSent = sent), onResume: (offset) => (upResumedAt = offset) }),
    );
    // Bytes on the node's disk, not bytes handed to a socket (the tap and the kernel buffer those).
    await waitUntil(async () => upSent > 0 && (await largestIncoming(join(work, 'media'))) >= 4 * MiB, 60_000, 'a third of the cut upload on disk');
    const upVictim = nodeServing(upTap.upstreamPorts.at(-1)!)!;
    expect(upVictim).toBeDefined();
    await upVictim.kill();
    await waitUntil(() => upResumedAt > 0, 60_000, 'the cut upload resumed');
    await upVictim.start(); // started again once the resume runs elsewhere
    const upResult = await cutUpload;
    expect(upResult?.sha256).toBe(cutUp.sha);
    acked.set(cutUp.sha, upResult!.movieId);

    // 2. kill -9 the node in the middle of a download (2 MiB/s, the normal viewers' speed); it resumes on another node.
    const downTap = await startTapProxy(balancer.port);
    taps.push(downTap);
    const cutDownloader = await clientAs('cut-downloader', 'user', downTap.port);
    let downAt = 0;
    let downResumedAt = 0;
    const cutDownload = track('cut download', () =>
      cutDownloader.download(bigVideo.movieId, 'free', {
        outDir: join(work, 'cut-downloads'),
        onProgress: (done) => (downAt = done),
        onResume: (offset) => (downResumedAt = offset),
      }),
    );
    await waitUntil(() => downAt >= 2 * MiB, 60_000, 'the cut download a fifth through');
    const downVictim = nodeServing(downTap.upstreamPorts.at(-1)!)!;
    expect(downVictim).toBeDefined();
    await downVictim.kill();
    await waitUntil(() => downResumedAt > 0, 60_000, 'the cut download resumed');
    await downVictim.start();
    const downResult = await cutDownload;
    expect(downResult && sha256(await readFile(downResult.path))).toBe(big.sha);

    // 3. Rolling restart: each node in turn gets SIGTERM (exit 0), starts again, and is UP in HAProxy before the next.
    const exits: unknown[] = [];
    for (const node of nodes) {
      await balancer.waitState(node.spec.name, 'UP');
      exits.push(await node.stop());
      await node.start();
      await balancer.waitState(node.spec.name, 'UP');
    }
    expect(exits).toEqual([0, 0, 0]);

    // 4. Failed logins spread over the nodes add up: 3 via node1 and 2 via node2 block the pair on node3.
    const guessFrom = '10.66.0.7';
    const loginVia = (node: NodeProcess, password: string) => rawLogin(node.spec.port, guessFrom, 'guessed', password);
    const guesses = [
      ...(await Promise.all([0, 1, 2].map(() => loginVia(nodes[0]!, 'wrong')))),
      ...(await Promise.all([0, 1].map(() => loginVia(nodes[1]!, 'wrong')))),
    ];
    expect(guesses.map((r) => r.code)).toEqual(Array(5).fill('LOGIN_FAILED'));
    expect((await loginVia(nodes[2]!, PASSWORD)).code).toBe('LOGIN_BLOCKED');
    expect((await rawLogin(nodes[2]!.spec.port, '10.66.0.8', 'guessed', PASSWORD)).flag).toBe(true); // another client is not blocked

    // Wind down, then one last event every subscriber must get.
    running = false;
    await Promise.all(workers);
    await track('final notice', () => curator.releaseNotice('closing', 'the cluster test is done'));
    const [{ n: lastId }] = await rows<{ n: number }>('SELECT MAX(id) AS n FROM event');
    await waitUntil(() => subscribers.every((s) => seen.get(s)!.includes(Number(lastId))), 60_000, 'every subscriber at the last event');
    stop.abort();
    await Promise.all(watchers);

    const retries = stats.clients.reduce((sum, c) => sum + c.retried, 0) + stats.watcherRetries;
    const sessions = await balancer.sessions();
    console.log(
      `cluster: ${stats.requests} requests, ${retries} retries, ${stats.failures.length} failures; ${acked.size} uploads acknowledged, ` +
        `${downloads.verified} downloads verified, ${Number(lastId) - Number(startId)} events to ${subscribers.length} subscribers; ` +
        `upload cut on ${upVictim.spec.name} resumed at ${upResumedAt}, download cut on ${downVictim.spec.name} resumed at ${downResumedAt}; ` +
        `sessions per node ${JSON.stringify(Object.fromEntries(sessions))}`,
    );

    // No request failed that the client could not retry.
    expect(stats.failures).toEqual([]);
    expect(downloads.mismatched).toEqual([]);

    // Every acknowledged upload: one row, its file on disk with the right SHA-256; no upload left half-done.
    for (const [sha, movieId] of acked) {
      const stored = await rows<{ id: number; path: string }>('SELECT id, path FROM movie WHERE sha256 = ?', [sha]);
      expect(stored.map((m) => Number(m.id))).toEqual([movieId]);
      expect(sha256(await readFile(join(work, 'media', stored[0]!.path)))).toBe(sha);
    }
    expect(await rows('SELECT id FROM upload')).toEqual([]);

    // Both cut transfers resumed on a node other than the one killed under them.
    const resumedOn = (msg: string, match: (l: Record<string, unknown>) => boolean) =>
      nodes.filter((node) => node.lines().some((l) => l.msg === msg && Number(l.offset) > 0 && match(l))).map((n) => n.spec.name);
    const upOn = resumedOn('upload stored', (l) => l.movie === upResult!.movieId);
    expect(upOn).toHaveLength(1);
    expect(upOn).not.toContain(upVictim.spec.name);
    const downOn = resumedOn('download sent', (l) => l.movie === bigVideo.movieId);
    expect(downOn).toHaveLength(1);
    expect(downOn).not.toContain(downVictim.spec.name);

    // Nobody paid twice: one purchase row per viewer and paid video they downloaded, VIP bought once.
    const purchases = await rows<{ name: string; movie_id: number }>('SELECT u.name, p.movie_id FROM purchase p JOIN user u ON u.id = p.user_id');
    for (const [name, paid] of paidBy) {
      const theirs = purchases.filter((p) => p.name === name).map((p) => Number(p.movie_id));
      expect(new Set(theirs).size).toBe(theirs.length);
      for (const id of theirs) expect(paid.has(id)).toBe(true);
    }
    const vipBuys = nodes.flatMap((node) => node.lines()).filter((l) => l.msg === 'bought VIP');
    expect(vipBuys).toHaveLength(1);
    expect(await rows('SELECT name FROM user WHERE is_vip = 1')).toEqual([{ name: 'vic' }]);

    // Every subscriber got every event after its start, once, in order.
    const events = (await rows<{ id: number }>('SELECT id FROM event WHERE id > ? ORDER BY id', [startId])).map((e) => Number(e.id));
    expect(events.length).toBeGreaterThan(uploaded.length);
    for (const name of subscribers) expect(seen.get(name)).toEqual(events);

    // The balancer used every node.
    for (const node of nodes) expect(sessions.get(node.spec.name) ?? 0).toBeGreaterThan(0);
  }, 300_000);
});

/** The largest partial upload in the media store's `.incoming/` (only the cut upload grows past 3 MiB). */
async function largestIncoming(mediaDir: string): Promise<number> {
  const dir = join(mediaDir, '.incoming');
  const names = await readdir(dir).catch(() => [] as string[]);
  const sizes = await Promise.all(names.map((name) => stat(join(dir, name)).then((s) => s.size, () => 0)));
  return Math.max(0, ...sizes);
}

/** A login sent straight to a node, as the balancer would: a PROXY line naming `client` first. */
async function rawLogin(port: number, client: string, name: string, password: string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder({ maxHeaderBytes: 1024 * 1024 });
    socket.on('data', (chunk: Buffer) => {
      decoder.append(chunk);
      const event = decoder.next();
      if (event?.kind === 'header') {
        socket.destroy();
        resolve(event.header as Reply);
      }
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`no reply from the node on ${port}`)));
    socket.write(`PROXY TCP4 ${client} 127.0.0.1 40000 ${port}\r\n`);
    socket.write(encodeFrame({ type: 'login', name, password: wirePassword(password), user_type: 'user' }));
  });
}
