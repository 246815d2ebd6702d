/**
 * The trailer frame of an upload with `sha256_trailer`, attacked: the admin is locked while
 * the client holds the trailer back, and the video must not be published when it comes; a
 * trailer trickled one byte at a time is cut at the header deadline, like any frame.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { expectErrorReply, sha256, startArena, waitFor, type Arena } from './arena.js';

describe.each(databaseKinds)('the trailer frame (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { headerDeadlineSeconds: 1 });
  });
  afterAll(async () => arena?.close());

  it('is refused for an admin locked while the client held it back: nothing is published', async () => {
    (await arena.world.loginAs('late', 'admin')).close();
    const peer = await arena.peer();
    const login = await peer.request({ type: 'login', name: 'late', password: wirePassword('secret-late'), user_type: 'admin' });
    const bytes = randomBytes(200 * 1024);
    const watch = await arena.watch();
    peer.send({ type: 'update_movie', session: login.session, file_name: 'late.mp4', file_size: bytes.length, file_md5: sha256(bytes).slice(0, 32), is_free: 1, sha256_trailer: true }, bytes);
    await waitFor(async () => (await arena.rows<{ received_bytes: number }>('SELECT received_bytes FROM upload')).length > 0, 5000, 'the upload row');
    // The operator locks the admin (admins cannot lock each other) while the trailer is held back.
    await arena.rows("UPDATE user SET is_locked = 1 WHERE name = 'late'");
    peer.send({ type: 'upload_sha256', sha256: sha256(bytes) });
    expectErrorReply(await peer.next(), 'ACCOUNT_LOCKED');
    const changes = await watch.changes();
    expect(changes.movie).toBeUndefined();
    expect(changes.user?.changed?.map((c) => c.after.name)).toEqual(['late']);
    expect((changes.files?.added ?? []).every((f) => f.startsWith('.incoming'))).toBe(true);
    await watch.served();
  });

  it('has the header deadline of any frame: one trickled a byte at a time is cut with TIMEOUT', async () => {
    (await arena.world.loginAs('trickler', 'admin')).close();
    const peer = await arena.peer();
    const login = await peer.request({ type: 'login', name: 'trickler', password: wirePassword('secret-trickler'), user_type: 'admin' });
    const bytes = randomBytes(100 * 1024);
    const watch = await arena.watch();
    peer.send({ type: 'update_movie', session: login.session, file_name: 'trickle.mp4', file_size: bytes.length, file_md5: sha256(bytes).slice(0, 32), is_free: 1, sha256_trailer: true }, bytes);
    const trailer = encodeFrame({ type: 'upload_sha256', sha256: sha256(bytes) });
    for (let i = 0; i < trailer.length - 1 && !peer.closed; i++) {
      peer.write(trailer.subarray(i, i + 1));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(peer.closed).toBe(true);
    expectErrorReply(peer.replies.at(-1), 'TIMEOUT');
    // Nothing published; the bytes stay for a resume.
    const changes = await watch.changes();
    expect(changes.movie).toBeUndefined();
    expect((changes.files?.added ?? []).every((f) => f.startsWith('.incoming'))).toBe(true);
    await watch.served();
  });
});
