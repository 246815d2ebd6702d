/**
 * Watching live events from the client side: the watcher survives a dropped connection and a
 * server restart (reconnect with backoff, resubscribe with since: every event once, in
 * order), and `cinebox user watch` prints one line per event, or one JSON object with --json.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { watchEvents } from '../../src/client/event-watcher.js';
import { uploadFile } from '../../src/client/upload.js';
import type { EventFrame } from '../../src/protocol/messages.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { startWorld, type World } from '../helpers/world.js';
import { sleep } from './helpers.js';

const until = async (check: () => boolean, what: string, timeoutMs = 15_000) => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
};

describe('the event watcher', () => {
  let world: World;
  let restarted: RunningServer | undefined;
  beforeAll(async () => {
    world = await startWorld('sqlite');
  });
  afterAll(async () => {
    await restarted?.close();
    await world?.close();
  });

  it('stops with ACCOUNT_LOCKED when its account is locked, instead of resubscribing', async () => {
    const admin = await world.loginAs('warden', 'admin');
    await world.loginAs('lockee', 'user');
    const status: string[] = [];
    const stop = new AbortController();
    const ended = watchEvents({
      async open() {
        const client = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port, timeoutMs: 2000 });
        await client.login('lockee', 'secret-lockee', 'user');
        return client;
      },
      onEvent: () => undefined,
      onStatus: (message) => status.push(message),
      signal: stop.signal,
      backoffMs: 50,
    }).then(() => 'stopped', (error: unknown) => error);
    await until(() => world.server.app.events.subscriberCount === 1, 'the watcher to subscribe');
    await admin.call('lock_user', { name: 'lockee' });
    expect(await ended).toMatchObject({ code: 'ACCOUNT_LOCKED', message: expect.stringMatching(/locked/) });
    expect(status.filter((s) => s.startsWith('fell behind'))).toEqual([]);
    stop.abort();
    admin.close();
  });

  it('reconnects after a drop and after a server restart, and resubscribes with since: every event once, in order', async () => {
    const port = world.server.port;
    const admin = await world.loginAs('boss', 'admin');
    await world.loginAs('alice', 'user');
    const seen: EventFrame[] = [];
    const status: string[] = [];
    const stop = new AbortController();
    const opened: CineboxClient[] = [];
    const watching = watchEvents({
      async open() {
        const client = await CineboxClient.connect({ host: '127.0.0.1', port, timeoutMs: 2000 });
        opened.push(client);
        await client.login('alice', 'secret-alice', 'user');
        return client;
      },
      onEvent: (event) => seen.push(event),
      onStatus: (message) => status.push(message),
      signal: stop.signal,
      backoffMs: 50,
      maxBackoffMs: 400,
    });
    await until(() => world.server.app.events.subscriberCount === 1, 'the watcher to subscribe');
    const notice = (title: string, conn = admin) => conn.call('release_notice', { title, content: 'x' });
    await notice('one');
    await until(() => seen.length === 1, 'the first event');

    // The connection drops (the server side cuts it); two notices go out meanwhile.
    for (const conn of world.server.connections) if (world.server.app.events.subscriptionOf(conn)) conn.socket.destroy();
    await notice('two');
    await notice('three');
    await until(() => seen.length === 3, 'the events missed during the drop');
    expect(status.some((s) => s.startsWith('connection lost'))).toBe(true);

    // The server restarts on the same port; the watcher retries with backoff until it is back.
    await world.server.close();
    await until(() => status.some((s) => /retrying in/.test(s)), 'a retry while the server is down');
    restarted = await startServer({ ...world.config, port }, pino({ level: 'silent' }));
    await until(() => restarted!.app.events.subscriberCount === 1, 'the watcher to resubscribe', 20_000);
    const admin2 = await CineboxClient.connect({ host: '127.0.0.1', port });
    await admin2.login('boss', 'secret-boss', 'admin');
    await admin2.releaseNotice('four', 'x');
    await until(() => seen.length === 4, 'the event after the restart');
    await sleep(100);
    expect(seen.map((e) => e.data.title)).toEqual(['one', 'two', 'three', 'four']);
    const first = seen[0]!.id;
    expect(seen.map((e) => e.id)).toEqual([first, first + 1, first + 2, first + 3]);
    expect(status.some((s) => s.startsWith('reconnected'))).toBe(true);
    stop.abort();
    await watching;
    admin2.close();
    for (const client of opened) client.close();
  });

  it('ends with the server\'s refusal when the login is wrong (no endless retry)', async () => {
    const stop = new AbortController();
    const target = restarted ?? world.server;
    const result = await watchEvents({
      async open() {
        const client = await CineboxClient.connect({ host: '127.0.0.1', port: target.port });
        await client.login('alice', 'wrong', 'user').catch((error) => {
          client.close();
          throw error;
        });
        return client;
      },
      onEvent: () => undefined,
      onStatus: () => undefined,
      signal: stop.signal,
    }).catch((error: Error) => error);
    expect(result).toMatchObject({ name: 'ServerError', code: 'LOGIN_FAILED' });
  });
});

describe('`cinebox user watch`', () => {
  let world: World;
  let main: string;
  const children: ChildProcessWithoutNullStreams[] = [];
  beforeAll(async () => {
    main = await builtCli();
    world = await startWorld('sqlite');
  }, 180_000);
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await world?.close();
  });

  const watch = (...extra: string[]) => {
    const child = spawn(process.execPath, [main, 'user', 'watch', '--port', String(world.server.port), '--name', 'alice', '--password', 'secret-alice', ...extra]);
    children.push(child);
    const out = { stdout: '', stderr: '', lines: () => out.stdout.split('\n').filter(Boolean), exit: new Promise<number | null>((resolve) => child.once('exit', resolve)) };
    child.stdout.on('data', (chunk) => (out.stdout += chunk));
    child.stderr.on('data', (chunk) => (out.stderr += chunk));
    return { child, out };
  };

  it('prints one JSON object per line with --json, one readable line without; Ctrl-C says where to resume', async () => {
    const admin = await world.loginAs('boss', 'admin');
    await world.loginAs('alice', 'user');
    const json = watch('--json');
    await until(() => world.server.app.events.subscriberCount === 1, 'the watch to subscribe');
    const { notice_id } = await admin.call('release_notice', { title: 'Tonight', content: 'A double bill' });
    const uploaded = await uploadFile(admin, await world.makeFile('feature.mkv', 2048), { isFree: false });
    await until(() => json.out.lines().length === 2, 'two JSON lines');
    const [first, second] = json.out.lines().map((line) => JSON.parse(line));
    expect(first).toEqual({ id: first.id, kind: 'notice', time: first.time, data: { notice_id, title: 'Tonight', content: 'A double bill' } });
    expect(second).toMatchObject({ id: first.id + 1, kind: 'video_added', data: { movie_id: uploaded.movie_id, name: 'feature.mkv', is_free: 0, size: 2048 } });
    json.child.kill('SIGINT');
    expect(await json.out.exit).toBe(130);
    expect(json.out.stderr).toContain(`resume with --since ${first.id + 1}`);

    // Human lines, replaying from before the first event.
    const text = watch('--since', String(first.id - 1));
    await until(() => text.out.lines().length === 2, 'two lines');
    expect(text.out.lines()[0]).toMatch(new RegExp(`^#${first.id}  \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d  notice   "Tonight": A double bill$`));
    expect(text.out.lines()[1]).toMatch(new RegExp(`^#${first.id + 1}  .*new video #${uploaded.movie_id} "feature.mkv" \\(paid, 2.0 KB\\)$`));
    text.child.kill('SIGTERM');
    expect(await text.out.exit).toBe(130);
  });
});
