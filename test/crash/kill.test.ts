/**
 * The kill test, on SQLite and MySQL: a real server process killed with SIGKILL at each step
 * of publishing (CINEBOX_CRASH_AT, src/server/crash-points.ts) and at random instants of
 * uploads and resumes, then started again on the same database and media directory. After
 * every restart: each acknowledged upload is stored exactly once with the right SHA-256, no
 * file lacks a row, no row lacks a file, no upload row claims more than its partial holds,
 * and the cut upload completes on resume from the bytes held, not from 0.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServerError, type ClientConnection } from '../../src/client/connection.js';
import { uploadFile } from '../../src/client/upload.js';
import { CRASH_POINTS } from '../../src/server/uploads/crash-points.js';
import { builtCli } from '../cli/helpers/built-cli.js';
import { databaseKinds, freshDatabaseUrl, type FreshDatabase } from '../helpers/databases.js';
import { adminConnection, heldFor, rowsAheadOfDisk, sha256Of, startNode, violations, type Node } from './helpers.js';

const MiB = 1024 * 1024;
const RANDOM_ROUNDS = Number(process.env.CINEBOX_KILL_ROUNDS ?? 8);

describe.each(databaseKinds)('a server killed at any instant (%s)', { timeout: 600_000 }, (kind) => {
  let main: string;
  let dir: string;
  let database: FreshDatabase;
  let mediaDir: string;
  let node: Node | undefined;
  let registered = false;
  const acknowledged = new Set<string>();

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cinebox-kill-'));
    [main, database] = await Promise.all([builtCli(), freshDatabaseUrl(kind, dir)]);
    mediaDir = join(dir, 'media');
  }, 180_000);
  afterAll(async () => {
    await node?.kill();
    await database?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (crashAt?: string) => (node = await startNode(main, { db: database.url, mediaDir, crashAt }));
  const login = async () => {
    const conn = await adminConnection(node!.port, !registered);
    registered = true;
    return conn;
  };
  const makeFile = async (name: string, size: number) => {
    const path = join(dir, name);
    await writeFile(path, randomBytes(size));
    return path;
  };

  /** Uploads (resuming), waiting out the dead node's lease; returns where it resumed and the reply, or the refusal. */
  async function uploadToEnd(conn: ClientConnection, path: string) {
    let resumedAt = 0;
    for (let attempt = 0; ; attempt++) {
      try {
        const reply = await uploadFile(conn, path, { isFree: true, onResume: (offset) => (resumedAt = offset) });
        return { resumedAt, reply, refused: undefined };
      } catch (error) {
        const busy = error instanceof ServerError && /another connection/.test(error.message);
        if (busy && attempt < 40) {
          await new Promise((r) => setTimeout(r, 250));
          continue;
        }
        if (error instanceof ServerError) return { resumedAt, reply: undefined, refused: error };
        throw error;
      }
    }
  }

  /** After the start check, and its second look at publishes whose dead holder's lease had not run out yet. */
  async function expectWhole() {
    for (let i = 0; i < 100; i++) {
      const checks = node!.logs().split('\n').filter((line) => line.includes('"inFlight"'));
      if (checks.length > 0 && checks.at(-1)!.includes('"inFlight":0')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(await violations(database.url, mediaDir, acknowledged)).toEqual([]);
  }

  it.each(CRASH_POINTS)('killed at %s while publishing: the restart makes it whole, the upload completes', async (point) => {
    await start(point);
    const size = 3 * MiB + 12_345;
    const path = await makeFile(`crash-${point}.bin`, size);
    const conn = await login();
    const cut = await uploadFile(conn, path, { isFree: true }).then(() => 'answered', () => 'cut');
    conn.close();
    expect(await node!.ended).toBe('SIGKILL');
    expect(cut).toBe('cut');
    expect(await rowsAheadOfDisk(database.url, mediaDir)).toEqual([]);

    await start();
    await expectWhole();
    const again = await login();
    const { resumedAt, reply, refused } = await uploadToEnd(again, path);
    again.close();
    const sha = await sha256Of(path);
    if (point === 'after-commit' || point === 'mid-reply') {
      // Stored before the kill; the client never heard it: the retry is told so.
      expect(refused?.code).toBe('CONFLICT');
      expect(refused?.message).toMatch(/already stored/);
    } else {
      expect(refused).toBeUndefined();
      expect(reply?.sha256).toBe(sha);
      expect(resumedAt).toBe(size); // every byte was kept: nothing sent again
    }
    acknowledged.add(sha);
    await expectWhole();
    await node!.kill();
  });

  it('killed at random instants of uploads, resumes and duplicates: every restart makes it whole', async () => {
    let pending: { path: string; size: number } | undefined;
    const storedPaths: string[] = [];
    for (let round = 0; round < RANDOM_ROUNDS; round++) {
      await start();
      await expectWhole();
      const conn = await login();
      const duplicate = storedPaths.length > 0 && round % 4 === 3;
      const file = duplicate
        ? { path: storedPaths[0]!, size: 0 }
        : (pending ?? { size: (8 + round * 3) * MiB + round, path: '' });
      if (!file.path) file.path = await makeFile(`random-${round}.bin`, file.size);
      const heldBefore = file.size > 0 ? await heldFor(database.url, mediaDir, file.size) : 0;
      let resumedAt = 0;
      const upload = uploadFile(conn, file.path, { isFree: true, onResume: (offset) => (resumedAt = offset) }).then(
        (reply) => ({ reply }),
        (error: Error) => ({ error }),
      );
      await new Promise((r) => setTimeout(r, 20 + Math.random() * 700));
      await node!.kill();
      const outcome = await upload;
      conn.close();
      expect(resumedAt).toBeGreaterThanOrEqual(heldBefore); // never starts over
      const storedBefore = 'error' in outcome && outcome.error instanceof ServerError && /already stored/.test(outcome.error.message);
      if ('reply' in outcome || (storedBefore && !duplicate)) {
        // Answered, or stored by an earlier round whose reply the kill cut off.
        acknowledged.add(await sha256Of(file.path));
        storedPaths.push(file.path);
        pending = undefined;
      } else if (!duplicate) {
        pending = file;
      }
      expect(await rowsAheadOfDisk(database.url, mediaDir)).toEqual([]);
    }
    // Finally every cut upload completes, from the bytes held.
    await start();
    await expectWhole();
    if (pending) {
      const conn = await login();
      const heldBefore = await heldFor(database.url, mediaDir, pending.size);
      const { resumedAt, reply, refused } = await uploadToEnd(conn, pending.path);
      conn.close();
      expect(resumedAt).toBeGreaterThanOrEqual(heldBefore);
      if (refused) expect(refused.message).toMatch(/already stored/);
      else acknowledged.add(String(reply!.sha256));
    }
    await expectWhole();
    await node!.kill();
  });
});
