/**
 * Two server nodes on one database and one Redis: an event published through one reaches the
 * subscribers of the other; with Redis stopped mid-test both keep serving, and once it is back
 * every subscriber has every event once, in order. The stop/start part uses a private
 * redis-server on a free port, never the machine's shared one.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import type { ServerConfig } from '../../src/server/config.js';
import { RedisBus } from '../../src/server/events/redis-bus.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { REDIS_URL, startPrivateRedis, type PrivateRedis } from '../helpers/redis.js';
import { startWorld, type World } from '../helpers/world.js';
import { sleep, subscribe } from './helpers.js';

const until = async (check: () => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

describe.skipIf(REDIS_URL === undefined).each(databaseKinds)('two nodes, one database, one Redis (%s)', (kind) => {
  let world: World; // node A, with the test's database
  let nodeB: RunningServer | undefined;
  let redis: PrivateRedis | undefined;
  const logsB: Record<string, unknown>[] = [];
  const opened: ClientConnection[] = [];

  const loginOn = async (node: RunningServer, name: string, role: 'admin' | 'user') => {
    const conn = await ClientConnection.connect({ host: '127.0.0.1', port: node.port });
    opened.push(conn);
    const reply = await conn.call('login', { name, password: wirePassword(`secret-${name}`), user_type: role });
    conn.session = String(reply.session);
    return conn;
  };
  const startNodeB = (overrides: Partial<ServerConfig>) =>
    startServer({ ...world.config, port: 0, ...overrides }, pino({ level: 'info' }, { write: (line: string) => void logsB.push(JSON.parse(line)) }));

  beforeAll(async () => {
    redis = await startPrivateRedis();
    world = await startWorld(kind, { redisUrl: redis.url });
  });
  afterAll(async () => {
    for (const conn of opened) conn.close();
    await nodeB?.close();
    await world?.close();
    await redis?.stop();
  });

  it('an event published through one node is received on the other (the shared REDIS_URL)', async () => {
    const a = await startNodeB({ redisUrl: REDIS_URL });
    const b = await startNodeB({ redisUrl: REDIS_URL });
    try {
      await world.loginAs('boss', 'admin');
      await world.loginAs('alice', 'user');
      await until(() => (a.app.events.bus as RedisBus).connected && (b.app.events.bus as RedisBus).connected, 'both nodes on Redis');
      const onB = await subscribe(await loginOn(b, 'alice', 'user'));
      const onA = await subscribe(await loginOn(a, 'alice', 'user'));
      const admin = await loginOn(a, 'boss', 'admin');
      await admin.call('release_notice', { title: 'From node A', content: 'to everyone' });
      const path = await world.makeFile('shared.mp4', 5000);
      const uploaded = await uploadFile(admin, path, { isFree: true });
      for (const subscriber of [onA, onB]) {
        const events = await subscriber.waitForEvents(2, 5000);
        expect(events.map((e) => e.kind)).toEqual(['notice', 'video_added']);
        expect(events[1]).toMatchObject({ data: { movie_id: uploaded.movie_id, name: 'shared.mp4' } });
      }
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('with Redis stopped mid-test the nodes keep serving; subscribers catch up without a gap or a double', async () => {
    nodeB = await startNodeB({ redisUrl: redis!.url });
    const busA = world.server.app.events.bus as RedisBus;
    const busB = nodeB.app.events.bus as RedisBus;
    await until(() => busA.connected && busB.connected, 'both nodes on the private Redis');
    const adminA = await world.loginAs('boss', 'admin');
    await world.loginAs('bob', 'user');
    const onB = await subscribe(await loginOn(nodeB, 'alice', 'user'));
    const onA = await subscribe(await world.loginAs('alice', 'user'));
    const publish = (title: string) => adminA.call('release_notice', { title, content: 'x' });

    await publish('before');
    await onB.waitForEvents(1, 5000);

    await redis!.stop();
    await until(() => !busA.connected && !busB.connected, 'both nodes to notice Redis is gone');
    expect(logsB.some((l) => String(l.msg).startsWith('redis: connection lost'))).toBe(true);
    // Requests are still served on both nodes while Redis is away.
    await publish('during 1');
    await publish('during 2');
    const viewerB = await loginOn(nodeB, 'bob', 'user');
    expect((await viewerB.call('check_notice', {})).flag).toBe(true);
    // Without Redis each node polls the table: node B's subscriber has them before Redis is back.
    await onB.waitForEvents(3, 5000);

    await redis!.start();
    await until(() => busA.connected && busB.connected, 'both nodes back on Redis', 20_000);
    expect(logsB.filter((l) => String(l.msg).startsWith('redis: connected')).length).toBeGreaterThanOrEqual(2);
    await publish('after');

    for (const subscriber of [onA, onB]) {
      await subscriber.waitForEvents(4, 10_000);
      await sleep(200);
      const titles = subscriber.events().map((e) => (e.data as { title: string }).title);
      expect(titles).toEqual(['before', 'during 1', 'during 2', 'after']);
      const ids = subscriber.ids();
      expect(ids).toEqual([ids[0], ids[0]! + 1, ids[0]! + 2, ids[0]! + 3]);
    }
  });
});

describe('a node whose Redis is unreachable from the start', () => {
  let world: World;
  afterAll(async () => world?.close());

  it('starts, serves, delivers its own events at once and says Redis is not reachable', async () => {
    const { createServer } = await import('node:net');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve)); // nothing listens there now
    world = await startWorld('sqlite', { redisUrl: `redis://127.0.0.1:${port}` });
    const admin = await world.loginAs('boss', 'admin');
    const viewer = await subscribe(await world.loginAs('alice', 'user'));
    const started = Date.now();
    await admin.call('release_notice', { title: 'Local', content: 'no Redis needed on one node' });
    await viewer.waitForEvents(1, 5000);
    expect(Date.now() - started).toBeLessThan(900); // the announcing node wakes itself, no poll needed
    await until(() => world.logs.some((l) => String(l.msg).startsWith('redis: not reachable yet')), 'the warning', 10_000);
  });
});
