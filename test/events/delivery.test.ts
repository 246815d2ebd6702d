/**
 * Live events end to end on SQLite and MySQL: what subscribers get for a notice, an upload and
 * a delete; that a connection which never subscribed gets nothing unasked; `since` after a
 * drop and after a restart; the retention window; ids that commit one at a time.
 */
import { connect, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { EventRecord } from '../../src/orm/models/index.js';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { pruneEvents, recordEvent } from '../../src/server/events/event-store.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { collect, sleep, subscribe } from './helpers.js';

describe.each(databaseKinds)('live events (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;

  const notice = (title: string, content = `about ${title}`) => admin.call('release_notice', { title, content });

  beforeAll(async () => {
    world = await startWorld(kind);
    admin = await world.loginAs('boss', 'admin');
  });
  afterAll(async () => world?.close());

  it('two subscribers get exactly one event for each notice, upload and delete, in id order, with the payload', async () => {
    const alice = await subscribe(await world.loginAs('alice', 'user'));
    const boss2 = await subscribe(await world.loginAs('boss', 'admin'), { topics: ['notices', 'videos'] });
    expect(alice.reply).toMatchObject({ flag: true, topics: ['notices', 'videos'] });
    const start = Number(alice.reply.last_id);

    const released = await notice('Opening night', 'Free popcorn at 8');
    const path = await world.makeFile('trailer.mp4', 300_000);
    const uploaded = await uploadFile(admin, path, { isFree: true });
    await admin.call('delete_movie', { movie_id: Number(uploaded.movie_id) });

    for (const subscriber of [alice, boss2]) {
      const events = await subscriber.waitForEvents(3);
      await sleep(100); // nothing more may follow
      expect(subscriber.events()).toHaveLength(3);
      expect(subscriber.ids()).toEqual([start + 1, start + 2, start + 3]);
      expect(events.map((e) => e.kind)).toEqual(['notice', 'video_added', 'video_removed']);
      expect(events[0]).toMatchObject({ type: 'event', data: { notice_id: released.notice_id, title: 'Opening night', content: 'Free popcorn at 8' } });
      const video = { movie_id: uploaded.movie_id, name: 'trailer.mp4', is_free: 1, size: 300_000 };
      expect(events[1]).toMatchObject({ data: video });
      expect(events[2]).toMatchObject({ data: video });
      for (const event of events) expect(Date.now() - Date.parse(String(event.time))).toBeLessThan(60_000);
      expect(Object.keys(events[0])).not.toContain('flag'); // never mistaken for a reply
    }
    // The rows are the events, one per thing that happened.
    const rows = await EventRecord.select(world.server.app.db, {}, { orderBy: [['id', 'asc']] });
    expect(rows.slice(-3).map((r) => [r.id, r.kind])).toEqual([
      [start + 1, 'notice'],
      [start + 2, 'video_added'],
      [start + 3, 'video_removed'],
    ]);
  });

  it('a connection that never subscribed (an original client) receives nothing unasked while events flow', async () => {
    const bytes: Buffer[] = [];
    const socket: Socket = connect({ host: '127.0.0.1', port: world.server.port });
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.on('data', (chunk) => bytes.push(chunk));
    await world.loginAs('carol', 'user');
    socket.write(encodeFrame({ type: 'login', name: 'carol', password: wirePassword('secret-carol'), user_type: 'user' }));
    while (bytes.length === 0) await sleep(10);
    const watcher = await subscribe(await world.loginAs('dave', 'user'));
    await notice('For subscribers only');
    await watcher.waitForEvents(1);
    await sleep(200);
    const decoder = new FrameDecoder();
    decoder.append(Buffer.concat(bytes));
    const frames = [];
    for (let event = decoder.next(); event; event = decoder.next()) if (event.kind === 'header') frames.push(event.header);
    expect(frames).toHaveLength(1); // the login reply, nothing else
    expect(frames[0]).toMatchObject({ flag: true, msg: 'logged in' });
    socket.destroy();
  });

  it('the connection keeps serving requests while subscribed; unsubscribe ends the stream', async () => {
    const conn = await world.loginAs('erin', 'user');
    const erin = await subscribe(conn, { topics: ['notices'] });
    await notice('One');
    const list = await conn.call('check_notice', {});
    expect(list.flag).toBe(true);
    await erin.waitForEvents(1);
    const path = await world.makeFile('not-for-erin.mp4', 1000);
    await uploadFile(admin, path, { isFree: false }); // a video: erin asked for notices only
    await notice('Two');
    await erin.waitForEvents(2);
    expect(erin.events().map((e) => e.kind)).toEqual(['notice', 'notice']);
    const bye = await conn.call('unsubscribe', {});
    expect(bye).toMatchObject({ flag: true, msg: 'unsubscribed', last_id: erin.ids()[1] });
    await notice('Three');
    await sleep(200);
    expect(erin.events()).toHaveLength(2);
    expect(await conn.call('unsubscribe', {})).toMatchObject({ flag: true, msg: 'not subscribed' });
  });

  it('refuses to subscribe without a login, and bad topics', async () => {
    const anonymous = await world.connect();
    expect(await anonymous.request({ type: 'subscribe', session: 'x' })).toMatchObject({ flag: false, code: 'NOT_LOGGED_IN' });
    const conn = await world.loginAs('frank', 'user');
    expect(await conn.request({ type: 'subscribe', session: conn.session, topics: ['gossip'] })).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    expect(await conn.request({ type: 'subscribe', session: conn.session, since: -1 })).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    const ahead = await conn.request({ type: 'subscribe', session: conn.session, since: 1_000_000 });
    expect(ahead).toMatchObject({ flag: false, code: 'BAD_REQUEST' });
    expect(ahead.msg).toMatch(/no event #1000000 yet/);
  });

  it('`since` after a dropped connection replays exactly the missed events, then goes on live', async () => {
    const first = await subscribe(await world.loginAs('gina', 'user'));
    await notice('Seen');
    const [seen] = await first.waitForEvents(1);
    first.frames.length = 0;
    // The connection drops; three things happen while gina is away.
    const lastSeen = Number(seen!.id);
    await notice('Missed 1');
    await notice('Missed 2');
    await admin.call('delete_movie', { movie_id: 999_999 }).catch(() => undefined); // a failed delete announces nothing
    await notice('Missed 3');
    const again = await subscribe(await world.loginAs('gina', 'user'), { since: lastSeen });
    const replayed = await again.waitForEvents(3);
    expect(replayed.map((e) => (e.data as { title: string }).title)).toEqual(['Missed 1', 'Missed 2', 'Missed 3']);
    expect(again.ids()).toEqual([lastSeen + 1, lastSeen + 2, lastSeen + 3]);
    await notice('Live');
    await again.waitForEvents(4);
    await sleep(100);
    expect(again.ids()).toEqual([lastSeen + 1, lastSeen + 2, lastSeen + 3, lastSeen + 4]);
  });

  it('a replay and live events racing at the seam: no gap, no duplicate', async () => {
    const before = Number((await subscribe(await world.loginAs('hank', 'user'))).reply.last_id);
    for (let i = 0; i < 20; i++) await notice(`Backlog ${i}`);
    const conn = await world.loginAs('hank', 'user');
    const hank = collect(conn);
    // Notices keep coming while the replay of the backlog runs.
    const publishing = (async () => {
      for (let i = 0; i < 20; i++) await notice(`Live ${i}`);
    })();
    await conn.call('subscribe', { since: before });
    await publishing;
    await hank.waitForEvents(40);
    await sleep(100);
    expect(hank.ids()).toEqual(Array.from({ length: 40 }, (_, i) => before + 1 + i));
  });

  it('a `since` older than the retention window gets EVENTS_EXPIRED with the oldest kept id', async () => {
    const { db } = world.server.app;
    await notice('Soon gone');
    await pruneEvents(db, new Date(Date.now() + 1000)); // as the retention sweep does, a window from now
    await notice('Kept');
    const kept = (await EventRecord.select(db, {}))[0]!;
    const conn = await world.loginAs('ivy', 'user');
    const reply = await conn.request({ type: 'subscribe', session: conn.session, since: kept.id - 2 });
    expect(reply).toMatchObject({ flag: false, code: 'EVENTS_EXPIRED', oldest_id: kept.id, last_id: kept.id });
    expect(reply.msg).toMatch(new RegExp(`oldest kept is #${kept.id}`));
    const ok = await subscribe(conn, { since: kept.id - 1 });
    const [event] = await ok.waitForEvents(1);
    expect(event).toMatchObject({ id: kept.id, data: { title: 'Kept' } });
  });

  it('the retention sweep runs with the server: events past the window are deleted at start', async () => {
    const { db } = world.server.app;
    const old = await db.transaction((tx) => recordEvent(tx, 'notice', { notice_id: 0, title: 'ancient', content: 'x' }));
    await EventRecord.updateWhere(db, { create_time: new Date(Date.now() - 8 * 24 * 3600 * 1000) }, { id: old.id });
    const dir = world.dir;
    const other = await startServer({ ...world.config, port: 0 }, pino({ level: 'silent' }));
    try {
      for (let i = 0; i < 100 && (await EventRecord.selectOne(db, { id: old.id })); i++) await sleep(20);
      expect(await EventRecord.selectOne(db, { id: old.id })).toBeUndefined();
    } finally {
      await other.close();
    }
    expect(dir).toBeTruthy();
  });

  it('event ids commit one at a time: a later id never becomes visible before an earlier one', async () => {
    const { db } = world.server.app;
    const watcher = await subscribe(await world.loginAs('jack', 'user'));
    let releaseFirst!: () => void;
    const firstHeld = new Promise<void>((resolve) => (releaseFirst = resolve));
    let firstRecorded!: () => void;
    const firstIn = new Promise<void>((resolve) => (firstRecorded = resolve));
    const first = db.transaction(async (tx) => {
      const event = await recordEvent(tx, 'notice', { notice_id: 0, title: 'first', content: 'x' });
      firstRecorded();
      await firstHeld; // still open: its id is taken, its commit is not done
      return event;
    });
    await firstIn;
    let secondDone = false;
    // The second goes through another connection of the pool (MySQL) or queues (SQLite).
    const second = db.transaction((tx) => recordEvent(tx, 'notice', { notice_id: 0, title: 'second', content: 'x' })).then((e) => {
      secondDone = true;
      return e;
    });
    await sleep(300);
    expect(secondDone).toBe(false); // it waits for the first to end
    world.server.app.events.wake();
    await sleep(100);
    expect(watcher.events()).toEqual([]);
    releaseFirst();
    const [a, b] = await Promise.all([first, second]);
    expect(b.id).toBe(a.id + 1);
    world.server.app.events.wake();
    await watcher.waitForEvents(2);
    expect(watcher.ids()).toEqual([a.id, b.id]);
  });

  it('the hub reads the table from the last id it delivered, not the announcement: a missing id is waited for', async () => {
    const { db, events } = world.server.app;
    const watcher = await subscribe(await world.loginAs('kim', 'user'));
    const last = events.cursor;
    const row = (id: number) => EventRecord.from({ id, kind: 'notice', payload: JSON.stringify({ notice_id: 0, title: `#${id}`, content: 'x' }), create_time: new Date() });
    await row(last + 2).save(db); // as if #last+1 had not committed yet
    events.wake();
    await sleep(200);
    expect(watcher.events()).toEqual([]);
    await row(last + 1).save(db);
    await db.execute('UPDATE event_sequence SET last_id = ? WHERE id = 1', [last + 2]);
    events.wake();
    await watcher.waitForEvents(2);
    expect(watcher.ids()).toEqual([last + 1, last + 2]);
  });
});

describe.each(databaseKinds)('live events across a server restart (%s)', (kind) => {
  let world: World;
  let restarted: RunningServer | undefined;
  beforeAll(async () => {
    world = await startWorld(kind);
  });
  afterAll(async () => {
    await restarted?.close();
    await world?.close();
  });

  it('`since` after a restart returns exactly the events the client missed', async () => {
    const admin = await world.loginAs('boss', 'admin');
    const viewer = await subscribe(await world.loginAs('alice', 'user'));
    await admin.call('release_notice', { title: 'Before', content: 'x' });
    const [seen] = await viewer.waitForEvents(1);
    await admin.call('release_notice', { title: 'Missed', content: 'x' });
    await world.server.close();

    restarted = await startServer({ ...world.config, port: 0 }, pino({ level: 'silent' }));
    const { ClientConnection } = await import('../../src/client/connection.js');
    const login = async (name: string, role: 'admin' | 'user') => {
      const conn = await ClientConnection.connect({ host: '127.0.0.1', port: restarted!.port });
      await conn.call('login', { name, password: wirePassword(`secret-${name}`), user_type: role });
      return conn;
    };
    const again = await subscribe(await login('alice', 'user'), { since: Number(seen!.id) });
    const admin2 = await login('boss', 'admin');
    await admin2.call('release_notice', { title: 'After', content: 'x' });
    const events = await again.waitForEvents(2);
    await sleep(100);
    expect(events.map((e) => (e.data as { title: string }).title)).toEqual(['Missed', 'After']);
    expect(again.ids()).toEqual([Number(seen!.id) + 1, Number(seen!.id) + 2]);
    admin2.close();
  });
});
