#!/usr/bin/env node
/**
 * `npm run bench [-- --quick] [-- --profile] [-- --only=transfers,concurrent,rate,catalog,idle,durable,events,policy,cluster] [-- --keep] [-- --clean]`
 *
 * Loopback benchmark of cinebox against baselines measured in the same run:
 *   (a) single-stream verified upload / download vs a minimal Node file->socket->file pipe;
 *   (b) 100 concurrent verified downloads: aggregate MB/s and the server's peak RSS;
 *   (c) get_movie_list request rate (SQLite, MySQL) vs a trivial framed echo server;
 *   (d) (a)-(c) across file sizes and client counts (1, 10, 100);
 *   (e) 10,000 idle connections held open: does the server still answer, at what RSS;
 *   (f) what durable uploads cost (fsync of file and directory, SQLite
 *       synchronous=FULL) next to the same uploads on a `--durable false` server;
 *   (g) catalog: get_movie_list at 100,000 videos, a 50-video page and a name search (lib/catalog.mjs).
 *   (h) 10,000 subscribers, one notice: time until the first and the last has it, vs Redis
 *       pub/sub fanning one message out to as many connections, in the same run;
 *   (p) a viewer policy's speed limit: its accuracy over a 30 s download at 10 MiB/s, and its
 *       server CPU per GiB next to an unthrottled (VIP) download of the same file.
 * The cinebox server and the baselines run as child processes (RSS from /proc); the clients
 * run here through the built client library (dist/). Results: bench/results/*.json + *.md.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readdir, rm, stat, writeFile, copyFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { arch, cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { MachineMonitor, freePort, killAllChildrenNow, pageReporting, settleDisk, startChild, tail, WARM_MAX_BYTES, warmPageCache } from './lib/proc.mjs';
import { catalogPhase } from './lib/catalog.mjs';
import { clusterPhase } from './lib/cluster.mjs';
import { renderMarkdown, renderSummary } from './lib/report.mjs';
import { MiB, mapLimit, mbps, median, now, ratio, sizeLabel, latencySummary } from './lib/stats.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');
const TMP = join(BENCH, 'tmp');
const RESULTS = join(BENCH, 'results');

const argv = process.argv.slice(2);
const flag = (name) => argv.includes(`--${name}`);
const QUICK = flag('quick');
const PROFILE = flag('profile');
const KEEP = flag('keep');
const CLEAN = flag('clean');
/** `--wait-quiet[=SECONDS]`: before starting, wait (at most SECONDS, default 300) until other processes use < 25% of the CPU. */
const WAIT_QUIET = (() => {
  const a = argv.find((x) => x === '--wait-quiet' || x.startsWith('--wait-quiet='));
  return a ? Number(a.split('=')[1] ?? 300) : 0;
})();
const ONLY = argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
/**
 * Node flags of every server child, cinebox and baselines alike: `npm start` runs the cinebox
 * server with --single-threaded-gc (docs/operations.md says why), and the baselines get the
 * same so the comparison stays like for like.
 */
const SERVER_NODE_ARGS = ['--single-threaded-gc'];
/** `--server-env=NAME=VALUE` (repeatable): extra environment for the cinebox server child, for experiments. */
const SERVER_ENV = {
  // As `npm start` runs the server (docs/operations.md): glibc keeps freed scrypt buffers in its per-thread arenas otherwise.
  MALLOC_MMAP_THRESHOLD_: '1048576',
  // Also as `npm start` sets it (docs/operations.md): with the mmap threshold fixed, glibc keeps the trim threshold at 128 KiB.
  MALLOC_TRIM_THRESHOLD_: '33554432',
  ...Object.fromEntries(
    argv.filter((a) => a.startsWith('--server-env=')).map((a) => {
      const [k, ...v] = a.slice('--server-env='.length).split('=');
      return [k, v.join('=')];
    }),
  ),
};
const runs = (phase) => !ONLY || ONLY.includes(phase);

const plan = QUICK
  ? {
      mode: 'quick',
      transferSizes: [
        [16 * MiB, 2],
        [64 * MiB, 2],
      ],
      headlineSize: 64 * MiB,
      concurrentSize: 16 * MiB,
      concurrentLevels: [1, 10, 100],
      rateLevels: [1, 10, 50],
      rateWarmupMs: 300,
      rateMeasureMs: 1500,
      idleConnections: 2000,
      eventSubscribers: 2000,
      policySeconds: 10,
      clusterRateLevels: [1, 10],
      clusterTransferSize: 16 * MiB,
      clusterRounds: 1,
      watchdogMs: 4 * 60_000,
    }
  : {
      mode: 'full',
      transferSizes: [
        [16 * MiB, 5],
        [64 * MiB, 3],
        [256 * MiB, 3],
        [1024 * MiB, 3],
      ],
      headlineSize: 1024 * MiB,
      concurrentSize: 64 * MiB,
      concurrentLevels: [1, 10, 100],
      rateLevels: [1, 10, 50, 100],
      rateWarmupMs: 1000,
      rateMeasureMs: 4000,
      idleConnections: 10_000,
      eventSubscribers: 10_000,
      policySeconds: 30,
      clusterRateLevels: [1, 50],
      clusterTransferSize: 256 * MiB,
      clusterRounds: 3,
      watchdogMs: 15 * 60_000,
    };

const ADMIN = { name: 'bench-admin', password: 'bench-admin-pw', role: 'admin' };
const VIEWER = { name: 'bench-viewer', password: 'bench-viewer-pw', role: 'user' };
const RATE_SEED_MOVIES = 10;
/** The request-rate step's viewers: one account per connection, `bench-rate-viewer-<i>`. */
const RATE_VIEWER_PREFIX = 'bench-rate-viewer-';

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const WORK = join(TMP, `run-${stamp}`);
const DATA = join(TMP, 'data');
const cleanups = [];
const log = (...parts) => console.log(`[bench ${((now() - t0) / 1000).toFixed(1).padStart(6)}s]`, ...parts);
const t0 = now();

// dist/ is imported lazily so a missing build gives a clear message instead of a stack trace.
let W;
let F;
/** The `cinebox server` flags this build knows (the CLI grows; the bench passes only what exists). */
let serverFlags = new Set();
const supports = (flag) => serverFlags.has(flag);
/** Server flags used per phase, recorded in the results. */
const phaseFlags = {};

