/**
 * Redis for the suites that fan events out across nodes. REDIS_URL names the machine's Redis
 * (e.g. redis://127.0.0.1:6379); without it those suites skip with a warning, and CI sets
 * CINEBOX_REQUIRE_REDIS=1 so that a missing REDIS_URL fails instead. A test that stops and
 * starts Redis runs a private redis-server on a free port, never the shared one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';

export const REDIS_URL: string | undefined = process.env.REDIS_URL || undefined;

if (REDIS_URL === undefined) {
  if (process.env.CINEBOX_REQUIRE_REDIS === '1') {
    throw new Error('CINEBOX_REQUIRE_REDIS=1 but REDIS_URL is not set: the Redis suites cannot run');
  }
  console.warn('REDIS_URL is not set: the Redis suites are skipped');
}

export interface PrivateRedis {
  url: string;
  port: number;
  /** Stops the server (its clients see the connection drop). */
  stop(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function reachable(url: string): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** A redis-server of our own, without persistence, on a free loopback port. */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const failed = once(child, 'error').then(([error]) => {
      throw new Error(`cannot start redis-server: ${(error as Error).message}`);
    });
    for (let i = 0; i < 200; i++) {
      if (await Promise.race([reachable(url), failed])) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`redis-server on port ${port} did not answer`);
  };
  const stop = async () => {
    if (!child || child.exitCode !== null) return;
    const exited = once(child, 'exit');
    child.kill('SIGKILL'); // as if the machine went away: no goodbye to the clients
    await exited;
  };
  await start();
  return { url, port, stop, start };
}
