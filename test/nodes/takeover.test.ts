/**
 * Node heartbeats, on SQLite and MySQL: two nodes on one database and one media directory. An
 * upload cut by a node killed with SIGKILL (a real `cinebox server` process) is resumed through
 * the other node as soon as the dead node missed its beats, with `--upload-lease` at 10 minutes,
 * so only the heartbeat can have freed it; the stored file has the right SHA-256. An upload
 * held by a node that still beats is not taken over, however long the other waits.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientConnection, ServerError } from '../../src/client/connection.js';
import { quickMd5, uploadFile } from '../../src/client/upload.js';
import { openDatabase, type Database } from '../../src/orm/index.js';
import { LiveSession, Movie, NodeBeat, Upload } from '../../src/orm/models/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { configWith, type ServerConfig } from '../../src/server/config.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { ADMIN_CODE, adminConnection, sha256Of, startNode, type Node } from '../crash/helpers.js';
import { databaseKinds, freshDatabaseUrl, type FreshDatabase } from '../helpers/databases.js';
import { waitFor } from '../transfers/helpers.js';

const MiB = 1024 * 1024;
const BEAT = 0.3; // seconds: a node is dead after 3 missed beats, 0.9 s
const LEASE = '10m'; // the old rule alone would keep a dead node's upload for 10 minutes

describe.each(databaseKinds)('uploads of a node that stopped beating (%s)', { timeout: 240_000 }, (kind) => {
  let main: string;
  let dir: string;
  let database: FreshDatabase;
  let mediaDir: string;
  let nodeA: Node | undefined;
  const inProcess: RunningServer[] = [];
  const opened: ClientConnection[] = [];
  const logsB: Record<string, unknown>[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cinebox-nodes-'));
    [main, database] = await Promise.all([builtCli(), freshDatabaseUrl(kind, dir)]);
    mediaDir = join(dir, 'media');
    shared = await openDatabase(database.url);
  }, 180_000);
  afterAll(async () => {
    for (const conn of opened) conn.close();
    await nodeA?.kill();
    for (const server of inProcess) await server.close();
    await shared?.close();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const startA = (beatSeconds = BEAT) =>
    startNode(main, { db: database.url, mediaDir, uploadLease: LEASE, args: ['--node-name', 'node-a', '--node-beat', `${beatSeconds * 1000}ms`] });
  const startInProcess = async (name: string, overrides: Partial<ServerConfig> = {}) => {
    const config = configWith({
      host: '127.0.0.1',
      port: 0,
      db: database.url,
      mediaDir,
      adminCode: ADMIN_CODE,
      scryptN: 1024,
      nodeName: name,
      nodeBeatSeconds: BEAT,
      uploadLeaseSeconds: 600,
      ...overrides,
    });
    const server = await startServer(config, pino({ level: 'info' }, { write: (line: string) => void logsB.push(JSON.parse(line)) }));
    inProcess.push(server);
    return server;
  };
  const admin = async (port: number) => {
    const conn = await adminConnection(port, false);
    opened.push(conn);
    return conn;
  };
  const makeFile = async (name: string, size: number) => {
    const path = join(dir, name);
    await writeFile(path, randomBytes(size));
    return path;
  };

  /** Starts an upload of `path` and sends only its first `bytes`: the connection stays mid-body. Resolves once the partial holds them. */
  async function holdUpload(conn: ClientConnection, path: string, bytes: number) {
    const { size } = await stat(path);
    const fileMd5 = await quickMd5(path);
    const body = new PassThrough();
    const reply = conn.sendWithBody(
      { type: 'update_movie', session: conn.session, file_name: 'held.mp4', file_size: size, file_md5: fileMd5, is_free: 1, sha256: await sha256Of(path) },
      body,
    );
    reply.catch(() => undefined); // ends with the connection
    const { readFile } = await import('node:fs/promises');
    body.write((await readFile(path)).subarray(0, bytes));
    const row = await waitFor(() => Upload.selectOne(db(), { file_md5: fileMd5 }), 'the upload row');
    await waitFor(async () => ((await stat(join(mediaDir, '.incoming', row.temp_name)).catch(() => undefined))?.size ?? 0) >= bytes || undefined, 'the partial on disk', 20_000);
    return { row: (await Upload.selectOne(db(), { id: row.id }))!, reply };
  }

  /** The test's own handle on the shared database (the nodes create its tables). */
  let shared: Database;
  const db = () => shared;

  /** Uploads through `conn`, retrying while the server says another connection holds it; counts the refusals. */
  async function uploadRetrying(conn: ClientConnection, path: string) {
    let resumedAt = 0;
    for (let refusals = 0; ; refusals++) {
      try {
        const reply = await uploadFile(conn, path, { isFree: true, onResume: (offset) => (resumedAt = offset) });
        return { reply, resumedAt, refusals };
      } catch (error) {
        if (!(error instanceof ServerError && error.code === 'CONFLICT') || refusals > 100) throw error;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  it('an upload cut by a killed node is resumed through another node at once, and stored whole', async () => {
    nodeA = await startA();
    const nodeB = await startInProcess('node-b');
    const register = await adminConnection(nodeA.port, true);
    register.close();
    const onA = await admin(nodeA.port);
    const path = await makeFile('cut-by-a-kill.mp4', 24 * MiB);
    const { row } = await holdUpload(onA, path, 6 * MiB);
    expect(row).toMatchObject({ holder_node: 'node-a' });
    const beatA = await NodeBeat.selectOne(db(), { node: 'node-a' });
    expect(beatA?.run).toBe(row.holder_run);
    // A viewer's session on node A: its row must not outlive the node.
    const viewer = await ClientConnection.connect({ host: '127.0.0.1', port: nodeA.port });
    opened.push(viewer);
    const viewerLogin = { name: 'viewer-on-a', password: wirePassword('pw-viewer'), user_type: 'user' as const };
    await viewer.request({ type: 'register', ...viewerLogin });
    await viewer.call('login', viewerLogin);
    expect(await LiveSession.count(db(), { node: 'node-a' })).toBe(1);

    await nodeA.kill();
    const killedAt = Date.now();
    const onB = await admin(nodeB.port);
    const { reply, resumedAt, refusals } = await uploadRetrying(onB, path);
    const seconds = (Date.now() - killedAt) / 1000;
    console.log(`${kind}: resumed through node B ${seconds.toFixed(2)} s after the kill (${refusals} CONFLICT replies first), from byte ${resumedAt}`);

    expect(reply.flag).toBe(true);
    expect(resumedAt).toBeGreaterThanOrEqual(6 * MiB); // the bytes node A had written were kept
    const movie = await Movie.selectOne(db(), { id: Number(reply.movie_id) });
    expect(movie!.sha256).toBe(await sha256Of(path));
    expect(await sha256Of(join(mediaDir, movie!.path))).toBe(movie!.sha256);
    expect(await Upload.count(db(), {})).toBe(0);
    expect(logsB.some((line) => line.msg === 'upload taken over from a node that stopped' && line.from_node === 'node-a' && line.node === 'node-b')).toBe(true);
    // Node B's sweep (every ten beats) ends the dead node's sessions.
    await waitFor(async () => ((await LiveSession.count(db(), { node: 'node-a' })) === 0 ? true : undefined), "node A's sessions to be ended");
  });

  it('a node killed and started again at once under its name starts without waiting, under a new run', async () => {
    // A 5 s beat: the killed run's beat is still fresh (15 s) when the node is back, but its process is gone.
    nodeA = await startA(5);
    const killed = await waitFor(() => NodeBeat.selectOne(db(), { node: 'node-a' }), 'the beat of node-a');
    await nodeA.kill();
    nodeA = await startA(5);
    const beat = await waitFor(async () => {
      const row = await NodeBeat.selectOne(db(), { node: 'node-a' });
      return row && row.run !== killed.run ? row : undefined;
    }, 'the new run of node-a');
    expect(beat.started_at.getTime()).toBeGreaterThan(killed.started_at.getTime());
    expect(nodeA.logs()).toContain('"node":"node-a"');
    expect(nodeA.logs()).not.toContain('waiting for it to go quiet');
    await nodeA.kill();
  });

  it('a second node given the name of a running one waits for it to go quiet, and refuses to start when it beats on', async () => {
    await startInProcess('twin');
    await expect(startInProcess('twin')).rejects.toThrow(/node name "twin" is in use by a running node.*--node-name/);
    expect(logsB.some((line) => line.node === 'twin' && String(line.msg).includes('waiting for it to go quiet'))).toBe(true);
  });

  it('an upload held by a node that still beats is not taken over; once it is released it resumes', async () => {
    const nodeC = await startInProcess('node-c');
    const nodeD = await startInProcess('node-d');
    const path = await makeFile('held-by-a-live-node.mp4', 24 * MiB);
    (await adminConnection(nodeC.port, true)).close(); // registers, if the first test did not
    const onC = await admin(nodeC.port);
    const { row } = await holdUpload(onC, path, 4 * MiB);
    expect(row).toMatchObject({ holder_node: 'node-c', holder_run: nodeC.app.node.run });

    const onD = await admin(nodeD.port);
    // Five times the dead-node threshold: node C keeps beating, so its upload stays its own.
    for (let i = 0; i < 5; i++) {
      await expect(uploadFile(onD, path, { isFree: true })).rejects.toMatchObject({ code: 'CONFLICT' });
      await new Promise((r) => setTimeout(r, BEAT * 3 * 1000));
    }
    expect(await Upload.selectOne(db(), { id: row.id })).toMatchObject({ holder: row.holder, holder_node: 'node-c' });

    // A graceful stop: the cut upload is released and node C's beat row goes.
    await nodeC.shutdown(0);
    expect(await NodeBeat.selectOne(db(), { node: 'node-c' })).toBeUndefined();
    const { reply, resumedAt } = await uploadRetrying(onD, path);
    expect(reply.flag).toBe(true);
    expect(resumedAt).toBeGreaterThanOrEqual(4 * MiB);
    const movie = await Movie.selectOne(db(), { id: Number(reply.movie_id) });
    expect(await sha256Of(join(mediaDir, movie!.path))).toBe(await sha256Of(path));
  });
  it('two nodes taking over one dead upload at once: exactly one wins, the other gets CONFLICT, the video is stored once', async () => {
    nodeA = await startA();
    const [one, two] = [await startInProcess('racer-1'), await startInProcess('racer-2')];
    (await adminConnection(nodeA.port, true)).close(); // registers, if the first test did not
    const path = await makeFile('raced.mp4', 16 * MiB);
    const { row } = await holdUpload(await admin(nodeA.port), path, 4 * MiB);
    await nodeA.kill();
    // Wait until node A is dead for every node, then let both race for its upload.
    await waitFor(async () => {
      const beat = await NodeBeat.selectOne(db(), { node: 'node-a' });
      return beat && Date.now() - beat.beat_time.getTime() > 3 * beat.beat_ms + 100 ? true : undefined;
    }, 'node A to miss three beats');
    const [onOne, onTwo] = [await admin(one.port), await admin(two.port)];
    const results = await Promise.allSettled([uploadFile(onOne, path, { isFree: true }), uploadFile(onTwo, path, { isFree: true })]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect(lost[0]!.reason).toMatchObject({ code: 'CONFLICT' });
    const sha = await sha256Of(path);
    expect(await Movie.count(db(), { sha256: sha })).toBe(1);
    expect(await Upload.selectOne(db(), { id: row.id })).toBeUndefined();
  });
});
