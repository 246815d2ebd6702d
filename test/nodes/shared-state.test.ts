/**
 * State that must add up across nodes (docs/design.md, "State across nodes"), on SQLite and
 * MySQL: failed logins of one account from one address, spread over two nodes on one
 * database, block the pair after exactly --login-max-failures in all; each node's metrics
 * count its own share.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection } from '../../src/client/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

describe.each(databaseKinds)('two nodes on one database (%s)', (kind) => {
  let world: World;
  let second: RunningServer;
  const opened: ClientConnection[] = [];

  beforeAll(async () => {
    world = await startWorld(kind, { nodeName: 'first', metricsPort: 0 });
    second = await startServer({ ...world.config, nodeName: 'second' }, pino({ level: 'silent' }));
  });
  afterAll(async () => {
    for (const conn of opened) conn.close();
    await second?.close();
    await world?.close();
  });

  const on = async (node: RunningServer) => {
    const conn = await ClientConnection.connect({ host: '127.0.0.1', port: node.port });
    opened.push(conn);
    return conn;
  };
  const failures = async (node: RunningServer) => {
    const text = await (await fetch(`http://127.0.0.1:${node.metricsPort}/metrics`)).text();
    return Number(/^cinebox_login_failures_total (\d+)$/m.exec(text)?.[1]);
  };

  it('failed logins spread over both nodes add up to one block', async () => {
    await world.loginAs('spread', 'user');
    const nodes = [world.server, second];
    const limit = world.config.loginMaxFailures;
    for (let i = 0; i < limit; i++) {
      const reply = await (await on(nodes[i % 2]!)).request({ type: 'login', name: 'spread', password: wirePassword(`wrong-${i}`), user_type: 'user' });
      expect(reply).toMatchObject({ flag: false, code: 'LOGIN_FAILED' });
    }
    for (const node of nodes) {
      const reply = await (await on(node)).request({ type: 'login', name: 'spread', password: wirePassword('secret-spread'), user_type: 'user' });
      expect(reply).toMatchObject({ flag: false, code: 'LOGIN_BLOCKED' }); // the right password too, on either node
    }
    expect([await failures(world.server), await failures(second)]).toEqual([Math.ceil(limit / 2), Math.floor(limit / 2)]);
  });
});
