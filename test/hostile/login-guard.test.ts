/**
 * The login guard attacked over real sockets from real (loopback) addresses: guesses sent
 * all at once from one address and from forty, a spray over many accounts, the typos of
 * one person behind a shared address, a locked account probed for its password, the wrong
 * client with the right password, and the admin's view of the blocks. Each counts the
 * passwords the server really checked (its "login failed" log lines) and ends with the
 * arena's bystander served.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import * as accountCommand from '../../src/cli/commands/account.js';
import { LoginFailure } from '../../src/orm/models/index.js';
import type { Reply } from '../../src/protocol/messages.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { ACCOUNT_SCOPE, sweepLoginFailures } from '../../src/server/auth/login-guard.js';
import { startServer } from '../../src/server/server.js';
import { databaseKinds } from '../helpers/databases.js';
import { expectErrorReply, nextLoopback, Peer, startArena, waitFor, type Arena } from './arena.js';

const LOGIN_MAX = 5;
const ACCOUNT_MAX = 20;
const SPRAY_MAX = 6;

interface Attempt {
  address: string;
  name: string;
  password: string;
  userType?: 'admin' | 'user';
}

/** Opens every connection first, then sends every login at once; the replies, in order, come with `replies()`. */
async function sendAll(arena: Arena, attempts: Attempt[]): Promise<{ replies(): Promise<Reply[]> }> {
  const peers = await Promise.all(attempts.map((a) => Peer.open(arena.port, a.address)));
  attempts.forEach((a, i) => peers[i].send({ type: 'login', name: a.name, password: wirePassword(a.password), user_type: a.userType ?? 'user' }));
  return {
    async replies() {
      try {
        return await Promise.all(
          peers.map(async (peer) => {
            const reply = await peer.next(30_000);
            if (typeof reply === 'string') throw new Error(`no reply to a login: ${reply}`);
            return reply;
          }),
        );
      } finally {
        for (const peer of peers) peer.destroy();
      }
    },
  };
}

/** Sends every login at once and returns the replies in order. */
const loginAll = async (arena: Arena, attempts: Attempt[]): Promise<Reply[]> => (await sendAll(arena, attempts)).replies();

const loginFrom = async (arena: Arena, attempt: Attempt) => (await loginAll(arena, [attempt]))[0];

/** Passwords the server checked and found wrong, for `name`. */
function checkedFailures(arena: Arena, name: string): number {
  return arena.world.logs.filter((l) => l.msg === 'login failed' && l.name === name).length;
}

async function register(arena: Arena, name: string, password: string, userType: 'admin' | 'user' = 'user') {
  const conn = await arena.world.connect();
  await conn.call('register', { name, password: wirePassword(password), user_type: userType, ...(userType === 'admin' ? { admin_code: 'let-me-in' } : {}) });
  conn.close();
}

async function userRow(arena: Arena, name: string) {
  const [row] = await arena.rows<{ failed_logins: number; locked_until: unknown; is_locked: number }>(
    'SELECT failed_logins, locked_until, is_locked FROM user WHERE name = ?',
    [name],
  );
  return { failed_logins: Number(row.failed_logins), locked_until: row.locked_until, is_locked: Number(row.is_locked) };
}

