/**
 * Twenty connections at once doing what may happen only once: registering one name (one
 * account, the winner's), one viewer buying VIP (one charge), one viewer downloading one
 * paid video (one purchase row, every download whole), one admin uploading one file (one
 * video). The requests are written to all sockets before any reply is read.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { ADMIN_CODE } from '../helpers/world.js';
import { download, sha256, startArena, type Arena } from './arena.js';


const RACERS = 20;

describe.each(databaseKinds)('races (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind);
  });
  afterAll(async () => arena?.close());

  /** `n` connections logged in as one account (registered first if needed). */
  async function loggedIn(name: string, role: 'admin' | 'user', n = RACERS): Promise<ClientConnection[]> {
    const password = wirePassword(`pw-${name}`);
    const first = await arena.world.connect();
    await first.request({ type: 'register', name, password, user_type: role, ...(role === 'admin' ? { admin_code: ADMIN_CODE } : {}) });
    first.close();
    const conns = await Promise.all(Array.from({ length: n }, () => arena.world.connect()));
    await Promise.all(conns.map((c) => c.call('login', { name, password, user_type: role })));
    return conns;
  }

  it('20 registrations of one name: one account, and it is the winner\'s', async () => {
    const watch = await arena.watch();
    const conns = await Promise.all(Array.from({ length: RACERS }, () => arena.world.connect()));
    const attempts = conns.map((_, i) => ({
      password: wirePassword(`racer-${i}`),
      role: i % 2 ? ('admin' as const) : ('user' as const),
    }));
    const replies = await Promise.all(
      conns.map((c, i) =>
        c.request({ type: 'register', name: 'racer', password: attempts[i].password, user_type: attempts[i].role, ...(attempts[i].role === 'admin' ? { admin_code: ADMIN_CODE } : {}) }),
      ),
    );
    const winners = replies.flatMap((r, i) => (r.flag ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(replies.filter((r) => !r.flag).map((r) => r.code)).toEqual(Array(RACERS - 1).fill('CONFLICT'));

    const changes = await watch.changes();
    expect(changes).toEqual({ user: { added: [expect.objectContaining({ name: 'racer', user_type: attempts[winners[0]].role })] } });
    const winner = attempts[winners[0]];
    const loser = attempts[(winners[0] + 1) % RACERS];
    expect(await conns[0].request({ type: 'login', name: 'racer', password: winner.password, user_type: winner.role })).toMatchObject({ flag: true });
    expect(await conns[1].request({ type: 'login', name: 'racer', password: loser.password, user_type: winner.role })).toMatchObject({ flag: false });
    conns.forEach((c) => c.close());
    await watch.served();
  });

  it('20 buy_vip of one viewer: one success, one charge', async () => {
    const conns = await loggedIn('vip-racer', 'user');
    const watch = await arena.watch();
    const charges = () => arena.world.logs.filter((l) => l.msg === 'bought VIP').length;
    const chargesBefore = charges();
    const replies = await Promise.all(conns.map((c) => c.request({ type: 'buy_vip', session: c.session })));
    expect(replies.filter((r) => r.flag)).toEqual([expect.objectContaining({ flag: true, price_cents: arena.world.config.vipPriceCents })]);
    expect(replies.filter((r) => !r.flag).map((r) => r.code)).toEqual(Array(RACERS - 1).fill('CONFLICT'));
    expect(charges() - chargesBefore).toBe(1);

    const changes = await watch.changes();
    expect(changes).toEqual({ user: { changed: [expect.anything()] } });
    const [{ before, after }] = changes.user!.changed!;
    expect(after).toEqual({ ...before, is_vip: 1 });
    expect(after.name).toBe('vip-racer');
    conns.forEach((c) => c.close());
    await watch.served();
  });

  it('20 downloads of one paid video by one viewer: one purchase row, every copy whole', async () => {
    const conns = await loggedIn('paid-racer', 'user');
    const watch = await arena.watch();
    const results = await Promise.all(conns.map((c) => download(c, arena.paid.id, 'charge')));
    for (const { reply, bytes } of results) {
      expect(reply).toMatchObject({ flag: true });
      expect(sha256(bytes)).toBe(sha256(arena.paid.bytes));
    }
    const price = arena.world.config.paidPriceNormalCents;
    expect(results.map((r) => Number(r.reply.charged_cents)).sort((a, b) => b - a)).toEqual([price, ...Array(RACERS - 1).fill(0)]);

    const [viewer] = await arena.rows<{ id: number }>("SELECT id FROM user WHERE name = 'paid-racer'");
    const purchases = await arena.rows<{ price: number }>('SELECT price FROM purchase WHERE user_id = ? AND movie_id = ?', [viewer.id, arena.paid.id]);
    expect(purchases.map((p) => Number(p.price))).toEqual([price]);
    // Every download is recorded (the record is written just after its last byte went out).
    const records = async () => (await arena.rows('SELECT id FROM download_record WHERE user_id = ?', [viewer.id])).length;
    for (let i = 0; i < 200 && (await records()) < RACERS; i++) await new Promise((r) => setTimeout(r, 10));

    const changes = await watch.changes();
    expect(Object.keys(changes).sort()).toEqual(['download_record', 'purchase']);
    expect(changes.purchase).toEqual({ added: [expect.objectContaining({ user_id: viewer.id, movie_id: arena.paid.id })] });
    expect(changes.download_record!.added).toHaveLength(RACERS);
    expect(changes.download_record!.changed ?? changes.download_record!.removed).toBeUndefined();
    conns.forEach((c) => c.close());
    await watch.served();
  });

  it('20 uploads of one file by one admin: one video, no leftovers', async () => {
    const conns = await loggedIn('upload-racer', 'admin');
    const watch = await arena.watch();
    const bytes = randomBytes(300_000);
    const replies = await Promise.all(
      conns.map((c) =>
        c.sendWithBody(
          { type: 'update_movie', session: c.session, file_name: 'race.mp4', file_size: bytes.length, file_md5: 'race', is_free: 1, sha256: sha256(bytes) },
          Readable.from([bytes]),
        ),
      ),
    );
    expect(replies.filter((r) => r.flag)).toHaveLength(1);
    expect(replies.filter((r) => !r.flag).map((r) => r.code)).toEqual(Array(RACERS - 1).fill('CONFLICT'));

    const changes = await watch.changes();
    expect(changes).toEqual({
      movie: { added: [expect.objectContaining({ name: 'race.mp4', sha256: sha256(bytes) })] },
      files: { added: [changes.movie?.added?.[0].path] },
    });
    expect(sha256(await readFile(join(arena.world.config.mediaDir, String(changes.movie!.added![0].path))))).toBe(sha256(bytes));
    conns.forEach((c) => c.close());
    await watch.served();
  });
});