async function main() {
  if (!existsSync(join(ROOT, 'dist/client/upload.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does it)');
  W = await import('./lib/workloads.mjs');
  F = await import('./lib/fanout.mjs');
  const help = execFileSync(process.execPath, ['dist/cli/main.js', 'server', '--help'], { cwd: ROOT, encoding: 'utf8' });
  serverFlags = new Set([...help.matchAll(/--([a-z][a-z0-9-]+)/g)].map((m) => m[1]));
  await mkdir(WORK, { recursive: true });
  await mkdir(DATA, { recursive: true });
  await mkdir(RESULTS, { recursive: true });
  log(`mode ${plan.mode}; work dir ${WORK}`);

  if (WAIT_QUIET > 0) await waitQuiet(Math.min(WAIT_QUIET, 3600));
  armWatchdog();
  const results = { meta: meta(), plan, environment: await environment(), serverFlags: phaseFlags, serverEnv: SERVER_ENV, serverNodeArgs: SERVER_NODE_ARGS };
  // The 1.3 GiB of random sources are made only for the phases that send them.
  const sources = runs('transfers') || runs('concurrent') ? await prepareSources() : new Map();

  const machine = new MachineMonitor();
  const whole = machine.checkpoint();
  results.otherLoad = { loadavgAtStart: loadavg()[0] };
  const phase = async (name, fn) => {
    const mark = machine.checkpoint();
    const result = await fn();
    results.otherLoad[name] = machine.since(mark);
    return result;
  };
  if (runs('transfers')) results.transfers = await phase('transfers', () => transfersPhase(sources));
  if (runs('concurrent')) results.concurrent = await phase('concurrent', () => concurrentPhase(sources, results.transfers));
  if (runs('rate')) results.rate = await phase('rate', () => ratePhase());
  if (runs('catalog')) results.catalog = await phase('catalog', () => catalogPhase(catalogContext()));
  if (runs('idle')) results.idle = await phase('idle', () => idlePhase());
  if (runs('durable')) results.durable = await phase('durable', () => durablePhase());
  if (runs('events')) results.events = await phase('events', () => eventsPhase());
  if (runs('policy')) results.policy = await phase('policy', () => policyPhase());
  if (runs('cluster')) results.cluster = await phase('cluster', () => clusterPhase(clusterContext()));
  results.otherLoad.run = machine.since(whole);
  results.otherLoad.peakPct = machine.peakOtherPct;
  results.otherLoad.loadavgAtEnd = loadavg()[0];
  machine.stop();
  results.meta.seconds = Math.round((now() - t0) / 100) / 10;
  const reportedAtStart = results.meta.pageReporting.reportedKiB;
  const reportedAtEnd = pageReporting().reportedKiB;
  if (reportedAtStart !== undefined && reportedAtEnd !== undefined) results.meta.pageReporting.reportedKiBDuringRun = reportedAtEnd - reportedAtStart;
  log(`CPU used by other processes and kernel threads during the run: ${results.otherLoad.run.toFixed(0)}% of the machine (peak ${results.otherLoad.peakPct.toFixed(0)}% over 0.5 s)`);

  results.targets = evaluateTargets(results);
  await writeResults(results);
  console.log('\n' + renderSummary(results));
}

// ---------------------------------------------------------------- setup

async function waitQuiet(maxSeconds) {
  const monitor = new MachineMonitor(250);
  const until = Date.now() + maxSeconds * 1000;
  for (;;) {
    const mark = monitor.checkpoint();
    await sleep(3000);
    const other = monitor.since(mark);
    if (other < 25) {
      log(`machine quiet enough: other processes used ${other.toFixed(0)}% of the CPU over 3 s`);
      break;
    }
    if (Date.now() > until) {
      log(`still busy after ${maxSeconds} s (others use ${other.toFixed(0)}% of the CPU); running anyway`);
      break;
    }
    log(`waiting for a quieter machine: others use ${other.toFixed(0)}% of the CPU`);
  }
  monitor.stop();
}

function meta() {
  const git = (...a) => {
    try {
      return execFileSync('git', a, { cwd: ROOT, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    date: new Date().toISOString(),
    mode: plan.mode,
    node: process.version,
    platform: `${platform()} ${release()} ${arch()}`,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    commit: git('rev-parse', '--short', 'HEAD'),
    uncommittedSrcFiles: git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length,
    mbDefinition: 'MB = 10^6 bytes; MiB/GiB = 2^20/2^30 bytes',
    pageReporting: pageReporting(),
    /** warmPageCache() before every timed transfer step: scratch file = factor x the step's bytes, at most maxBytes. */
    pageCacheWarming: { factor: WARM_FACTOR, maxBytes: WARM_MAX_BYTES },
    notes: [
      'Loopback only. Client (this process) and server (a child process) share the same 2 cores.',
      'The page cache cannot be dropped here (no root): source files are read from the page cache, ' +
        'and written files go to the page cache. The baselines never fsync; cinebox, durable by default, syncs each uploaded file and ' +
        'the media directory once before it acknowledges (phase durable measures that against --durable false). Dirty pages ' +
        'are synced (untimed) before each timed step so one step\'s writeback does not tax the next.',
    ],
  };
}

/** Reference speeds of this machine: SHA-256 in memory, writing a new file, reading a cached file. */
async function environment() {
  const size = (QUICK ? 64 : 256) * MiB;
  const buffer = randomBytes(size);
  let t = now();
  createHash('sha256').update(buffer).digest();
  const sha256MBps = mbps(size, now() - t);
  const path = join(WORK, 'env-write.bin');
  beforeTimedStep(size); // like every timed transfer step: written into warm pages
  t = now();
  const out = createWriteStream(path);
  for (let off = 0; off < size; off += MiB) if (!out.write(buffer.subarray(off, off + MiB))) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  const newFileWriteMBps = mbps(size, now() - t);
  t = now();
  for await (const _ of createReadStream(path, { highWaterMark: MiB })); // eslint-disable-line no-unused-vars
  const cachedReadMBps = mbps(size, now() - t);
  await rm(path);
  const env = { sha256MBps, newFileWriteMBps, cachedReadMBps, probeBytes: size };
  log(`environment: sha256 ${sha256MBps.toFixed(0)} MB/s, new-file write ${newFileWriteMBps.toFixed(0)} MB/s, cached read ${cachedReadMBps.toFixed(0)} MB/s`);
  return env;
}

/** Random source files, generated once and cached under bench/tmp/data/ (gitignored). */
async function prepareSources() {
  const sizes = new Set([...plan.transferSizes.map(([s]) => s), plan.concurrentSize]);
  const sources = new Map();
  for (const size of [...sizes].sort((a, b) => a - b)) sources.set(size, await randomSource(size));
  return sources;
}

async function randomSource(size) {
  const path = join(DATA, `random-${size}.bin`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.size === size) return path;
  log(`generating ${sizeLabel(size)} of random data -> ${path}`);
  const out = createWriteStream(path);
  const chunk = Buffer.allocUnsafe(4 * MiB);
  for (let off = 0; off < size; off += chunk.length) {
    randomFillSync(chunk);
    if (!out.write(Buffer.from(chunk.subarray(0, Math.min(chunk.length, size - off))))) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  return path;
}

// ---------------------------------------------------------------- servers

/**
 * The bench's viewers are normal viewers, whom the server's viewer policies throttle and cap by
 * default (docs/policies.md); every step but the policy one measures the server without them.
 */
const UNLIMITED_VIEWERS = ['--normal-speed', 'unlimited', '--normal-daily', 'unlimited', '--normal-daily-count', '0', '--normal-max-sessions', '0'];

async function startCinebox(label, { db, mediaDir, extraArgs = [], policyArgs = supports('normal-speed') ? UNLIMITED_VIEWERS : [], listenTimeoutMs }) {
  const port = await freePort();
  extraArgs = [...policyArgs, ...extraArgs];
  phaseFlags[label] = extraArgs.join(' ') || '(defaults)';
  const profile = PROFILE ? ['--cpu-prof', '--cpu-prof-dir', join(WORK, 'prof'), '--cpu-prof-name', `${label}.cpuprofile`] : [];
  const nodeArgs = [...SERVER_NODE_ARGS, ...profile];
  const server = await startChild({
    name: `cinebox server (${label})`,
    cwd: ROOT,
    nodeArgs,
    timeoutMs: listenTimeoutMs,
    args: [
      'dist/cli/main.js',
      'server',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--db',
      db,
      '--media-dir',
      mediaDir,
      '--admin-code',
      W.ADMIN_CODE,
      '--free-wait',
      '0',
      '--log-level',
      'warn',
      ...extraArgs,
    ],
    env: Object.keys(SERVER_ENV).length ? { ...process.env, ...SERVER_ENV } : undefined,
    logPath: join(WORK, `server-${label}.log`),
    port,
  });
  cleanups.push(() => server.stop());
  await sleep(200);
  server.startRss = server.mon.memory().rss;
  return server;
}

/** The two baseline variants: Node's default stream buffers, and 1 MiB fs buffers. The faster one is the reference. */
const BASELINES = [
  { key: 'default', hwm: 0, label: 'Node defaults' },
  { key: 'mib', hwm: MiB, label: '1 MiB fs buffers' },
];

async function startPipeBaseline(label, src, hwm, { hashBytes = 0 } = {}) {
  const sendPort = await freePort();
  const recvPort = await freePort();
  const recvDir = join(WORK, `pipe-recv-${label}`);
  await mkdir(recvDir, { recursive: true });
  const child = await startChild({
    name: `pipe baseline (${label})`,
    cwd: ROOT,
    nodeArgs: SERVER_NODE_ARGS,
    args: [
      'bench/lib/baseline-server.mjs', 'pipe', '--send-port', String(sendPort), '--send', src, '--recv-port', String(recvPort), '--recv-dir', recvDir, '--hwm', String(hwm),
      ...(hashBytes > 0 ? ['--hash', '1', '--expect', String(hashBytes)] : []),
    ],
    logPath: join(WORK, `baseline-${label}.log`),
    port: recvPort,
  });
  for (let i = 0; i < 100 && !(await portOpen(sendPort)); i++) await sleep(20);
  cleanups.push(() => child.stop());
  return Object.assign(child, { sendPort, recvPort, recvDir, hwm });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

async function ensureAccounts(port) {
  await W.register(port, ADMIN.name, ADMIN.password, ADMIN.role);
  await W.register(port, VIEWER.name, VIEWER.password, VIEWER.role);
}
const loginAdmin = (port) => W.login(port, ADMIN.name, ADMIN.password, ADMIN.role);
const loginViewer = (port) => W.login(port, VIEWER.name, VIEWER.password, VIEWER.role);

async function emptyDir(dir) {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)).catch((error) => {
      throw new Error(`${what}: ${error.message}`, { cause: error });
    }),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s`)), ms);
    }),
  ]);
}

function clientCpu() {
  const start = process.cpuUsage();
  return () => {
    const d = process.cpuUsage(start);
    return (d.user + d.system) / 1e6;
  };
}

const WARM_FACTOR = 1.25;
/** Untimed milliseconds spent in warmPageCache() (logged per phase). */
let warmingMs = 0;

/**
 * Untimed, immediately before every timed transfer step (start its timer right after): sync
 * dirty pages (settleDisk), then write and delete a scratch file 1.25 x what the step will write
 * (warmPageCache), so every step, baseline and cinebox alike, writes into the same just-freed
 * ("warm") guest memory instead of whatever the previous step happened to leave (bench/README.md: free
 * page reporting).
 */
function beforeTimedStep(bytesWritten) {
  settleDisk();
  warmingMs += warmPageCache(WORK, WARM_FACTOR * bytesWritten);
}

// ---------------------------------------------------------------- (p): the viewer policy's speed limit

/**
 * One file downloaded by a normal viewer at `--normal-speed 10M` for plan.policySeconds, then by
 * a VIP (unthrottled) on the same server: the limit's accuracy (achieved / configured, which
 * includes the 250 ms burst an idle account starts with) and the server CPU per GiB of each.
 * The client drops the bytes (rawDownload), so the client's hashing does not load the machine.
 */
async function policyPhase() {
  const speed = 10 * MiB;
  const size = speed * plan.policySeconds;
  log(`phase policy: ${sizeLabel(size)} at --normal-speed 10M (${plan.policySeconds} s), then unthrottled as a VIP`);
  if (!supports('normal-speed')) return { skipped: 'this build has no --normal-speed' };
  const src = await randomSource(size);
  const policyArgs = ['--normal-speed', '10M', '--normal-daily', 'unlimited', '--normal-daily-count', '0', '--normal-max-sessions', '0'];
  const server = await startCinebox('policy', { db: `sqlite:${join(WORK, 'policy.db')}`, mediaDir: join(WORK, 'media-policy'), policyArgs });
  await ensureAccounts(server.port);
  await W.register(server.port, 'bench-vip', 'bench-vip-pw', 'user');
  const admin = await loginAdmin(server.port);
  const { movieId } = await W.cineboxUpload(admin, src, 'policy.bin');
  const vip = await W.login(server.port, 'bench-vip', 'bench-vip-pw', 'user');
  await vip.call('buy_vip', {});
  const measure = async (conn, label) => {
    await sleep(500);
    server.mon.begin();
    const client = clientCpu();
    const down = await withTimeout(W.rawDownload(conn, movieId), plan.policySeconds * 4000 + 60_000, `${label} download`);
    const serverCpuS = server.mon.end().cpuSeconds;
    const mibps = size / MiB / (down.ms / 1000);
    log(`  ${label}: ${(down.ms / 1000).toFixed(2)} s, ${mibps.toFixed(2)} MiB/s, server CPU ${serverCpuS.toFixed(3)} s`);
    return { seconds: down.ms / 1000, mibps, serverCpuS, serverCpuSPerGiB: serverCpuS / (size / 2 ** 30), clientCpuS: client() };
  };
  // What the server burns doing nothing (timers, GC) over as long: the throttled download's share of it is not the limit's cost.
  server.mon.begin();
  await sleep(plan.policySeconds * 1000 / 3);
  const idleCpuSPerS = server.mon.end().cpuSeconds / (plan.policySeconds / 3);
  const throttled = await measure(await loginViewer(server.port), 'throttled (normal viewer, 10 MiB/s)');
  const unthrottled = await measure(vip, 'unthrottled (VIP)');
  throttled.serverCpuSPerGiBLessIdle = (throttled.serverCpuS - idleCpuSPerS * throttled.seconds) / (size / 2 ** 30);
  log(`  idle server: ${(idleCpuSPerS * 1000).toFixed(1)} ms CPU per s; throttled less idle: ${throttled.serverCpuSPerGiBLessIdle.toFixed(3)} s per GiB`);
  return { size, speedMiBps: speed / MiB, idleCpuSPerS, throttled, unthrottled, accuracy: throttled.mibps / (speed / MiB) - 1 };
}

// ---------------------------------------------------------------- (a) + (d): single-stream transfers by size

async function transfersPhase(sources) {
  log('phase transfers: single-stream upload/download vs baseline pipe');
  const server = await startCinebox('transfers', { db: `sqlite:${join(WORK, 'transfers.db')}`, mediaDir: join(WORK, 'media') });
  await ensureAccounts(server.port);
  const admin = await loginAdmin(server.port);
  const viewer = await loginViewer(server.port);
  const dlDir = join(WORK, 'downloads');
  await mkdir(dlDir, { recursive: true });
  const rows = [];
  const movies = {};
  for (const [size, reps] of plan.transferSizes) {
    const src = sources.get(size);
    const bases = [];
    for (const b of BASELINES) bases.push(Object.assign(await startPipeBaseline(`s${size}-${b.key}`, src, b.hwm), { key: b.key }));
    // diagnostic: the 1 MiB pipe plus SHA-256 where verification needs it, on cinebox's off-thread sink
    const hashed = await startPipeBaseline(`s${size}-hashed`, src, MiB, { hashBytes: size });
    const m = { up: [], down: [], rawDown: [], hashedUp: [], hashedDown: [], serverPeakRss: 0, upServerCpuS: [], downServerCpuS: [], downClientCpuS: [], upClientCpuS: [] };
    for (const b of bases) Object.assign(m, { [`baselineUp_${b.key}`]: [], [`baselineDown_${b.key}`]: [], [`baselineUpCpuS_${b.key}`]: [], [`baselineDownCpuS_${b.key}`]: [] });
    let movieId;
    const budget = Math.max(60_000, (size / MiB) * 400); // generous per-step bound
    for (let rep = 0; rep < reps; rep++) {
      // baseline uploads: client file -> socket -> server file
      for (const base of bases) {
        await emptyDir(base.recvDir); // also drops the empty file left by the readiness probe
        beforeTimedStep(size);
        const cpuUp = clientCpu();
        const serverCpuUp = base.mon.cpuSeconds();
        const upMs = await withTimeout(W.pipeUpload(base.recvPort, src, base.hwm), budget, 'baseline upload');
        m[`baselineUpCpuS_${base.key}`].push(cpuUp() + base.mon.cpuSeconds() - serverCpuUp);
        const received = await readdir(base.recvDir);
        const got = Math.max(0, ...(await Promise.all(received.map(async (f) => (await stat(join(base.recvDir, f))).size))));
        if (got !== size) throw new Error(`baseline upload wrote ${got} bytes, expected ${size}`);
        await emptyDir(base.recvDir);
        m[`baselineUp_${base.key}`].push(mbps(size, upMs));
      }

      // hashed pipe upload: both ends hash, as a verified upload must
      await emptyDir(hashed.recvDir);
      beforeTimedStep(size);
      const hashedUpMs = await withTimeout(W.hashedPipeUpload(hashed.recvPort, src, MiB, size), budget, 'hashed pipe upload');
      await emptyDir(hashed.recvDir);
      m.hashedUp.push(mbps(size, hashedUpMs));

      // cinebox verified upload (transfer hashed on both sides + trailer + compare + rename + row)
      // (delete_movie soft-deletes: the previous file stays on disk and in the page cache, nothing is freed)
      if (movieId) await admin.call('delete_movie', { movie_id: movieId });
      beforeTimedStep(size);
      server.mon.begin();
      let cpu = clientCpu();
      const up = await withTimeout(W.cineboxUpload(admin, src, `bench-${size}-r${rep}.bin`), budget, 'cinebox upload');
      m.upClientCpuS.push(cpu());
      let mem = server.mon.end();
      m.upServerCpuS.push(mem.cpuSeconds);
      m.serverPeakRss = Math.max(m.serverPeakRss, mem.peakRss);
      movieId = up.movieId;
      m.up.push(mbps(size, up.ms));

      // baseline downloads: server file -> socket -> client file
      for (const base of bases) {
        beforeTimedStep(size);
        const cpuDown = clientCpu();
        const serverCpuDown = base.mon.cpuSeconds();
        const bd = await withTimeout(W.pipeDownload(base.sendPort, join(dlDir, 'baseline.bin'), base.hwm), budget, 'baseline download');
        m[`baselineDownCpuS_${base.key}`].push(cpuDown() + base.mon.cpuSeconds() - serverCpuDown);
        if (bd.bytes !== size) throw new Error(`baseline download got ${bd.bytes} bytes, expected ${size}`);
        await emptyDir(dlDir);
        m[`baselineDown_${base.key}`].push(mbps(size, bd.ms));
      }

      // hashed pipe download: the receiver hashes, as a verified download must
      beforeTimedStep(size);
      const hd = await withTimeout(W.hashedPipeDownload(hashed.sendPort, join(dlDir, 'hashed.bin'), MiB, size), budget, 'hashed pipe download');
      if (hd.bytes !== size) throw new Error(`hashed pipe download got ${hd.bytes} bytes, expected ${size}`);
      await emptyDir(dlDir);
      m.hashedDown.push(mbps(size, hd.ms));

      // cinebox verified download (client hashes while writing .part, renames after the check)
      beforeTimedStep(size);
      server.mon.begin();
      cpu = clientCpu();
      const down = await withTimeout(W.cineboxDownload(viewer, movieId, dlDir), budget, 'cinebox download');
      m.downClientCpuS.push(cpu());
      mem = server.mon.end();
      m.downServerCpuS.push(mem.cpuSeconds);
      m.serverPeakRss = Math.max(m.serverPeakRss, mem.peakRss);
      if (down.bytes !== size) throw new Error(`cinebox download got ${down.bytes} bytes, expected ${size}`);
      await emptyDir(dlDir);
      m.down.push(mbps(size, down.ms));

      // diagnostic: the same download, bytes dropped by the client (no hash, no disk); same
      // preparation as the other steps although nothing is written (the server's buffers are new memory too)
      beforeTimedStep(size);
      const raw = await withTimeout(W.rawDownload(viewer, movieId), budget, 'raw download');
      m.rawDown.push(mbps(raw.bytes, raw.ms));
    }
    // diagnostic: the client's whole-file SHA-256 pass alone (uploadFile does it before sending only when a stored video shares the file's quick fingerprint)
    const { sha256OfFile } = await import('../dist/transfer/file-hash.js');
    let t = now();
    await sha256OfFile(src);
    const prehashMBps = mbps(size, now() - t);
    for (const base of bases) await base.stop();
    await hashed.stop();
    movies[size] = movieId;
    const upBy = Object.fromEntries(bases.map((b) => [b.key, median(m[`baselineUp_${b.key}`])]));
    const downBy = Object.fromEntries(bases.map((b) => [b.key, median(m[`baselineDown_${b.key}`])]));
    const baselineUpMBps = Math.max(...Object.values(upBy));
    const baselineDownMBps = Math.max(...Object.values(downBy));
    // CPU seconds per GB, both processes together: less sensitive than MB/s to other load on the machine.
    const perGB = (seconds) => seconds / (size / 1e9);
    const bestUp = bases.find((b) => upBy[b.key] === baselineUpMBps).key;
    const bestDown = bases.find((b) => downBy[b.key] === baselineDownMBps).key;
    const cpu = {
      baselineUp: perGB(median(m[`baselineUpCpuS_${bestUp}`])),
      upload: perGB(median(m.up.map((_, i) => m.upServerCpuS[i] + m.upClientCpuS[i]))),
      baselineDown: perGB(median(m[`baselineDownCpuS_${bestDown}`])),
      download: perGB(median(m.down.map((_, i) => m.downServerCpuS[i] + m.downClientCpuS[i]))),
    };
    const row = {
      sizeBytes: size,
      size: sizeLabel(size),
      reps,
      baselineUpByVariant: upBy,
      baselineDownByVariant: downBy,
      baselineUpMBps,
      uploadMBps: median(m.up),
      uploadRatio: ratio(median(m.up), baselineUpMBps),
      baselineDownMBps,
      downloadMBps: median(m.down),
      downloadRatio: ratio(median(m.down), baselineDownMBps),
      rawDownloadMBps: median(m.rawDown),
      hashedUpMBps: median(m.hashedUp),
      hashedUpRatio: ratio(median(m.hashedUp), baselineUpMBps),
      hashedDownMBps: median(m.hashedDown),
      hashedDownRatio: ratio(median(m.hashedDown), baselineDownMBps),
      clientPrehashMBps: prehashMBps,
      uploadServerCpuS: median(m.upServerCpuS),
      uploadClientCpuS: median(m.upClientCpuS),
      cpuSecondsPerGB: cpu,
      uploadCpuRatio: ratio(cpu.upload, cpu.baselineUp),
      downloadCpuRatio: ratio(cpu.download, cpu.baselineDown),
      downloadServerCpuS: median(m.downServerCpuS),
      downloadClientCpuS: median(m.downClientCpuS),
      serverPeakRss: m.serverPeakRss,
      samples: m,
    };
    rows.push(row);
    log(
      `  ${row.size}: upload ${row.uploadMBps.toFixed(0)} MB/s (${row.uploadRatio.toFixed(2)}x of ${row.baselineUpMBps.toFixed(0)}), ` +
        `download ${row.downloadMBps.toFixed(0)} MB/s (${row.downloadRatio.toFixed(2)}x of ${row.baselineDownMBps.toFixed(0)}), ` +
        `raw download ${row.rawDownloadMBps.toFixed(0)} MB/s, hashed pipe ${row.hashedUpMBps.toFixed(0)} up / ${row.hashedDownMBps.toFixed(0)} down MB/s, client whole-file hash ${prehashMBps.toFixed(0)} MB/s, server peak RSS ${(m.serverPeakRss / 1e6).toFixed(0)} MB`,
    );
  }
  W.closeClient(admin);
  W.closeClient(viewer);
  await server.stop();
  log(`  (untimed page-cache warming before the steps: ${(warmingMs / 1000).toFixed(1)} s in all)`);
  warmingMs = 0;
  return { rows, movies };
}

// ---------------------------------------------------------------- (b) + (d): concurrent downloads

async function concurrentPhase(sources, transfers) {
  const size = plan.concurrentSize;
  const src = sources.get(size);
  log(`phase concurrent: ${plan.concurrentLevels.join('/')} concurrent downloads of ${sizeLabel(size)}`);
  // A fresh server process on the same database and media, so its RSS is this phase's alone.
  const server = await startCinebox('concurrent', { db: `sqlite:${join(WORK, 'transfers.db')}`, mediaDir: join(WORK, 'media') });
  await ensureAccounts(server.port);
  let movieId = transfers?.movies?.[size];
  if (!movieId) {
    const admin = await loginAdmin(server.port);
    movieId = (await W.cineboxUpload(admin, src, `bench-${size}-concurrent.bin`)).movieId;
    W.closeClient(admin);
  }
  const bases = [];
  for (const b of BASELINES) bases.push(Object.assign(await startPipeBaseline(`concurrent-${b.key}`, src, b.hwm), { key: b.key }));
  const maxClients = Math.max(...plan.concurrentLevels);
  let t = now();
  const viewers = await W.loginMany(server.port, maxClients, VIEWER.name, VIEWER.password, VIEWER.role);
  log(`  ${maxClients} viewer connections logged in (${((now() - t) / 1000).toFixed(1)} s: one scrypt per login)`);
  const idleRss = server.mon.memory().rss;
  const dl = join(WORK, 'downloads-concurrent');
  const rows = [];
  for (const clients of plan.concurrentLevels) {
    const budget = Math.max(60_000, ((clients * size) / MiB) * 100);
    const total = clients * size;
    // baselines: `clients` plain pipes from a baseline child into `clients` files (both variants, keep the faster)
    const baseBy = {};
    const baseCpuBy = {};
    let baseMem = { peakRss: 0 };
    for (const base of bases) {
      await emptyDir(dl);
      beforeTimedStep(total); // capped at WARM_MAX_BYTES (lib/proc.mjs)
      base.mon.begin();
      const baseClientCpu = clientCpu();
      t = now();
      const bs = await withTimeout(
        Promise.all(Array.from({ length: clients }, (_, i) => W.pipeDownload(base.sendPort, join(dl, `b${i}.bin`), base.hwm))),
        budget,
        'baseline concurrent downloads',
      );
      baseBy[base.key] = mbps(total, now() - t);
      const mem = base.mon.end();
      baseCpuBy[base.key] = (mem.cpuSeconds + baseClientCpu()) / (total / 1e9);
      if (baseBy[base.key] === Math.max(...Object.values(baseBy))) baseMem = mem;
      if (bs.some((b) => b.bytes !== size)) throw new Error('a baseline concurrent download was short');
    }
    const baselineMBps = Math.max(...Object.values(baseBy));
    const baselineCpuPerGB = baseCpuBy[Object.keys(baseBy).find((k) => baseBy[k] === baselineMBps)];
    await emptyDir(dl);

    // cinebox verified downloads
    beforeTimedStep(total);
    server.mon.begin();
    let cpu = clientCpu();
    t = now();
    const ds = await withTimeout(
      Promise.all(viewers.slice(0, clients).map((v, i) => W.cineboxDownload(v, movieId, join(dl, `c${i}`)))),
      budget,
      'cinebox concurrent downloads',
    );
    const ms = now() - t;
    const clientCpuS = cpu();
    const mem = server.mon.end();
    if (ds.some((d) => d.bytes !== size)) throw new Error('a cinebox concurrent download was short');
    const perClient = ds.map((d) => mbps(size, d.ms));
    await emptyDir(dl);

    // diagnostic: the same downloads with the bytes dropped by the client (no hash, no disk)
    beforeTimedStep(total);
    server.mon.begin();
    cpu = clientCpu();
    t = now();
    await withTimeout(Promise.all(viewers.slice(0, clients).map((v) => W.rawDownload(v, movieId))), budget, 'raw concurrent downloads');
    const rawMs = now() - t;
    const rawClientCpuS = cpu();
    const rawMem = server.mon.end();

    const row = {
      clients,
      sizeBytes: size,
      size: sizeLabel(size),
      baselineByVariant: baseBy,
      baselineMBps,
      baselinePeakRss: baseMem.peakRss,
      verifiedMBps: mbps(total, ms),
      ratio: ratio(mbps(total, ms), baselineMBps),
      cpuPerGB: (mem.cpuSeconds + clientCpuS) / (total / 1e9),
      baselineCpuPerGB,
      serverPeakRss: mem.peakRss,
      serverStartRss: server.startRss,
      serverIdleRss: idleRss,
      serverCpuS: mem.cpuSeconds,
      clientCpuS: clientCpuS,
      wallS: ms / 1000,
      slowestClientMBps: Math.min(...perClient),
      fastestClientMBps: Math.max(...perClient),
      rawMBps: mbps(total, rawMs),
      rawServerPeakRss: rawMem.peakRss,
      rawServerCpuS: rawMem.cpuSeconds,
      rawClientCpuS,
    };
    rows.push(row);
    log(
      `  ${clients} clients: verified ${row.verifiedMBps.toFixed(0)} MB/s (${row.ratio.toFixed(2)}x of baseline ${row.baselineMBps.toFixed(0)}), ` +
        `server peak RSS ${(row.serverPeakRss / 1e6).toFixed(0)} MB; raw ${row.rawMBps.toFixed(0)} MB/s, peak RSS ${(row.rawServerPeakRss / 1e6).toFixed(0)} MB`,
    );
  }
  await rm(dl, { recursive: true, force: true });
  for (const v of viewers) W.closeClient(v);
  for (const base of bases) await base.stop();
  await server.stop();
  log(`  (untimed page-cache warming before the steps: ${(warmingMs / 1000).toFixed(1)} s in all)`);
  warmingMs = 0;
  return { rows };
}

// ---------------------------------------------------------------- (c) + (d): request rate

async function seedRateServer(server) {
  await ensureAccounts(server.port);
  const admin = await loginAdmin(server.port);
  const list = await admin.request({ type: 'get_movie_list', session: admin.session, movie_type: 'all' });
  const have = Array.isArray(list.movie_list) ? list.movie_list.length : 0;
  const seedDir = join(WORK, 'seed');
  await mkdir(seedDir, { recursive: true });
  for (let i = have; i < RATE_SEED_MOVIES; i++) {
    const path = join(seedDir, `seed-movie-${i}.mp4`);
    await writeFile(path, randomBytes(4096));
    await W.cineboxUpload(admin, path, `Seed movie number ${i}.mp4`);
  }
  W.closeClient(admin);
}

async function rateSeries(label, server, conns) {
  const rows = [];
  for (const clients of plan.rateLevels) {
    let serverCpu0 = 0;
    let clientCpuDone;
    let serverCpuS = 0;
    let clientCpuS = 0;
    server.mon.begin();
    const r = await withTimeout(
      W.requestRate(conns.slice(0, clients), {
        warmupMs: plan.rateWarmupMs,
        measureMs: plan.rateMeasureMs,
        onWindow(edge) {
          if (edge === 'start') {
            serverCpu0 = server.mon.cpuSeconds();
            clientCpuDone = clientCpu();
          } else {
            serverCpuS = server.mon.cpuSeconds() - serverCpu0;
            clientCpuS = clientCpuDone();
          }
        },
      }),
      plan.rateWarmupMs + plan.rateMeasureMs + 60_000,
      `${label} request rate with ${clients} clients`,
    );
    const mem = server.mon.end();
    const row = {
      ...r,
      serverCpuPct: (serverCpuS / r.seconds) * 100,
      clientCpuPct: (clientCpuS / r.seconds) * 100,
      serverCpuUsPerRequest: (serverCpuS / r.requests) * 1e6,
      serverPeakRss: mem.peakRss,
    };
    rows.push(row);
    log(
      `  ${label} ${clients} clients: ${row.rps.toFixed(0)} req/s, mean ${row.meanMs.toFixed(3)} ms, p99 ${row.p99Ms.toFixed(3)} ms ` +
        `(server CPU ${row.serverCpuPct.toFixed(0)}% = ${row.serverCpuUsPerRequest.toFixed(1)} µs/request, client CPU ${row.clientCpuPct.toFixed(0)}%)`,
    );
  }
  return rows;
}

async function cineboxRate(label, db, mediaDir) {
  // The per-connection request limit (default 1000/s, burst 2000) would cut a back-to-back
  // client off mid-measurement; the bench measures capacity, so it is switched off here.
  const extraArgs = supports('max-request-rate') ? ['--max-request-rate', '0'] : [];
  const server = await startCinebox(`rate-${label}`, { db, mediaDir, extraArgs });
  await seedRateServer(server);
  // Each connection is its own viewer, as with real clients: the server cannot serve many
  // connections' session checks with one user row.
  const check = W.movieListCheck(RATE_SEED_MOVIES);
  const clients = await W.leanClients(server.port, Math.max(...plan.rateLevels), async (client, i) => {
    client.session = await W.leanViewerLogin(client, `${RATE_VIEWER_PREFIX}${i}`, VIEWER.password);
    client.prepare({ type: 'get_movie_list', session: client.session, movie_type: 'all' }, check);
  });
  if (new Set(clients.map((c) => c.session)).size !== clients.length) throw new Error('rate clients do not have a session each');
  const sample = await clients[0].call({ type: 'get_movie_list', session: clients[0].session, movie_type: 'all' });
  if (check(sample) !== undefined) throw new Error(`unexpected list reply: ${JSON.stringify(sample).slice(0, 200)}`);
  const rows = await rateSeries(label, server, clients);
  for (const c of clients) c.close();
  await server.stop();
  return { rows, viewers: clients.length, sampleReply: sample, replyBytes: Buffer.byteLength(JSON.stringify(sample)) + 4 };
}

async function openMysql() {
  try {
    const mysql = (await import('mysql2/promise')).default;
    const admin = await mysql.createConnection({ host: '127.0.0.1', port: 3306, user: 'root', connectTimeout: 3000 });
    const name = `cinebox_bench_${randomBytes(4).toString('hex')}`;
    await admin.query(`CREATE DATABASE \`${name}\``);
    let dropped = false;
    const drop = async () => {
      if (dropped) return;
      dropped = true;
      await admin.query(`DROP DATABASE IF EXISTS \`${name}\``).catch(() => undefined);
      await admin.end().catch(() => undefined);
    };
    cleanups.push(drop);
    return { url: `mysql://root@127.0.0.1:3306/${name}`, name, drop };
  } catch (error) {
    return { skipped: `MySQL at 127.0.0.1:3306 not reachable (${error.code ?? error.message})` };
  }
}

async function ratePhase() {
  log(`phase rate: get_movie_list with ${plan.rateLevels.join('/')} clients, ${plan.rateMeasureMs / 1000} s each`);
  const sqlite = await cineboxRate('sqlite', `sqlite:${join(WORK, 'rate.db')}`, join(WORK, 'media-rate'));

  const replyPath = join(WORK, 'echo-reply.json');
  await writeFile(replyPath, JSON.stringify(sqlite.sampleReply));
  const echoPort = await freePort();
  const echo = await startChild({
    name: 'echo baseline',
    cwd: ROOT,
    nodeArgs: SERVER_NODE_ARGS,
    args: ['bench/lib/baseline-server.mjs', 'echo', '--port', String(echoPort), '--reply', replyPath],
    logPath: join(WORK, 'baseline-echo.log'),
    port: echoPort,
  });
  cleanups.push(() => echo.stop());
  // The same lean client and the same request size (a session-sized token); the canned reply
  // is cinebox's own list, so the same check holds for every echo reply.
  const echoRequest = { type: 'get_movie_list', session: 'x'.repeat(43), movie_type: 'all' };
  const echoClients = await W.leanClients(echoPort, Math.max(...plan.rateLevels), (client) =>
    client.prepare(echoRequest, W.movieListCheck(RATE_SEED_MOVIES)),
  20);
  const echoRows = await rateSeries('echo', echo, echoClients);
  for (const c of echoClients) c.close();
  await echo.stop();

  let mysql;
  const db = await openMysql();
  if (db.skipped) {
    log(`  mysql skipped: ${db.skipped}`);
    mysql = { skipped: db.skipped };
  } else {
    mysql = await cineboxRate('mysql', db.url, join(WORK, 'media-rate-mysql'));
    await db.drop();
  }
  delete sqlite.sampleReply;
  if (mysql.sampleReply) delete mysql.sampleReply;
  return { replyBytes: sqlite.replyBytes, moviesListed: RATE_SEED_MOVIES, echo: { rows: echoRows }, sqlite, mysql };
}

// ---------------------------------------------------------------- (g): catalog (lib/catalog.mjs)

function catalogContext() {
  return {
    root: ROOT, work: WORK, W, log, startCinebox, startChild, freePort, rateSeries, writeFile,
    serverNodeArgs: SERVER_NODE_ARGS, viewerPassword: VIEWER.password, levels: [50],
  };
}

// ---------------------------------------------------------------- (i): cluster (lib/cluster.mjs)

function clusterContext() {
  return {
    root: ROOT, work: WORK, W, log, plan, cleanups, startCinebox, freePort, openMysql, seedRateServer, loginAdmin, loginViewer, settleDisk, rm,
    supports, viewerPassword: VIEWER.password,
    writeRandom: async (path, size) => writeFile(path, randomBytes(size)),
  };
}

// ---------------------------------------------------------------- (e): idle connections

async function idlePhase() {
  const count = plan.idleConnections;
  log(`phase idle: ${count} idle connections held open`);
  const server = await startCinebox('idle', { db: `sqlite:${join(WORK, 'rate.db')}`, mediaDir: join(WORK, 'media-rate') });
  await seedRateServer(server);
  await sleep(300);
  server.mon.begin();
  const rssBefore = server.mon.memory().rss;
  const sockets = [];
  let closedEarly = 0;
  const deadline = Date.now() + 120_000;
  // Spread over source addresses 127.0.0.2, .3, ... (all loopback): at most PER_ADDRESS each, under
  // the server's per-address connection cap (default 256), which this test does not lift.
  const PER_ADDRESS = 200;
  const openOne = (index) =>
    new Promise((resolve, reject) => {
      const localAddress = `127.0.${Math.floor(index / PER_ADDRESS / 250)}.${2 + (Math.floor(index / PER_ADDRESS) % 250)}`;
      const s = connect({ host: '127.0.0.1', port: server.port, localAddress });
      s.once('connect', () => {
        s.on('close', () => closedEarly++);
        resolve(s);
      });
      s.once('error', reject);
    });
  let t = now();
  try {
    for (let i = 0; i < count; i += 250) {
      if (Date.now() > deadline) throw new Error(`opening ${count} connections took longer than 120 s`);
      sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, count - i) }, (_, j) => openOne(i + j)))));
    }
  } catch (error) {
    for (const s of sockets) s.destroy();
    throw new Error(`opened only ${sockets.length} of ${count} idle connections: ${error.code ?? error.message}`);
  }
  const openS = (now() - t) / 1000;
  await sleep(1500); // let the server finish accepting and settle
  const rssOpen = server.mon.memory().rss;

  // A fresh client while they are all open: connect, log in, list, then some round trips.
  const check = { answered: false };
  try {
    t = now();
    const conn = await W.connectClient(server.port);
    check.connectMs = now() - t;
    t = now();
    await conn.call('login', { name: VIEWER.name, password: (await import('../dist/protocol/wire-password.js')).wirePassword(VIEWER.password), user_type: 'user' });
    check.loginMs = now() - t; // includes one scrypt verification on the server
    t = now();
    const list = await conn.call('get_movie_list', { movie_type: 'all' });
    check.firstListMs = now() - t;
    check.listed = list.movie_list.length;
    const samples = [];
    for (let i = 0; i < 500; i++) {
      const s = now();
      await conn.request({ type: 'get_movie_list', session: conn.session, movie_type: 'all' });
      samples.push(now() - s);
    }
    check.listLatency = latencySummary(samples);
    check.answered = true;
    W.closeClient(conn);
  } catch (error) {
    check.error = error.message;
  }
  const mem = server.mon.end();
  const stillOpen = sockets.length - closedEarly;
  for (const s of sockets) s.destroy();
  await sleep(500);
  const rssAfterClose = server.mon.memory().rss;
  await server.stop();
  const result = {
    connections: count,
    sourceAddresses: Math.ceil(count / PER_ADDRESS),
    serverRssAtStart: server.startRss,
    openSeconds: openS,
    stillOpen,
    serverRssBefore: rssBefore,
    serverRssOpen: rssOpen,
    serverPeakRss: mem.peakRss,
    serverRssAfterClose: rssAfterClose,
    bytesPerConnection: (rssOpen - rssBefore) / count,
    check,
  };
  log(
    `  ${count} open in ${openS.toFixed(1)} s, ${stillOpen} still open; server RSS ${(rssBefore / 1e6).toFixed(0)} -> ${(rssOpen / 1e6).toFixed(0)} MB ` +
      `(${(result.bytesPerConnection / 1024).toFixed(1)} KiB/conn); fresh login ${check.loginMs?.toFixed(1)} ms, list ${check.firstListMs?.toFixed(2)} ms, answered=${check.answered}`,
  );
  return result;
}