describe.each(databaseKinds)('the login guard (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { loginMaxFailures: LOGIN_MAX, accountMaxFailures: ACCOUNT_MAX, addressMaxAccounts: SPRAY_MAX, hashQueuePerAddress: 256 });
  });
  afterAll(async () => arena?.close());

  it('checks at most the limit of 200 parallel guesses from one address, and the right one (guess 150) does not get in', async () => {
    const watch = await arena.watch();
    await register(arena, 'parallel', 'right-150');
    const address = nextLoopback();
    const attempts = Array.from({ length: 200 }, (_, i) => ({ address, name: 'parallel', password: i === 149 ? 'right-150' : `guess-${i}` }));
    const replies = await loginAll(arena, attempts);
    expect(replies.filter((r) => r.flag)).toEqual([]);
    const codes = replies.map((r) => r.code);
    expect(codes.filter((c) => c === 'LOGIN_FAILED').length).toBeLessThanOrEqual(LOGIN_MAX);
    expect(codes.filter((c) => c !== 'LOGIN_FAILED' && c !== 'LOGIN_BLOCKED')).toEqual([]);
    expect(checkedFailures(arena, 'parallel')).toBeLessThanOrEqual(LOGIN_MAX);
    // The right guess was refused unchecked, not checked and lost: it still works elsewhere.
    const [pair] = await arena.rows<{ failures: number }>('SELECT failures FROM login_failure WHERE address = ? AND account = ?', [address, 'parallel']);
    expect(Number(pair.failures)).toBeLessThanOrEqual(LOGIN_MAX);
    expect(await loginFrom(arena, { address: nextLoopback(), name: 'parallel', password: 'right-150' })).toMatchObject({ flag: true });
    await watch.served();
  });

  it('locks an account guessed from 40 addresses at once after exactly the account limit of checked passwords', async () => {
    const watch = await arena.watch();
    await register(arena, 'target', 'target-right');
    const addresses = Array.from({ length: 40 }, () => nextLoopback());
    const attempts = addresses.flatMap((address, a) => Array.from({ length: 6 }, (_, i) => ({ address, name: 'target', password: `wrong-${a}-${i}` })));
    const replies = await loginAll(arena, attempts);
    expect(replies.filter((r) => r.flag)).toEqual([]);
    expect(checkedFailures(arena, 'target')).toBe(ACCOUNT_MAX);
    const row = await userRow(arena, 'target');
    expect(row.failed_logins).toBe(ACCOUNT_MAX);
    expect(row.locked_until).not.toBeNull();
    const locked = await loginFrom(arena, { address: nextLoopback(), name: 'target', password: 'target-right' });
    expectErrorReply(locked, 'ACCOUNT_LOCKED');
    await watch.served();
  });

  it("keeps an account's lock out of the address blocks, and the operator's --unlock lifts it", async () => {
    const name = 'operator-freed';
    await register(arena, name, 'freed-pw');
    const guesses = Array.from({ length: ACCOUNT_MAX }, (_, i) => ({ address: nextLoopback(), name, password: `nope-${i}` }));
    expect((await loginAll(arena, guesses)).map((r) => r.code)).toEqual(Array(ACCOUNT_MAX).fill('LOGIN_FAILED'));
    expect((await userRow(arena, name)).locked_until).not.toBeNull();
    // The account's counter is no address: not listed, not lifted by unblocking one.
    const { blocks } = await arena.admin.call('list_blocks', {});
    expect((blocks as { account: string }[]).filter((b) => b.account === name)).toEqual([]);
    expectErrorReply(await arena.admin.request({ type: 'unblock_address', session: arena.admin.session, address: ACCOUNT_SCOPE }), 'NOT_FOUND');
    expectErrorReply(await loginFrom(arena, { address: nextLoopback(), name, password: 'freed-pw' }), 'ACCOUNT_LOCKED');
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await yargs().command(accountCommand).parseAsync(['account', name, '--unlock', '--db', arena.world.config.db]);
    } finally {
      log.mockRestore();
    }
    expect(await userRow(arena, name)).toEqual({ failed_logins: 0, locked_until: null, is_locked: 0 });
    expect(await loginFrom(arena, { address: nextLoopback(), name, password: 'freed-pw' })).toMatchObject({ flag: true });
  });

  it.each(['temporary', 'by an admin'])('answers the same for the right and a wrong password while an account is locked (%s)', async (how) => {
    const name = `locked-${how === 'temporary' ? 'temp' : 'admin'}`;
    await register(arena, name, 'the-right-one');
    if (how === 'temporary') {
      const address = nextLoopback();
      const guesses = Array.from({ length: ACCOUNT_MAX }, (_, i) => ({ address: i < LOGIN_MAX ? address : nextLoopback(), name, password: `nope-${i}` }));
      await loginAll(arena, guesses);
    } else {
      await arena.admin.call('lock_user', { name });
    }
    const watch = await arena.watch();
    const right = await loginFrom(arena, { address: nextLoopback(), name, password: 'the-right-one' });
    const wrong = await loginFrom(arena, { address: nextLoopback(), name, password: 'not-it' });
    expectErrorReply(right, 'ACCOUNT_LOCKED');
    expect({ ...wrong, msg: String(wrong.msg).replace(/\d+ s$/, 'N s') }).toEqual({ ...right, msg: String(right.msg).replace(/\d+ s$/, 'N s') });
    // Neither was counted: a lock is not a place to add guesses.
    expect(await watch.changes()).toEqual({});
    await watch.served();
  });

  it("never refuses another account on the same address because of one viewer's typos", async () => {
    await register(arena, 'typist', 'typist-pw');
    await register(arena, 'colleague', 'colleague-pw');
    const office = nextLoopback();
    const watch = await arena.watch();
    await loginAll(arena, Array.from({ length: LOGIN_MAX + 1 }, (_, i) => ({ address: office, name: 'typist', password: `typo-${i}` })));
    const typist = await loginFrom(arena, { address: office, name: 'typist', password: 'typist-pw' });
    expectErrorReply(typist, 'LOGIN_BLOCKED');
    expect(await loginFrom(arena, { address: office, name: 'colleague', password: 'colleague-pw' })).toMatchObject({ flag: true });
    expect(await loginFrom(arena, { address: office, name: 'curator', password: 'secret-curator', userType: 'admin' })).toMatchObject({ flag: true });
    // From elsewhere the typist is fine: only the pair is blocked, and it is logged with address and account.
    expect(await loginFrom(arena, { address: nextLoopback(), name: 'typist', password: 'typist-pw' })).toMatchObject({ flag: true });
    expect(arena.world.logs).toContainEqual(expect.objectContaining({ msg: 'login blocked for this account from this address', addr: office, name: 'typist' }));
    expect(arena.world.logs).toContainEqual(expect.objectContaining({ msg: 'login refused', addr: office, name: 'typist' }));
    // The typist's success cleared their counter: the watched tables are as they were.
    expect(await watch.changes()).toEqual({});
    await watch.served();
  });

  it('blocks an address that sprays failed logins over many accounts, and only that address', async () => {
    await register(arena, 'sprayed', 'sprayed-pw');
    const sprayer = nextLoopback();
    const watch = await arena.watch();
    for (let i = 0; i < SPRAY_MAX; i++) {
      expectErrorReply(await loginFrom(arena, { address: sprayer, name: `spray-${i}`, password: 'Winter2026' }), 'LOGIN_FAILED');
    }
    // Past the threshold even a right password of a real account is refused from there, unchecked.
    const checked = arena.world.logs.filter((l) => l.msg === 'login failed').length;
    expectErrorReply(await loginFrom(arena, { address: sprayer, name: 'sprayed', password: 'sprayed-pw' }), 'LOGIN_BLOCKED');
    expectErrorReply(await loginFrom(arena, { address: sprayer, name: 'spray-new', password: 'Winter2026' }), 'LOGIN_BLOCKED');
    expect(arena.world.logs.filter((l) => l.msg === 'login failed').length).toBe(checked);
    expect(arena.world.logs).toContainEqual(expect.objectContaining({ msg: 'address blocked: failed logins against many accounts', addr: sprayer }));
    expect(await loginFrom(arena, { address: nextLoopback(), name: 'sprayed', password: 'sprayed-pw' })).toMatchObject({ flag: true });
    expect(await watch.changes()).toEqual({});
    await watch.served();
  });

  it('tells the right password in the wrong client which client to use, and counts no failure', async () => {
    await register(arena, 'wrong-door', 'door-pw');
    const address = nextLoopback();
    const watch = await arena.watch();
    const asAdmin = await loginFrom(arena, { address, name: 'wrong-door', password: 'door-pw', userType: 'admin' });
    expectErrorReply(asAdmin, 'FORBIDDEN');
    expect(asAdmin.msg).toMatch(/viewer account.*viewer client/);
    const asViewer = await loginFrom(arena, { address, name: 'curator', password: 'secret-curator', userType: 'user' });
    expectErrorReply(asViewer, 'FORBIDDEN');
    expect(asViewer.msg).toMatch(/admin account.*admin client/);
    expect(await arena.rows('SELECT * FROM login_failure WHERE address = ?', [address])).toEqual([]);
    expect(await watch.changes()).toEqual({});
    expect(checkedFailures(arena, 'wrong-door')).toBe(0);
    await watch.served();
  });

  it('clears the pair on a success', async () => {
    await register(arena, 'forgetful', 'forgetful-pw');
    const address = nextLoopback();
    await loginAll(arena, Array.from({ length: LOGIN_MAX - 1 }, (_, i) => ({ address, name: 'forgetful', password: `almost-${i}` })));
    expect(await arena.rows('SELECT * FROM login_failure WHERE address = ?', [address])).toHaveLength(1);
    expect(await loginFrom(arena, { address, name: 'forgetful', password: 'forgetful-pw' })).toMatchObject({ flag: true });
    expect(await arena.rows('SELECT * FROM login_failure WHERE address = ?', [address])).toEqual([]);
    expect((await userRow(arena, 'forgetful')).failed_logins).toBe(0);
  });

  it('lets an admin list the blocks and lift one', async () => {
    await register(arena, 'unlucky', 'unlucky-pw');
    const address = nextLoopback();
    await loginAll(arena, Array.from({ length: LOGIN_MAX }, (_, i) => ({ address, name: 'unlucky', password: `bad-${i}` })));
    const listed = await arena.admin.call('list_blocks', {});
    expect(listed.blocks).toContainEqual(expect.objectContaining({ address, account: 'unlucky', failures: LOGIN_MAX }));
    expectErrorReply(await loginFrom(arena, { address, name: 'unlucky', password: 'unlucky-pw' }), 'LOGIN_BLOCKED');
    const viewer = await arena.world.loginAs('nosy', 'user');
    expectErrorReply(await viewer.request({ type: 'list_blocks', session: viewer.session }), 'FORBIDDEN');
    expectErrorReply(await viewer.request({ type: 'unblock_address', session: viewer.session, address }), 'FORBIDDEN');
    const lifted = await arena.admin.call('unblock_address', { address });
    expect(lifted.msg).toMatch(new RegExp(address.replace(/\./g, '\\.')));
    expect((await arena.admin.call('list_blocks', {})).blocks).not.toContainEqual(expect.objectContaining({ address }));
    expect(await loginFrom(arena, { address, name: 'unlucky', password: 'unlucky-pw' })).toMatchObject({ flag: true });
    expect(arena.world.logs).toContainEqual(expect.objectContaining({ msg: 'login blocks lifted', address }));
    viewer.close();
  });
});

