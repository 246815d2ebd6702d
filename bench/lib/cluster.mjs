/**
 * Phase `cluster` (`--only=cluster`): what the balancer costs. The same get_movie_list request
 * rate (lean clients, every reply checked) and one verified download, measured in one run:
 *   - direct: a node without the PROXY protocol, clients straight to its port;
 *   - HAProxy, one node: deploy/haproxy.cfg with its three server lines on the same node;
 *   - HAProxy, three nodes: deploy/haproxy.cfg as deployed.
 * Every node shares one MySQL database and one media directory (MySQL is needed; the phase is
 * skipped without it or without haproxy). On a 2-core machine three nodes are not faster:
 * the figures show the balancer's cost and that nothing degrades.
 */
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

const SEED_MOVIES = 10;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function haproxyInstalled() {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `show stat` on HAProxy's admin socket: each cinebox node's status. */
function nodeStates(socketPath) {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (out += chunk));
    socket.once('error', () => resolve(new Map()));
    socket.once('close', () => {
      const lines = out.trim().split('\n');
      const header = (lines[0] ?? '').replace(/^# /, '').split(',');
      const [px, sv, status] = ['pxname', 'svname', 'status'].map((c) => header.indexOf(c));
      const states = new Map();
      for (const line of lines.slice(1)) {
        const cells = line.split(',');
        if (cells[px] === 'cinebox_nodes' && cells[sv] !== 'BACKEND') states.set(cells[sv], cells[status]);
      }
      resolve(states);
    });
    socket.write('show stat\n');
  });
}

