/**
 * The machinery of the cluster test: MariaDB (a database of its own), Redis, three cinebox
 * nodes as child processes of the built bin (distinct ports, one media directory), and
 * HAProxy running deploy/haproxy.cfg itself, its "${VAR}"s filled in from the environment.
 * It runs when CINEBOX_CLUSTER=1 (CI: a missing piece then fails) or when haproxy is
 * installed and MYSQL_URL and REDIS_URL are set; otherwise the suite is skipped, with a warning.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { repoRoot } from '../cli/helpers/built-cli.js';
import { freePort } from '../helpers/send-proxy.js';

const MYSQL_URL = process.env.MYSQL_URL || undefined;
const REDIS_URL = process.env.REDIS_URL || undefined;

function haproxyInstalled(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Why the suite cannot run here, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  const missing = [!haproxyInstalled() && 'haproxy', !MYSQL_URL && 'MYSQL_URL', !REDIS_URL && 'REDIS_URL'].filter(Boolean);
  if (missing.length === 0) return undefined;
  const why = `the cluster suite needs ${missing.join(', ')}`;
  if (process.env.CINEBOX_CLUSTER === '1') throw new Error(`CINEBOX_CLUSTER=1 but ${why}`);
  return why;
}

export const runCluster = clusterUnavailable() === undefined && (process.env.CINEBOX_CLUSTER === '1' || process.env.CINEBOX_CLUSTER === undefined);
if (!runCluster) console.warn(`cluster suite skipped: ${clusterUnavailable() ?? 'CINEBOX_CLUSTER is not 1'}`);

export const ADMIN_CODE = 'cluster-admin-code';
export const CLUSTER_DB = 'cinebox_cluster';

/** A fresh `cinebox_cluster` database on the MYSQL_URL server; its URL. */
export async function freshClusterDatabase(): Promise<string> {
  const server = await mysql.createConnection(MYSQL_URL!);
  try {
    await server.query(`DROP DATABASE IF EXISTS \`${CLUSTER_DB}\``);
    await server.query(`CREATE DATABASE \`${CLUSTER_DB}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await server.end();
  }
  const url = new URL(MYSQL_URL!);
  url.pathname = `/${CLUSTER_DB}`;
  return url.toString();
}

export async function dropClusterDatabase(): Promise<void> {
  const server = await mysql.createConnection(MYSQL_URL!);
  await server.query(`DROP DATABASE IF EXISTS \`${CLUSTER_DB}\``).finally(() => server.end());
}

export interface NodeSpec {
  name: string;
  port: number;
  healthPort: number;
}

/** One node process; restartable on the same ports. */
export class NodeProcess {
  child?: ChildProcess;
  /** Every run's output, JSON lines (stdout is not a terminal); ready when its GET /health answers 200. */
  logs = '';
  runs = 0;
  private exited?: Promise<number | NodeJS.Signals | null>;

  constructor(
    readonly spec: NodeSpec,
    private readonly main: string,
    private readonly args: string[],
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  async start(): Promise<void> {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CINEBOX_')));
    const identity = ['--metrics-port', String(this.spec.healthPort), '--node-name', this.spec.name];
    const child = spawn(process.execPath, ['--single-threaded-gc', this.main, 'server', '--port', String(this.spec.port), ...identity, ...this.args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.runs++;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
    child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.logs += text));
    child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.logs += text));
    const started = this.logs.length;
    await waitUntil(async () => {
      if (!this.running) throw new Error(`${this.spec.name} exited at start:\n${this.logs.slice(started)}`);
      return (await httpStatus(this.spec.healthPort, '/health')) === 200;
    }, 90_000, `${this.spec.name} healthy`);
  }

  /** kill -9: no goodbye to anyone. */
  async kill(): Promise<void> {
    this.child?.kill('SIGKILL');
    await this.exited;
  }

  /** SIGTERM, as systemd stops it; resolves with the exit code. */
  async stop(): Promise<number | NodeJS.Signals | null | undefined> {
    this.child?.kill('SIGTERM');
    return this.exited;
  }

  /** The log lines of this node, parsed. */
  lines(): Record<string, unknown>[] {
    return this.logs
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  }
}