// ---------------------------------------------------------------- (f): the cost of durable uploads

async function durablePhase() {
  const sizes = QUICK
    ? [
        [MiB, 10],
        [16 * MiB, 3],
      ]
    : [
        [MiB, 20],
        [16 * MiB, 5],
        [256 * MiB, 3],
      ];
  log(`phase durable: verified uploads on a durable server (default) and on a --durable false one`);
  if (!supports('durable')) throw new Error('this build has no --durable flag');
  const variants = [];
  for (const [key, extraArgs] of [
    ['durable', []],
    ['nosync', ['--durable', 'false']],
  ]) {
    const server = await startCinebox(`durable-${key}`, { db: `sqlite:${join(WORK, `durable-${key}.db`)}`, mediaDir: join(WORK, `media-durable-${key}`), extraArgs });
    await ensureAccounts(server.port);
    variants.push({ key, server, admin: await loginAdmin(server.port) });
  }
  const rows = [];
  for (const [size, reps] of sizes) {
    const src = join(WORK, `durable-${size}.bin`);
    await writeFile(src, randomBytes(size));
    const ms = { durable: [], nosync: [] };
    for (let rep = 0; rep < reps; rep++) {
      // Alternate which variant goes first, so neither always follows the other's writeback.
      for (const v of rep % 2 === 0 ? variants : [...variants].reverse()) {
        beforeTimedStep(size);
        const up = await withTimeout(W.cineboxUpload(v.admin, src, `durable-${size}-r${rep}.bin`), Math.max(60_000, (size / MiB) * 400), `${v.key} upload`);
        ms[v.key].push(up.ms);
        await v.admin.call('delete_movie', { movie_id: up.movieId }); // the same file may be stored again
      }
    }
    await rm(src);
    const row = {
      sizeBytes: size,
      size: sizeLabel(size),
      reps,
      durableMs: median(ms.durable),
      nosyncMs: median(ms.nosync),
      durableMBps: mbps(size, median(ms.durable)),
      nosyncMBps: mbps(size, median(ms.nosync)),
      ratio: ratio(mbps(size, median(ms.durable)), mbps(size, median(ms.nosync))),
      extraMs: median(ms.durable) - median(ms.nosync),
      samples: ms,
    };
    rows.push(row);
    log(`  ${row.size}: durable ${row.durableMs.toFixed(1)} ms (${row.durableMBps.toFixed(0)} MB/s), --durable false ${row.nosyncMs.toFixed(1)} ms (${row.nosyncMBps.toFixed(0)} MB/s): ${row.ratio.toFixed(2)}x, +${row.extraMs.toFixed(1)} ms per upload`);
  }
  for (const v of variants) {
    W.closeClient(v.admin);
    await v.server.stop();
  }
  return { rows };
}