/** HAProxy running deploy/haproxy.cfg, the nodes' addresses and health ports in its environment. */
async function startHaproxy(ctx, label, nodePorts, healthPorts) {
  const port = await ctx.freePort();
  const socketPath = join(ctx.work, `haproxy-${label}.sock`);
  const config = join(ctx.root, 'deploy/haproxy.cfg');
  const env = { PATH: process.env.PATH, CINEBOX_BIND: `127.0.0.1:${port}`, CINEBOX_HAPROXY_SOCKET: socketPath, CINEBOX_HAPROXY_MAXCONN: '4000' };
  nodePorts.forEach((p, i) => {
    env[`CINEBOX_NODE${i + 1}`] = `127.0.0.1:${p}`;
    env[`CINEBOX_HEALTH${i + 1}`] = String(healthPorts[i]);
  });
  const child = spawn('haproxy', ['-db', '-f', config], { env, stdio: 'ignore' });
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    await exited;
  };
  ctx.cleanups.push(stop);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const states = await nodeStates(socketPath);
    if (states.size === 3 && [...states.values()].every((s) => s === 'UP')) break;
    if (Date.now() > deadline) throw new Error(`haproxy (${label}): nodes not UP: ${JSON.stringify([...states])}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { port, stop };
}

export async function clusterPhase(ctx) {
  const { W, log, plan } = ctx;
  if (!haproxyInstalled()) return { skipped: 'haproxy is not installed' };
  const db = await ctx.openMysql();
  if (db.skipped) return { skipped: db.skipped };
  const levels = plan.clusterRateLevels;
  log(`phase cluster: get_movie_list with ${levels.join('/')} clients and a ${plan.clusterTransferSize / 2 ** 20} MiB verified download: direct, HAProxy + 1 node, HAProxy + 3 nodes (MySQL)`);
  const mediaDir = join(ctx.work, 'media-cluster');
  const common = ['--max-request-rate', '0', '--scrypt-n', '1024'];
  if (!ctx.supports('metrics-port')) return { skipped: 'this build has no --metrics-port (HAProxy checks GET /health)' };
  const direct = await ctx.startCinebox('cluster-direct', { db: db.url, mediaDir, extraArgs: common });
  const nodes = [];
  const healthPorts = [];
  for (let i = 1; i <= 3; i++) {
    const metrics = await ctx.freePort();
    healthPorts.push(metrics);
    const extraArgs = [...common, '--proxy-protocol', 'v1', '--metrics-port', String(metrics), '--node-name', `bench-node${i}`];
    nodes.push(await ctx.startCinebox(`cluster-node${i}`, { db: db.url, mediaDir, extraArgs }));
  }

  // Seed through the direct node: the rate step's videos and the transfer's file.
  await ctx.seedRateServer(direct);
  const admin = await ctx.loginAdmin(direct.port);
  const src = join(ctx.work, 'cluster-transfer.bin');
  await ctx.writeRandom(src, plan.clusterTransferSize);
  const { movieId } = await W.cineboxUpload(admin, src, 'cluster-transfer.bin');
  W.closeClient(admin);

  // Both balancers run at once and the three paths take turns, round after round: on a shared
  // machine the load moves within a minute, so each figure is the median of its rounds.
  const one = await startHaproxy(ctx, 'one', [nodes[0].port, nodes[0].port, nodes[0].port], [healthPorts[0], healthPorts[0], healthPorts[0]]);
  const three = await startHaproxy(ctx, 'three', nodes.map((n) => n.port), healthPorts);
  const paths = [
    { key: 'direct', label: 'direct', port: direct.port },
    { key: 'haproxyOne', label: 'HAProxy + 1 node', port: one.port },
    { key: 'haproxyThree', label: 'HAProxy + 3 nodes', port: three.port },
  ];
  const check = W.movieListCheck(SEED_MOVIES + 1); // the seeded videos and the transfer's
  for (const path of paths) {
    path.clients = await W.leanClients(path.port, Math.max(...levels), async (client, i) => {
      client.session = await W.leanViewerLogin(client, `bench-cluster-${path.key}-${i}`, ctx.viewerPassword);
      client.prepare({ type: 'get_movie_list', session: client.session, movie_type: 'all' }, check);
    });
    path.viewer = await ctx.loginViewer(path.port);
    path.outDir = join(ctx.work, `cluster-out-${path.key}`);
    await mkdir(path.outDir, { recursive: true });
    path.rates = new Map(levels.map((n) => [n, []]));
    path.downloads = [];
  }
  for (let round = 1; round <= plan.clusterRounds; round++) {
    for (const path of paths) {
      for (const n of levels) {
        const r = await W.requestRate(path.clients.slice(0, n), { warmupMs: plan.rateWarmupMs, measureMs: plan.rateMeasureMs });
        path.rates.get(n).push(r);
        log(`  round ${round}, ${path.label}: ${n} clients: ${Math.round(r.rps)} req/s, mean ${r.meanMs.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms`);
      }
      ctx.settleDisk();
      const t = await W.cineboxDownload(path.viewer, movieId, path.outDir);
      if (t.bytes !== plan.clusterTransferSize) throw new Error(`${path.label}: downloaded ${t.bytes} bytes`);
      path.downloads.push(t.bytes / 1e6 / (t.ms / 1000));
      await ctx.rm(t.path, { force: true });
      log(`  round ${round}, ${path.label}: verified download ${path.downloads.at(-1).toFixed(0)} MB/s`);
    }
  }
  const results = { transferBytes: plan.clusterTransferSize, rounds: plan.clusterRounds, healthChecks: 'httpchk GET /health' };
  for (const path of paths) {
    for (const c of path.clients) c.close();
    W.closeClient(path.viewer);
    const rows = levels.map((n) => {
      const runs = path.rates.get(n);
      const mid = [...runs].sort((x, y) => x.rps - y.rps)[Math.floor(runs.length / 2)];
      return { ...mid, roundsRps: runs.map((r) => r.rps) };
    });
    results[path.key] = { rows, downloadMBps: median(path.downloads), downloads: path.downloads };
  }
  await one.stop();
  await three.stop();
  for (const server of [direct, ...nodes]) await server.stop();
  await db.drop();

  const at = (series, n) => series.rows.find((r) => r.clients === n);
  results.ratios = Object.fromEntries(
    levels.map((n) => [
      `${n} clients`,
      { oneNode: at(results.haproxyOne, n).rps / at(results.direct, n).rps, threeNodes: at(results.haproxyThree, n).rps / at(results.direct, n).rps },
    ]),
  );
  results.ratios.download = { oneNode: results.haproxyOne.downloadMBps / results.direct.downloadMBps, threeNodes: results.haproxyThree.downloadMBps / results.direct.downloadMBps };
  log(`  ratios to direct: ${JSON.stringify(results.ratios)}`);
  return results;
}
