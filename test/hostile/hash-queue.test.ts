/**
 * The password queue flooded at the real scrypt cost (N=16384, the default): register of a
 * taken name in a loop, logins sent and abandoned, one address against another, and more
 * logins than the queue holds. What is counted is the hashes the server really ran (its
 * queue's counters and its "login failed" lines); each case ends with the bystander served.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { User } from '../../src/orm/models/index.js';
import type { Reply } from '../../src/protocol/messages.js';
import { hashPassword } from '../../src/server/auth/passwords.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { BYSTANDER, expectErrorReply, nextLoopback, Peer, startArena, waitFor, type Arena } from './arena.js';

const REAL_COST = { scryptN: 16384, loginMaxFailures: 1_000_000, addressMaxAccounts: 1_000_000, accountMaxFailures: 1_000_000 };

/** Logins kept open in front of the leavers, each ~4x a default hash (N=65536, 64 MiB): ~1 s of hashing, far longer than 100 closes take. */
const HOLDERS = 12;
const HOLDER_COST = 65536;

const login = (name: string, password = 'whatever') => ({ type: 'login', name, password: wirePassword(password), user_type: 'user' });

async function openPeers(arena: Arena, count: number, address: string): Promise<Peer[]> {
  return Promise.all(Array.from({ length: count }, () => Peer.open(arena.port, address)));
}

async function replyOf(peer: Peer): Promise<Reply> {
  const reply = await peer.next(60_000);
  if (typeof reply === 'string') throw new Error(`no reply: ${reply}`);
  return reply;
}

/** Logins the server checked (a hash ran) and found wrong, for names starting with `prefix`. */
function checked(arena: Arena, prefix: string): number {
  return arena.world.logs.filter((l) => l.msg === 'login failed' && String(l.name).startsWith(prefix)).length;
}

describe.each(databaseKinds)('the password queue at the real cost (%s)', (kind) => {
  describe('with room for everyone of one address', () => {
    let arena: Arena;
    beforeAll(async () => {
      arena = await startArena(kind, { ...REAL_COST, hashQueueMax: 1000, hashQueuePerAddress: 1000 });
    });
    afterAll(async () => arena?.close());

    it('answers register of a taken name without hashing, however often it is sent', async () => {
      const watch = await arena.watch();
      const stats = arena.world.server.app.hashes.stats;
      const before = stats.started;
      const peers = await openPeers(arena, 32, nextLoopback());
      for (let round = 0; round < 5; round++) {
        for (const peer of peers) peer.send({ type: 'register', name: BYSTANDER.name, password: wirePassword('x'), user_type: 'user' });
        for (const reply of await Promise.all(peers.map(replyOf))) expectErrorReply(reply, 'CONFLICT');
      }
      expect(stats.started - before).toBe(0);
      peers.forEach((p) => p.destroy());
      await watch.unharmed();
    });

    it('gives another address the next turn while one address has 30 logins waiting', async () => {
      const watch = await arena.watch();
      const queue = arena.world.server.app.hashes;
      const flood = await openPeers(arena, 30, nextLoopback());
      flood.forEach((peer, i) => peer.send(login(`flood-${i}`)));
      await waitFor(() => queue.queued >= 24, 10_000, 'the flood queued');
      const [other] = await openPeers(arena, 1, nextLoopback());
      other.send(login(BYSTANDER.name, BYSTANDER.password));
      expect(await replyOf(other)).toMatchObject({ flag: true });
      // Served in turn, not behind the whole flood: most of it is still waiting.
      expect(queue.queued).toBeGreaterThanOrEqual(12);
      for (const reply of await Promise.all(flood.map(replyOf))) expectErrorReply(reply, 'LOGIN_FAILED');
      flood.forEach((p) => p.destroy());
      other.destroy();
      await watch.served();
    });

    it('drops the hashes of clients that sent a login and left while it waited', async () => {
      const watch = await arena.watch();
      const queue = arena.world.server.app.hashes;
      const before = { started: queue.stats.started, dropped: queue.stats.dropped };
      // Logins that stay, queued first from the same address, against an account hashed at 4x
      // the cost: the queue serves an address's logins in order, so every leaver's hash waits
      // behind theirs, for a second or so. The bound is then exact: a waiting hash whose
      // client is gone never runs, so no leaver's hash runs at all.
      await User.from({ name: 'holder', password: await hashPassword('holder-pw', HOLDER_COST), user_type: 'user', register_time: new Date() }).save(arena.world.server.app.db);
      const address = nextLoopback();
      const holders = await openPeers(arena, HOLDERS, address);
      holders.forEach((peer, i) => peer.send(login('holder', `wrong-${i}`)));
      await waitFor(() => queue.stats.started - before.started + queue.queued >= HOLDERS, 30_000, 'every holder in the queue');
      const leavers = await openPeers(arena, 100, address);
      leavers.forEach((peer, i) => {
        peer.send(login(`leaver-${i}`));
        peer.destroy();
      });
      const gone = () => arena.world.logs.filter((l) => l.msg === 'disconnected' && l.addr === address).length;
      await waitFor(() => gone() === leavers.length, 30_000, 'the server to see every leaver go');
      // Checked, not assumed: a holder still waited when the last leaver was gone (and holders
      // only leave the line), so no leaver's hash, behind them, started while its client was there.
      expect(queue.queued, 'holders still waiting when the leavers were gone').toBeGreaterThan(0);
      for (const reply of await Promise.all(holders.map(replyOf))) expectErrorReply(reply, 'LOGIN_FAILED');
      await waitFor(() => queue.queued === 0, 10_000, 'the queue empty');
      expect(checked(arena, 'leaver-')).toBe(0); // unfixed: all 100
      expect(queue.stats.started - before.started).toBe(HOLDERS);
      holders.forEach((p) => p.destroy());
      await watch.served();
    }, 60_000);
  });

  describe('with a small queue', () => {
    let arena: Arena;
    beforeAll(async () => {
      arena = await startArena(kind, { ...REAL_COST, hashQueueMax: 12, hashQueuePerAddress: 4 });
    });
    afterAll(async () => arena?.close());

    it('refuses past the queue with BUSY, per address and in all, and checks no more than it holds', async () => {
      const watch = await arena.watch();
      const stats = arena.world.server.app.hashes.stats;
      const one = await openPeers(arena, 40, nextLoopback());
      one.forEach((peer, i) => peer.send(login(`one-${i}`)));
      const fromOne = await Promise.all(one.map(replyOf));
      const busy = fromOne.filter((r) => r.code === 'BUSY');
      busy.forEach((r) => expectErrorReply(r, 'BUSY'));
      expect(fromOne.filter((r) => r.code !== 'BUSY').every((r) => r.code === 'LOGIN_FAILED')).toBe(true);
      expect(busy.length).toBeGreaterThan(0);
      expect(checked(arena, 'one-')).toBe(40 - busy.length);
      expect(stats.peakWaitingPerAddress).toBeLessThanOrEqual(4);

      const many = await Promise.all(Array.from({ length: 40 }, () => Peer.open(arena.port, nextLoopback())));
      many.forEach((peer, i) => peer.send(login(`many-${i}`)));
      const fromMany = await Promise.all(many.map(replyOf));
      expect(fromMany.filter((r) => r.code === 'BUSY').length).toBeGreaterThan(0);
      expect(checked(arena, 'many-')).toBe(fromMany.filter((r) => r.code === 'LOGIN_FAILED').length);
      expect(stats.peakWaiting).toBeLessThanOrEqual(12);
      [...one, ...many].forEach((p) => p.destroy());
      await watch.served();
    });
  });
});