// ---------------------------------------------------------------- (h): live events fan-out

async function eventsPhase() {
  const count = plan.eventSubscribers;
  log(`phase events: ${count} subscribers on one node, one notice; then Redis pub/sub to ${count} connections`);
  // Cheap login hashes for the bench's viewer (its 10,000 logins are untimed setup); no request-rate cap.
  const extraArgs = ['--scrypt-n', '1024', ...(supports('max-request-rate') ? ['--max-request-rate', '0'] : [])];
  const server = await startCinebox('events', { db: `sqlite:${join(WORK, 'events.db')}`, mediaDir: join(WORK, 'media-events'), extraArgs });
  await ensureAccounts(server.port);
  const admin = await loginAdmin(server.port);
  await sleep(300);
  const rssBefore = server.mon.memory().rss;
  let t = now();
  const subscribers = await F.openCineboxSubscribers(server.port, count, VIEWER);
  const setupSeconds = (now() - t) / 1000;
  await sleep(1500);
  const rssSubscribed = server.mon.memory().rss;
  const title = 'bench fan-out';
  const cinebox = await F.measureArrivals(subscribers, () => admin.call('release_notice', { title, content: 'one notice for every subscriber' }));
  const decoded = cinebox.received.map(F.firstHeader);
  cinebox.correct = decoded.filter((h) => h?.type === 'event' && h.kind === 'notice' && h.data?.title === title).length;
  const eventJson = JSON.stringify(decoded.find(Boolean) ?? {});
  delete cinebox.received;
  const rssAfter = server.mon.memory().rss;
  for (const socket of subscribers) socket.destroy();
  W.closeClient(admin);
  await sleep(500);
  await server.stop();

  const redisPort = await freePort();
  let redis;
  try {
    redis = await F.startRedis(redisPort, count);
  } catch (error) {
    log(`  redis baseline skipped: ${error.message}`);
    return { subscribers: count, setupSeconds, serverRssBefore: rssBefore, serverRssSubscribed: rssSubscribed, serverRssAfterEvent: rssAfter, bytesPerSubscriber: (rssSubscribed - rssBefore) / count, cinebox, redis: { skipped: error.message } };
  }
  cleanups.push(() => redis.stop());
  const redisSubscribers = await F.openRedisSubscribers(redisPort, count, 'bench-events');
  const publisher = await new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: redisPort });
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
  const redisResult = await F.measureArrivals(redisSubscribers, () => F.redisPublish(publisher, 'bench-events', eventJson));
  redisResult.correct = redisResult.received.filter((b) => b.includes(eventJson)).length;
  delete redisResult.received;
  redisResult.messageBytes = Buffer.byteLength(eventJson);
  for (const socket of redisSubscribers) socket.destroy();
  publisher.destroy();
  await redis.stop();

  const result = {
    subscribers: count,
    setupSeconds,
    serverRssBefore: rssBefore,
    serverRssSubscribed: rssSubscribed,
    serverRssAfterEvent: rssAfter,
    bytesPerSubscriber: (rssSubscribed - rssBefore) / count,
    cinebox,
    redis: redisResult,
    lastRatio: ratio(cinebox.maxMs, redisResult.maxMs),
  };
  log(
    `  cinebox: ${cinebox.reached}/${count} reached (${cinebox.correct} verified); release_notice answered at ${cinebox.triggerMs.toFixed(1)} ms; first ${cinebox.firstMs.toFixed(1)} ms, p50 ${cinebox.p50Ms.toFixed(1)}, p99 ${cinebox.p99Ms.toFixed(1)}, last ${cinebox.maxMs.toFixed(1)} ms; ` +
      `server RSS ${(rssBefore / 1e6).toFixed(0)} -> ${(rssSubscribed / 1e6).toFixed(0)} MB with ${count} subscribers (${(result.bytesPerSubscriber / 1024).toFixed(1)} KiB each)`,
  );
  log(`  redis:   ${redisResult.reached}/${count} reached (${redisResult.correct} verified); first ${redisResult.firstMs.toFixed(1)} ms, p50 ${redisResult.p50Ms.toFixed(1)}, p99 ${redisResult.p99Ms.toFixed(1)}, last ${redisResult.maxMs.toFixed(1)} ms; cinebox/redis last ${result.lastRatio.toFixed(2)}x`);
  return result;
}

