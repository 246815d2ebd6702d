/**
 * Parallel uploads against a quota, in every mode: the original clients' (no sha256), the
 * declared sha256, the trailer, and a mix. Each upload in progress reserves its space, so of
 * ten 1.5 MiB uploads under a 2 MiB quota at most one is stored, whatever the mode, and the
 * refused ones leave no row and no file behind.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import type { Reply } from '../../src/protocol/messages.js';
import { databaseKinds } from '../helpers/databases.js';
import { expectErrorReply, sha256, startArena, type Arena } from './arena.js';

const MiB = 1024 * 1024;
const QUOTA = 2 * MiB;
type Mode = 'legacy' | 'sha256' | 'trailer';

function upload(conn: ClientConnection, bytes: Buffer, mode: Mode, name: string): Promise<Reply> {
  const hash = sha256(bytes);
  const header = {
    type: 'update_movie',
    session: conn.session,
    file_name: name,
    file_size: bytes.length,
    file_md5: hash.slice(0, 32),
    is_free: 1,
    ...(mode === 'sha256' ? { sha256: hash } : mode === 'trailer' ? { sha256_trailer: true } : {}),
  };
  const trailer = mode === 'trailer' ? () => Promise.resolve({ type: 'upload_sha256', sha256: hash }) : undefined;
  return conn.sendWithBody(header, Readable.from([bytes]), trailer);
}

describe.each(databaseKinds)('uploads in progress reserve their space (%s)', (kind) => {
  let arena: Arena;
  let round = 0;
  beforeAll(async () => {
    arena = await startArena(kind, { adminQuotaBytes: QUOTA });
  });
  afterAll(async () => arena?.close());

  it.each<[string, Mode[]]>([
    ['the original clients (no sha256)', Array(10).fill('legacy')],
    ['sha256 declared', Array(10).fill('sha256')],
    ['the trailer', Array(10).fill('trailer')],
    ['a mix of the three', ['legacy', 'sha256', 'trailer', 'legacy', 'sha256', 'trailer', 'legacy', 'sha256', 'trailer', 'legacy']],
  ])('stores at most one of ten parallel 1.5 MiB uploads under a 2 MiB quota: %s', async (_label, modes) => {
    const admin = `filler${++round}`;
    const conns = await Promise.all(modes.map(() => arena.world.loginAs(admin, 'admin')));
    const watch = await arena.watch();
    const replies = await Promise.all(modes.map((mode, i) => upload(conns[i], randomBytes(1.5 * MiB), mode, `part-${round}-${i}.mp4`)));
    const stored = replies.filter((r) => r.flag);
    expect(stored.length).toBeLessThanOrEqual(1);
    for (const reply of replies.filter((r) => !r.flag)) expectErrorReply(reply, 'QUOTA_EXCEEDED');
    const [{ used }] = await arena.rows<{ used: number }>(
      'SELECT COALESCE(SUM(size), 0) AS used FROM movie WHERE user_id = (SELECT id FROM user WHERE name = ?)',
      [admin],
    );
    expect(Number(used)).toBeLessThanOrEqual(QUOTA);
    // Refused uploads leave nothing: no upload row, no partial under .incoming.
    expect(await arena.rows('SELECT * FROM upload')).toEqual([]);
    const changes = await watch.changes();
    expect(changes.movie?.added ?? []).toHaveLength(stored.length);
    expect(changes.files?.added ?? []).toHaveLength(stored.length);
    expect(changes.files?.added?.some((f) => f.startsWith('.incoming'))).toBeFalsy();
    expect(Object.keys(changes).filter((table) => table !== 'movie' && table !== 'files')).toEqual([]);
    await watch.served();
    // Not a server that refuses everything: what still fits is taken.
    expect(await upload(conns[0], randomBytes(256 * 1024), modes[0], `fits-${round}.mp4`)).toMatchObject({ flag: true });
    conns.forEach((c) => c.close());
  });
});
