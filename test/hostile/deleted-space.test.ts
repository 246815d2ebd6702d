/**
 * Upload-then-delete in a loop under a quota: a deleted video's file stays on the disk, so
 * it keeps counting until the operator purges it (`cinebox purge --older-than AGE`), and the
 * loop cannot write without bound. The purge removes only files deleted longer ago than the
 * age, keeps the rows (download histories name them), and gives the space back.
 */
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import * as purge from '../../src/cli/commands/purge.js';
import type { ClientConnection } from '../../src/client/connection.js';
import type { Reply } from '../../src/protocol/messages.js';
import { databaseKinds } from '../helpers/databases.js';
import { expectErrorReply, sha256, startArena, type Arena } from './arena.js';

const MiB = 1024 * 1024;

function uploadLegacy(conn: ClientConnection, bytes: Buffer, name: string): Promise<Reply> {
  const header = { type: 'update_movie', session: conn.session, file_name: name, file_size: bytes.length, file_md5: sha256(bytes).slice(0, 32), is_free: 1 };
  return conn.sendWithBody(header, Readable.from([bytes]));
}

async function runPurge(arena: Arena, olderThan: string): Promise<string[]> {
  const said: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void said.push(line));
  try {
    await yargs().command(purge).parseAsync(['purge', '--older-than', olderThan, '--db', arena.world.config.db, '--media-dir', arena.world.config.mediaDir]);
  } finally {
    log.mockRestore();
  }
  return said;
}

describe.each(databaseKinds)('deleted videos and the quota (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { adminQuotaBytes: 2 * MiB });
  });
  afterAll(async () => arena?.close());

  it('count until purged: ten rounds of upload-then-delete store one file under a 2 MiB quota', async () => {
    const looper = await arena.world.loginAs('looper', 'admin');
    const before = new Set(await readdir(arena.world.config.mediaDir));
    const watch = await arena.watch();
    let stored = 0;
    for (let round = 0; round < 10; round++) {
      const reply = await uploadLegacy(looper, randomBytes(1.5 * MiB), `loop-${round}.mp4`);
      if (!reply.flag) {
        expectErrorReply(reply, 'QUOTA_EXCEEDED');
        continue;
      }
      stored++;
      expect(await looper.call("delete_movie", { movie_id: Number(reply.movie_id) })).toMatchObject({ flag: true });
    }
    expect(stored).toBe(1);
    const added = (await readdir(arena.world.config.mediaDir)).filter((name) => !before.has(name) && name !== '.incoming');
    expect(added).toHaveLength(1);
    const changes = await watch.changes();
    expect(Object.keys(changes).sort()).toEqual(['files', 'movie']);
    await watch.served();
  });

  it('`cinebox purge` removes only files deleted longer ago than the age, keeps the rows, frees the space', async () => {
    const looper = await arena.world.loginAs('looper', 'admin');
    const deleted = await arena.rows<{ id: number; path: string }>("SELECT id, path FROM movie WHERE is_delete = 1 AND name LIKE 'loop-%'");
    expect(deleted).toHaveLength(1);
    const watch = await arena.watch();
    expect(await runPurge(arena, '30d')).toEqual([expect.stringMatching(/^purged 0 deleted videos/)]);
    expect(await watch.changes()).toEqual({});
    expect(await runPurge(arena, '0')).toEqual([expect.stringMatching(/^purged 1 deleted video \(1\.5 MiB\)/)]);
    const changes = await watch.changes();
    expect(changes.files).toEqual({ removed: [deleted[0].path] });
    expect(changes.movie?.changed).toEqual([{ before: expect.objectContaining({ id: deleted[0].id, is_delete: 1 }), after: expect.objectContaining({ id: deleted[0].id, is_delete: 2 }) }]);
    // The live videos' files are untouched, and the space is back.
    expect(await uploadLegacy(looper, randomBytes(1.5 * MiB), 'after-purge.mp4')).toMatchObject({ flag: true });
    await watch.served();
  });
});