// ---------------------------------------------------------------- targets and output

function evaluateTargets(results) {
  const targets = [];
  const head = results.transfers?.rows.find((r) => r.sizeBytes === plan.headlineSize);
  if (head) {
    targets.push({ id: 'a-upload', what: `verified upload ${head.size} vs baseline pipe`, target: '>= 0.80x', value: head.uploadRatio, shown: `${head.uploadRatio.toFixed(2)}x (${head.uploadMBps.toFixed(0)} vs ${head.baselineUpMBps.toFixed(0)} MB/s)`, pass: head.uploadRatio >= 0.8 });
    targets.push({ id: 'a-download', what: `verified download ${head.size} vs baseline pipe`, target: '>= 0.80x', value: head.downloadRatio, shown: `${head.downloadRatio.toFixed(2)}x (${head.downloadMBps.toFixed(0)} vs ${head.baselineDownMBps.toFixed(0)} MB/s)`, pass: head.downloadRatio >= 0.8 });
  }
  const c100 = results.concurrent?.rows.find((r) => r.clients === 100);
  if (c100) {
    targets.push({ id: 'b-rss', what: `100 concurrent downloads of ${c100.size}: server peak RSS`, target: '< 200 MB', value: c100.serverPeakRss, shown: `${(c100.serverPeakRss / 1e6).toFixed(0)} MB (${c100.verifiedMBps.toFixed(0)} MB/s aggregate, ${c100.ratio.toFixed(2)}x baseline)`, pass: c100.serverPeakRss < 200e6 });
  }
  const rate = results.rate;
  if (rate) {
    const s50 = rate.sqlite.rows.find((r) => r.clients === 50);
    const e50 = rate.echo.rows.find((r) => r.clients === 50);
    if (s50) targets.push({ id: 'c-rate', what: 'get_movie_list, 50 clients, SQLite', target: '>= 20,000 req/s', value: s50.rps, shown: `${Math.round(s50.rps)} req/s (${ratio(s50.rps, e50?.rps).toFixed(2)}x echo ${Math.round(e50?.rps)})`, pass: s50.rps >= 20_000 });
    const s1 = rate.sqlite.rows.find((r) => r.clients === 1);
    if (s1) targets.push({ id: 'c-latency', what: 'get_movie_list, one client, SQLite: mean round trip', target: '< 1 ms', value: s1.meanMs, shown: `mean ${s1.meanMs.toFixed(3)} ms, p99 ${s1.p99Ms.toFixed(3)} ms`, pass: s1.meanMs < 1 });
    const m50 = rate.mysql.rows?.find((r) => r.clients === 50);
    targets.push({ id: 'c-mysql', what: 'get_movie_list, 50 clients, MySQL', target: 'report only', value: m50?.rps ?? null, shown: m50 ? `${Math.round(m50.rps)} req/s (${ratio(m50.rps, e50?.rps).toFixed(2)}x echo)` : `skipped: ${rate.mysql.skipped}`, pass: null });
  }
  const catalog = results.catalog;
  if (catalog) {
    const at = (series) => series.rows.find((r) => r.clients === 50);
    const echo50 = at(catalog.echo)?.rps;
    const row = (id, what, target, min, series) => {
      const r = ratio(at(series)?.rps, echo50);
      targets.push({ id, what, target, value: r, shown: `${Math.round(at(series)?.rps)} req/s (${r.toFixed(2)}x echo ${Math.round(echo50)})`, pass: r >= min });
    };
    row('f-full-list', `get_movie_list, full list of ${catalog.fullListVideos}, 50 clients, SQLite`, '>= 0.80x echo', 0.8, catalog.fullList);
    row('f-page', `get_movie_list, page of ${catalog.page} at ${catalog.videos} videos, 50 clients, SQLite`, '>= 0.60x echo', 0.6, catalog.pageAt100k);
    row('f-search', `get_movie_list, name search at ${catalog.videos} videos, 50 clients, SQLite`, '>= 0.20x echo', 0.2, catalog.searchAt100k);
  }
  const idle = results.idle;
  if (idle) {
    const ok = idle.check.answered && idle.stillOpen === idle.connections;
    targets.push({ id: 'e-idle', what: `${idle.connections} idle connections: fresh login + list answered, all still open`, target: 'answers', value: ok, shown: `${ok ? 'answered' : 'FAILED ' + (idle.check.error ?? '')}; server RSS ${(idle.serverRssOpen / 1e6).toFixed(0)} MB (${(idle.bytesPerConnection / 1024).toFixed(1)} KiB/conn)`, pass: ok });
  }
  const ev = results.events;
  if (ev) {
    const c = ev.cinebox;
    const all = c.reached === ev.subscribers && c.correct === ev.subscribers;
    targets.push({ id: 'h-fanout', what: `${ev.subscribers} subscribers, one notice: the last has it`, target: '< 0.5 s', value: c.maxMs, shown: `${all ? '' : `ONLY ${c.correct}/${ev.subscribers}; `}last ${c.maxMs.toFixed(0)} ms (first ${c.firstMs.toFixed(1)}, p50 ${c.p50Ms.toFixed(0)}, p99 ${c.p99Ms.toFixed(0)} ms)`, pass: all && c.maxMs < 500 });
    if (Number.isFinite(ev.lastRatio)) targets.push({ id: 'h-vs-redis', what: `the same fan-out vs Redis pub/sub to ${ev.subscribers} connections`, target: '<= 2x', value: ev.lastRatio, shown: `${ev.lastRatio.toFixed(2)}x (Redis last ${ev.redis.maxMs.toFixed(0)} ms)`, pass: ev.lastRatio <= 2 });
  }
  const policy = results.policy;
  if (policy && !policy.skipped) {
    const { throttled: t, unthrottled: u } = policy;
    targets.push({ id: 'p-accuracy', what: `viewer speed limit ${policy.speedMiBps} MiB/s over ${t.seconds.toFixed(0)} s`, target: 'within 5%', value: policy.accuracy, shown: `${t.mibps.toFixed(2)} MiB/s (${(policy.accuracy * 100).toFixed(2)}%)`, pass: Math.abs(policy.accuracy) <= 0.05 });
    targets.push({ id: 'p-cost', what: 'server CPU per GiB: throttled vs unthrottled download', target: 'report only', value: t.serverCpuSPerGiB / u.serverCpuSPerGiB, shown: `${t.serverCpuSPerGiB.toFixed(3)} s vs ${u.serverCpuSPerGiB.toFixed(3)} s (${(t.serverCpuSPerGiB / u.serverCpuSPerGiB).toFixed(2)}x); less the idle server's CPU over as long: ${t.serverCpuSPerGiBLessIdle.toFixed(3)} s`, pass: null });
  }
  const cluster = results.cluster;
  if (cluster && !cluster.skipped) {
    const top = Math.max(...plan.clusterRateLevels);
    const r = cluster.ratios[`${top} clients`];
    const rate = (series) => Math.round(series.rows.find((x) => x.clients === top).rps);
    targets.push({ id: 'i-rate', what: `get_movie_list, ${top} clients, MySQL: HAProxy + 1 node / + 3 nodes vs direct`, target: 'report only', value: r.threeNodes, shown: `${r.oneNode.toFixed(2)}x / ${r.threeNodes.toFixed(2)}x (${rate(cluster.haproxyOne)} / ${rate(cluster.haproxyThree)} vs ${rate(cluster.direct)} req/s)`, pass: null });
    const d = cluster.ratios.download;
    targets.push({ id: 'i-download', what: `verified download ${sizeLabel(cluster.transferBytes)}: HAProxy + 1 node / + 3 nodes vs direct`, target: 'report only', value: d.threeNodes, shown: `${d.oneNode.toFixed(2)}x / ${d.threeNodes.toFixed(2)}x (${cluster.haproxyOne.downloadMBps.toFixed(0)} / ${cluster.haproxyThree.downloadMBps.toFixed(0)} vs ${cluster.direct.downloadMBps.toFixed(0)} MB/s)`, pass: null });
  }
  return targets;
}