// At the real scrypt cost (a check takes ~50 ms, two at a time), so the logins really are in
// flight together; the password queue's per-address bound is its default (16).
describe.each(databaseKinds)('parallel logins of one account from one address (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { scryptN: 16384, loginMaxFailures: LOGIN_MAX, accountMaxFailures: ACCOUNT_MAX, addressMaxAccounts: SPRAY_MAX, hashQueuePerAddress: 16 });
  });
  afterAll(async () => arena?.close());

  it.each([6, 20])('lets %i parallel correct logins of one account from one address all in (an innocent is never blocked by logins in flight)', async (n) => {
    const address = nextLoopback();
    const name = `many-tabs-${n}-${address}`;
    await register(arena, name, 'tabs-pw');
    const watch = await arena.watch();
    const replies = await loginAll(arena, Array.from({ length: n }, () => ({ address, name, password: 'tabs-pw' })));
    expect(replies.map((r) => (r.flag ? 'ok' : `${r.code}: ${r.msg}`))).toEqual(Array(n).fill('ok'));
    expect(arena.world.logs.filter((l) => l.msg === 'login refused' && l.name === name)).toEqual([]);
    // Every reservation was released: no counter left behind, no failure on the account.
    expect(await arena.rows('SELECT * FROM login_failure WHERE address = ?', [address])).toEqual([]);
    expect(await watch.changes()).toEqual({});
    await watch.served();
  });

  it('keeps the guesses waiting for a verdict bounded: past the per-address bound they get BUSY, and no more than the limit is checked', async () => {
    const name = 'waiting-room';
    await register(arena, name, 'room-pw');
    const address = nextLoopback();
    const replies = await loginAll(arena, Array.from({ length: 40 }, (_, i) => ({ address, name, password: `room-${i}` })));
    expect(replies.filter((r) => !['LOGIN_FAILED', 'LOGIN_BLOCKED', 'BUSY'].includes(String(r.code)))).toEqual([]);
    expect(checkedFailures(arena, name)).toBeLessThanOrEqual(LOGIN_MAX);
    expect(arena.world.server.app.guessWaits.stats.peakWaitingPerAddress).toBeLessThanOrEqual(16);
  });

  it('of 5 wrong and 1 right guess sent together checks the 5 wrong, and the right one is never refused while a verdict is out', async () => {
    for (const rightAt of [0, 5]) {
      const name = `mixed-${rightAt}`;
      await register(arena, name, 'mixed-right');
      const address = nextLoopback();
      const attempts = Array.from({ length: LOGIN_MAX + 1 }, (_, i) => ({ address, name, password: i === rightAt ? 'mixed-right' : `mixed-wrong-${i}` }));
      const replies = await loginAll(arena, attempts);
      const wrong = replies.filter((_, i) => i !== rightAt);
      const right = replies[rightAt];
      // Each wrong guess was checked (none was refused by the reservations of the others).
      expect(wrong.map((r) => r.code)).toEqual(Array(LOGIN_MAX).fill('LOGIN_FAILED'));
      expect(checkedFailures(arena, name)).toBe(LOGIN_MAX);
      const [pair] = await arena.rows<{ failures: number; blocked_until: unknown }>('SELECT failures, blocked_until FROM login_failure WHERE address = ? AND account = ?', [address, name]);
      if (right.flag) {
        // Checked among the first five: it cleared the pair; only the failures given after it count,
        // and the pair is blocked exactly when they reach the limit.
        const failures = Number(pair?.failures ?? 0);
        expect(failures).toBeLessThanOrEqual(LOGIN_MAX);
        expect(pair?.blocked_until != null).toBe(failures === LOGIN_MAX);
      } else {
        // It waited for the five verdicts; the fifth failure blocked the pair and it was refused unchecked.
        expectErrorReply(right, 'LOGIN_BLOCKED');
        expect(Number(pair.failures)).toBe(LOGIN_MAX);
        expect(pair.blocked_until).not.toBeNull();
        expect(await loginFrom(arena, { address: nextLoopback(), name, password: 'mixed-right' })).toMatchObject({ flag: true });
      }
    }
  });
});

