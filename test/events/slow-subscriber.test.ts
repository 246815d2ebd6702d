/**
 * A subscriber that stops reading costs at most its queue limit: the server's queue for it
 * stops there, the stream ends with `fell_behind` and the last id it was sent, the client
 * catches up with `since`, and a bystander is served all along.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { sleep, subscribe } from './helpers.js';

const QUEUE_LIMIT = 5;

describe.each(databaseKinds)('a subscriber that stops reading (%s)', (kind) => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld(kind, { subscriberQueueLimit: QUEUE_LIMIT, requestsPerSecond: 0 });
  });
  afterAll(async () => world?.close());

  it('is held to its queue limit, told it fell behind with its last id, and catches up with since', async () => {
    const admin = await world.loginAs('boss', 'admin');
    const bystander = await world.loginAs('bystander', 'user');
    await world.loginAs('sloth', 'user');

    // The slow one speaks raw frames, so that it can stop reading for real.
    const socket: Socket = connect({ host: '127.0.0.1', port: world.server.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    const received: Buffer[] = [];
    socket.on('data', (chunk) => received.push(chunk));
    const decoder = new FrameDecoder({ maxHeaderBytes: 1 << 20 });
    const headers: Record<string, unknown>[] = [];
    const readHeaders = () => {
      for (const chunk of received.splice(0)) decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) if (event.kind === 'header') headers.push(event.header);
      return headers;
    };
    const until = async (check: () => boolean, what: string) => {
      for (let i = 0; !check(); i++) {
        if (i > 500) throw new Error(`timed out waiting for ${what}`);
        await sleep(10);
        readHeaders();
      }
    };
    socket.write(encodeFrame({ type: 'login', name: 'sloth', password: wirePassword('secret-sloth'), user_type: 'user' }));
    await until(() => headers.length === 1, 'the login reply');
    const session = headers[0]!.session;
    socket.write(encodeFrame({ type: 'subscribe', session, topics: ['notices'] }));
    await until(() => headers.length === 2, 'the subscribe reply');
    const start = Number(headers[1]!.last_id);
    socket.pause(); // from here the slow one reads nothing

    const serverSide = [...world.server.connections].find((c) => c.socket.remotePort === socket.localPort)!;
    const subscription = world.server.app.events.subscriptionOf(serverSide)!;
    expect(subscription).toBeDefined();
    const content = 'x'.repeat(10_000);
    let published = 0;
    let maxQueued = 0;
    while (!subscription.isEnded) {
      if (published >= 5000) throw new Error('5000 notices and the subscriber was never cut off');
      await admin.call('release_notice', { title: `Notice ${published}`, content });
      published++;
      await sleep(0);
      maxQueued = Math.max(maxQueued, subscription.queued);
      if (published % 100 === 0) expect((await bystander.call('check_notice', {})).flag).toBe(true);
    }
    expect(maxQueued).toBeLessThanOrEqual(QUEUE_LIMIT);
    expect(subscription.queued).toBe(0); // dropped with the subscription
    expect(world.server.app.events.subscriptionOf(serverSide)).toBeUndefined();
    expect((await bystander.call('check_notice', {})).flag).toBe(true);

    // Reading again, it finds the events it was sent, then the end of the stream.
    socket.resume();
    await until(() => headers.some((h) => h.type === 'events_ended'), 'the events_ended frame');
    const events = headers.filter((h) => h.type === 'event');
    const ended = headers.find((h) => h.type === 'events_ended')!;
    expect(ended).toMatchObject({ reason: 'fell_behind', last_id: events.at(-1)!.id });
    expect(String(ended.msg)).toMatch(/subscribe again with since/);
    expect(events.map((e) => e.id)).toEqual(Array.from({ length: events.length }, (_, i) => start + 1 + i));
    expect(events.length).toBeLessThan(published);
    socket.destroy();

    // It catches up with `since`: every notice after the last one it got, once.
    const conn = await world.loginAs('sloth', 'user');
    const again = await subscribe(conn, { since: Number(ended.last_id) });
    const missed = published - events.length;
    await again.waitForEvents(missed, 20_000);
    await sleep(100);
    expect(again.ids()).toEqual(Array.from({ length: missed }, (_, i) => Number(ended.last_id) + 1 + i));
  });
});