async function writeResults(results) {
  const json = JSON.stringify(results, null, 2) + '\n';
  const md = renderMarkdown(results);
  const base = plan.mode === 'quick' ? 'quick' : 'latest';
  if (ONLY) {
    await writeFile(join(RESULTS, `partial-${base}.json`), json);
    await writeFile(join(RESULTS, `partial-${base}.md`), md);
    log(`partial run (--only): results in bench/results/partial-${base}.{json,md}`);
    return;
  }
  await writeFile(join(RESULTS, `${base}.json`), json);
  await writeFile(join(RESULTS, `${base}.md`), md);
  if (plan.mode === 'full') {
    const dated = results.meta.date.slice(0, 16).replace(/[:T]/g, '-');
    await copyFile(join(RESULTS, 'latest.json'), join(RESULTS, `${dated}.json`));
    await copyFile(join(RESULTS, 'latest.md'), join(RESULTS, `${dated}.md`));
  }
  log(`results written to bench/results/${base}.{json,md}`);
}

// ---------------------------------------------------------------- lifecycle

let cleaning;
function cleanup() {
  cleaning ??= (async () => {
    for (const conn of W?.openClients ?? []) conn.close();
    for (const fn of cleanups.reverse()) await Promise.resolve().then(fn).catch(() => undefined);
    killAllChildrenNow();
    if (PROFILE && existsSync(join(WORK, 'prof'))) {
      const keep = join(TMP, 'prof-latest');
      await rm(keep, { recursive: true, force: true });
      await mkdir(keep, { recursive: true });
      for (const f of await readdir(join(WORK, 'prof'))) await copyFile(join(WORK, 'prof', f), join(keep, f));
      log(`server CPU profiles in ${keep} (summarise: node bench/lib/profile-summary.mjs FILE)`);
    }
    if (!KEEP) await rm(WORK, { recursive: true, force: true });
    else log(`kept ${WORK}`);
    if (CLEAN) await rm(DATA, { recursive: true, force: true });
  })();
  return cleaning;
}

process.on('exit', killAllChildrenNow);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    console.error(`\n[bench] ${signal}: stopping servers and cleaning up`);
    cleanup().finally(() => process.exit(130));
  });
}
/** Armed once the run starts (after any --wait-quiet): the whole run is bounded in time. */
function armWatchdog() {
  setTimeout(() => {
    console.error(`[bench] watchdog: the run exceeded ${plan.watchdogMs / 60_000} min; aborting`);
    cleanup().finally(() => process.exit(3));
  }, plan.watchdogMs).unref();
}

main().then(
  async () => {
    await cleanup();
    process.exit(0);
  },
  async (error) => {
    console.error(`[bench] failed: ${error.stack ?? error}`);
    const logs = existsSync(WORK) ? (await readdir(WORK)).filter((f) => f.endsWith('.log')) : [];
    for (const f of logs) {
      const text = tail(join(WORK, f), 10).trim();
      if (text) console.error(`--- ${f} (tail)\n${text}`);
    }
    await cleanup();
    process.exit(1);
  },
);