// The account's counter (any address) at the real scrypt cost: more than the account limit of
// logins in flight at once, spread over addresses so no pair is full.
describe.each(databaseKinds)('parallel logins of one account from many addresses (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    // Room in the password queue for a busy server's 60 checks and the 30 logins behind them.
    arena = await startArena(kind, { scryptN: 16384, loginMaxFailures: LOGIN_MAX, accountMaxFailures: ACCOUNT_MAX, addressMaxAccounts: SPRAY_MAX, hashQueueMax: 256, hashQueuePerAddress: 16 });
  });
  afterAll(async () => arena?.close());

  /** The account's counters left behind: every row for the name, whatever its address. */
  const countersOf = async (name: string) =>
    (await arena.rows<{ failures: number; pending: number; blocked_until: unknown }>('SELECT failures, pending, blocked_until FROM login_failure WHERE account = ?', [name])).map((r) => ({
      failures: Number(r.failures),
      pending: Number(r.pending),
      blocked: r.blocked_until != null,
    }));

  it('lets 30 parallel correct logins of one account from 6 addresses all in, and the account is not locked', async () => {
    const name = 'family';
    await register(arena, name, 'family-pw');
    const addresses = Array.from({ length: 6 }, () => nextLoopback());
    const neighbours = addresses.flatMap((address, i) => [`neighbour-${i}-a`, `neighbour-${i}-b`].map((neighbour) => ({ address, name: neighbour })));
    for (const { name: neighbour } of neighbours) await register(arena, neighbour, 'neighbour-pw');
    const watch = await arena.watch();
    // A busy server: each address's own checks come first (5 logins of each of two neighbours'
    // accounts, ~1.5 s of hashing), so all 30 logins are in flight before their first verdict.
    const { hashes } = arena.world.server.app;
    const arrived = () => hashes.stats.started + hashes.queued;
    const before = arrived();
    const load = await sendAll(arena, neighbours.flatMap((n) => Array.from({ length: LOGIN_MAX }, () => ({ ...n, password: 'neighbour-pw' }))));
    await waitFor(() => arrived() >= before + 60, 10_000, "the neighbours' checks in the password queue");
    const replies = await loginAll(arena, addresses.flatMap((address) => Array.from({ length: LOGIN_MAX }, () => ({ address, name, password: 'family-pw' }))));
    expect((await load.replies()).filter((r) => !r.flag)).toEqual([]);
    expect(replies.map((r) => (r.flag ? 'ok' : `${r.code}: ${r.msg}`))).toEqual(Array(30).fill('ok'));
    expect(arena.world.logs.filter((l) => l.msg === 'login refused' && l.name === name)).toEqual([]);
    expect(await userRow(arena, name)).toEqual({ failed_logins: 0, locked_until: null, is_locked: 0 });
    // Every reservation was given back: nothing in flight, no failure, no block.
    for (const counter of await countersOf(name)) expect(counter).toEqual({ failures: 0, pending: 0, blocked: false });
    expect(await watch.changes()).toEqual({});
    await watch.served();
  });

  it('checks at most the account limit of 60 parallel wrong guesses from 12 addresses, and locks the account', async () => {
    const name = 'besieged';
    await register(arena, name, 'besieged-pw');
    const watch = await arena.watch();
    const addresses = Array.from({ length: 12 }, () => nextLoopback());
    const replies = await loginAll(arena, addresses.flatMap((address, a) => Array.from({ length: LOGIN_MAX }, (_, i) => ({ address, name, password: `siege-${a}-${i}` }))));
    expect(replies.filter((r) => r.flag)).toEqual([]);
    const codes = replies.map((r) => String(r.code));
    expect(codes.filter((c) => !['LOGIN_FAILED', 'ACCOUNT_LOCKED', 'LOGIN_BLOCKED', 'BUSY'].includes(c))).toEqual([]);
    // The first 20 to reserve were all checked (nothing else could settle them), none past them.
    expect(checkedFailures(arena, name)).toBe(ACCOUNT_MAX);
    expect(codes.filter((c) => c === 'LOGIN_FAILED')).toHaveLength(ACCOUNT_MAX);
    const row = await userRow(arena, name);
    expect(row.failed_logins).toBe(ACCOUNT_MAX);
    expect(row.locked_until).not.toBeNull();
    expect(arena.world.logs).toContainEqual(expect.objectContaining({ msg: 'account locked after failed logins', name }));
    expectErrorReply(await loginFrom(arena, { address: nextLoopback(), name, password: 'besieged-pw' }), 'ACCOUNT_LOCKED');
    await watch.served();
  });

  it('of 20 wrong guesses from 4 addresses and 5 right ones from a fifth sent together, checks every wrong one and refuses a right one only once the account is locked', async () => {
    for (const rightFirst of [true, false]) {
      const name = `crowd-${rightFirst ? 'first' : 'last'}`;
      await register(arena, name, 'crowd-right');
      const wrong = Array.from({ length: 4 }, () => nextLoopback()).flatMap((address, a) => Array.from({ length: LOGIN_MAX }, (_, i) => ({ address, name, password: `crowd-${a}-${i}` })));
      const family = nextLoopback();
      const right = Array.from({ length: LOGIN_MAX }, () => ({ address: family, name, password: 'crowd-right' }));
      const replies = await loginAll(arena, rightFirst ? [...right, ...wrong] : [...wrong, ...right]);
      const rightReplies = rightFirst ? replies.slice(0, LOGIN_MAX) : replies.slice(-LOGIN_MAX);
      const wrongReplies = rightFirst ? replies.slice(LOGIN_MAX) : replies.slice(0, -LOGIN_MAX);
      // No wrong guess was refused by the others' reservations: a lock needs all 20 to fail.
      expect(wrongReplies.map((r) => r.code)).toEqual(Array(20).fill('LOGIN_FAILED'));
      expect(checkedFailures(arena, name)).toBe(20);
      expect(rightReplies.filter((r) => !r.flag && r.code !== 'ACCOUNT_LOCKED')).toEqual([]);
      const row = await userRow(arena, name);
      if (rightReplies.some((r) => !r.flag)) {
        // Refused only because the 20th failure (with no success after it) locked the account.
        expect(row.failed_logins).toBe(ACCOUNT_MAX);
        expect(row.locked_until).not.toBeNull();
        expectErrorReply(await loginFrom(arena, { address: nextLoopback(), name, password: 'crowd-right' }), 'ACCOUNT_LOCKED');
      } else {
        // Every right one got in; only the failures after the last success count, and they
        // lock the account exactly when they reach the limit.
        expect(row.failed_logins).toBeLessThanOrEqual(ACCOUNT_MAX);
        expect(row.locked_until != null).toBe(row.failed_logins === ACCOUNT_MAX);
      }
      // Nothing is left in flight on any counter.
      for (const counter of await countersOf(name)) expect(counter.pending).toBe(0);
    }
  });
});

