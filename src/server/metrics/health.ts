/**
 * `GET /health`, what a balancer asks before it sends a node clients: the database answers,
 * the media store takes a durable write, Redis answers when configured. Each check has a
 * deadline, so a hung mount or database reads as unhealthy instead of hanging the probe.
 */
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { App } from '../context.js';

const CHECK_TIMEOUT_MS = 2000;

export interface Health {
  status: 'ok' | 'failing' | 'draining';
  node: string;
  /** Each check: "ok" or what failed. */
  checks?: Record<string, string>;
}

export async function checkHealth(app: App): Promise<Health> {
  const checks: Record<string, Promise<void>> = {
    database: app.db.query('SELECT 1').then(() => undefined),
    media: probeMedia(app),
  };
  const bus = app.events.bus;
  if (app.config.redisUrl && bus.ping) checks.redis = bus.ping();
  const results: Record<string, string> = {};
  await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      results[name] = await withDeadline(check, name).then(() => 'ok', (error: Error) => error.message || String(error));
    }),
  );
  const ok = Object.values(results).every((result) => result === 'ok');
  return { status: ok ? 'ok' : 'failing', node: app.node.name, checks: results };
}

/** Write, fsync and unlink a small file where uploads land: a full, read-only or vanished store fails here. */
async function probeMedia(app: App): Promise<void> {
  const path = join(app.media.incomingDir, `.health-${app.node.run}`);
  const file = await open(path, 'w');
  try {
    await file.write('ok\n');
    await file.sync();
  } finally {
    await file.close();
  }
  await unlink(path);
}

function withDeadline(check: Promise<void>, name: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${name}: no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([check, late]).finally(() => clearTimeout(timer));
}
