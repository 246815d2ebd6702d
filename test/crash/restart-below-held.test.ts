/**
 * An upload started again below the bytes the server holds (from 0, as a client that lost
 * its place does) cuts the partial short. The row must come down first: a kill at any instant
 * after the cut would otherwise leave a row claiming bytes its partial no longer has, and the
 * next resume would be told to start past the end of the file. What a kill leaves is what the
 * disk and the database hold at that instant, so the test reads both while the restart stalls.
 */
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { sha256, startArena, waitFor, type Arena } from '../hostile/arena.js';

const KiB = 1024;

describe.each(databaseKinds)('an upload started again below the bytes held (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind);
  });
  afterAll(async () => arena?.close());

  async function adminSession() {
    const peer = await arena.peer();
    const login = await peer.request({ type: 'login', name: 'curator', password: wirePassword('secret-curator'), user_type: 'admin' });
    expect(login.flag).toBe(true);
    return { peer, session: String(login.session) };
  }

  it('lowers its row before it cuts the partial: the row never claims more than the file holds', async () => {
    const whole = randomBytes(400 * KiB);
    const digest = sha256(whole);
    const header = (session: string) => ({ type: 'update_movie', session, file_name: 'again.mp4', file_size: whole.length, file_md5: digest.slice(0, 32), is_free: 1, sha256: digest });
    type Row = { received_bytes: number; holder: string | null; temp_name: string };
    const row = async () => (await arena.rows<Row>('SELECT received_bytes, holder, temp_name FROM upload WHERE sha256 = ?', [digest]))[0];

    // A first attempt leaves 300 KiB, recorded once the cut is released.
    const first = await adminSession();
    first.peer.send(header(first.session), whole.subarray(0, 300 * KiB));
    await waitFor(async () => (await row()) !== undefined, 10_000, 'the first attempt started');
    const partial = join(arena.world.config.mediaDir, '.incoming', (await row())!.temp_name);
    const sizeOf = () => stat(partial).then((s) => s.size, () => -1);
    first.peer.destroy(); // the bytes already sent still arrive before the close
    await waitFor(async () => (await row())?.holder === null, 10_000, 'the cut attempt released');
    expect(Number((await row())!.received_bytes)).toBe(300 * KiB);

    // The same file again from 0: 10 KiB, then the sender stalls (long before any heartbeat).
    const again = await adminSession();
    again.peer.send(header(again.session), whole.subarray(0, 10 * KiB));
    await waitFor(async () => (await sizeOf()) < 300 * KiB, 10_000, 'the partial cut short by the restart');
    const held = await sizeOf();
    const claimed = Number((await row())!.received_bytes);
    expect(claimed, `the row claims ${claimed} bytes, the partial holds ${held}`).toBeLessThanOrEqual(held);
    again.peer.destroy();
  });
});