describe.each(databaseKinds)('login failure rows (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { loginMaxFailures: LOGIN_MAX });
  });
  afterAll(async () => arena?.close());

  it("expire: the server deletes a counter quiet for the window and keeps a running block and an account's failures", async () => {
    const old = new Date(Date.now() - 16 * 60 * 1000);
    const later = new Date(Date.now() + 10 * 60 * 1000);
    const db = arena.world.server.app.db;
    await LoginFailure.from({ address: '10.0.0.1', account: 'old', failures: 3, last_failure: old, blocked_until: null }).save(db);
    await LoginFailure.from({ address: '10.0.0.2', account: 'blocked', failures: 9, last_failure: old, blocked_until: later }).save(db);
    await LoginFailure.from({ address: '10.0.0.3', account: 'recent', failures: 1, last_failure: new Date(), blocked_until: null }).save(db);
    // An account's counter (any address) goes when empty and quiet; its failures never go quiet.
    await LoginFailure.from({ address: ACCOUNT_SCOPE, account: 'emptied', failures: 0, last_failure: old, blocked_until: null }).save(db);
    await LoginFailure.from({ address: ACCOUNT_SCOPE, account: 'failing', failures: 3, last_failure: old, blocked_until: null }).save(db);
    // A second node on the same database sweeps when it starts (and every few minutes after).
    const node = await startServer({ ...arena.world.config, port: 0 }, pino({ level: 'silent' }));
    try {
      const accounts = async () => (await arena.rows<{ account: string }>('SELECT account FROM login_failure ORDER BY account')).map((r) => r.account);
      await waitFor(async () => !(await accounts()).some((a) => a === 'old' || a === 'emptied'), 10_000, 'the quiet counters swept');
      await sweepLoginFailures(arena.world.server.app); // one whole pass, awaited: nothing else goes
      // The arena's admin logged in just now: its account's counter is kept at zero, not quiet yet.
      expect(await accounts()).toEqual(['blocked', 'curator', 'failing', 'recent']);
    } finally {
      await node.close();
    }
  });
});