/** HAProxy with deploy/haproxy.cfg, the nodes' addresses in its environment. */
export class Balancer {
  child?: ChildProcess;
  logs = '';
  port = 0;
  socket = '';

  constructor(private readonly nodes: NodeSpec[]) {}

  async start(): Promise<void> {
    const dir = await mkdtemp(join(tmpdir(), 'cinebox-haproxy-'));
    this.port = await freePort();
    this.socket = join(dir, 'admin.sock');
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', CINEBOX_BIND: `127.0.0.1:${this.port}`, CINEBOX_HAPROXY_SOCKET: this.socket, CINEBOX_HAPROXY_MAXCONN: '2000' };
    this.nodes.forEach((node, i) => {
      env[`CINEBOX_NODE${i + 1}`] = `127.0.0.1:${node.port}`;
      env[`CINEBOX_HEALTH${i + 1}`] = String(node.healthPort);
    });
    const args = ['-db', '-f', join(repoRoot, 'deploy/haproxy.cfg')];
    this.child = spawn('haproxy', args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (text: string) => (this.logs += text));
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.logs += text));
    await waitUntil(async () => {
      if (this.child!.exitCode !== null) throw new Error(`haproxy exited:\n${this.logs}`);
      const states = await this.states().catch(() => undefined);
      return states !== undefined && this.nodes.every((n) => states.get(n.name) === 'UP');
    }, 30_000, 'haproxy with every node UP');
  }

  /** Each node's state as HAProxy sees it (UP, DOWN, …), from its admin socket. */
  async states(): Promise<Map<string, string>> {
    const csv = await this.command('show stat');
    const lines = csv.trim().split('\n');
    const header = lines[0]!.replace(/^# /, '').split(',');
    const [px, sv, status] = ['pxname', 'svname', 'status'].map((c) => header.indexOf(c));
    const states = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      if (cells[px!] === 'cinebox_nodes' && cells[sv!] !== 'BACKEND') states.set(cells[sv!]!, cells[status!]!);
    }
    return states;
  }

  /** Sessions HAProxy sent to each node so far. */
  async sessions(): Promise<Map<string, number>> {
    const csv = await this.command('show stat');
    const lines = csv.trim().split('\n');
    const header = lines[0]!.replace(/^# /, '').split(',');
    const [px, sv, stot] = ['pxname', 'svname', 'stot'].map((c) => header.indexOf(c));
    const totals = new Map<string, number>();
    for (const line of lines.slice(1)) {
      const cells = line.split(',');
      if (cells[px!] === 'cinebox_nodes' && cells[sv!] !== 'BACKEND') totals.set(cells[sv!]!, Number(cells[stot!]));
    }
    return totals;
  }

  async waitState(node: string, state: string, timeoutMs = 30_000): Promise<void> {
    await waitUntil(async () => (await this.states()).get(node)?.startsWith(state) === true, timeoutMs, `haproxy sees ${node} ${state}`);
  }

  private command(text: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(this.socket);
      let out = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (out += chunk));
      socket.once('error', reject);
      socket.once('close', () => resolve(out));
      socket.write(`${text}\n`);
    });
  }

  async stop(): Promise<void> {
    if (!this.child || this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

/** The HTTP status of GET `path` on 127.0.0.1:`port`, or 0 when nothing answers. */
export function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: '127.0.0.1', port });
    let out = '';
    socket.setEncoding('utf8');
    socket.setTimeout(2000, () => socket.destroy());
    socket.on('data', (chunk: string) => (out += chunk));
    socket.once('error', () => resolve(0));
    socket.once('close', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(out)?.[1] ?? 0)));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
  });
}

export async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function nodeSpecs(): Promise<NodeSpec[]> {
  const specs: NodeSpec[] = [];
  for (let i = 1; i <= 3; i++) specs.push({ name: `node${i}`, port: await freePort(), healthPort: await freePort() });
  return specs;
}
