/**
 * Who may act on whom among admins (docs/security.md): an admin cannot lock, unlock or
 * shrink another admin; only the operator can (`cinebox account NAME --lock | --unlock |
 * --quota SIZE`, on the database). An admin still locks viewers and may raise a colleague's
 * quota. Each refusal changes no row.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import yargs from 'yargs';
import * as account from '../../src/cli/commands/account.js';
import type { ClientConnection } from '../../src/client/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { expectErrorReply, startArena, type Arena } from './arena.js';

describe.each(databaseKinds)('admins and admins (%s)', (kind) => {
  let arena: Arena;
  let rogue: ClientConnection;
  beforeAll(async () => {
    arena = await startArena(kind, { adminQuotaBytes: 1024 ** 3 });
    rogue = await arena.world.loginAs('rogue', 'admin');
  });
  afterAll(async () => arena?.close());

  const operator = async (...args: string[]) => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    try {
      await yargs().command(account).parseAsync(['account', ...args, '--db', arena.world.config.db]);
    } finally {
      log.mockRestore();
    }
  };
  const curatorLogsIn = async () => {
    const conn = await arena.world.connect();
    const reply = await conn.request({ type: 'login', name: 'curator', password: wirePassword('secret-curator'), user_type: 'admin' });
    conn.close();
    return reply;
  };

  it('an admin can neither lock nor shrink another admin', async () => {
    const watch = await arena.watch();
    expectErrorReply(await rogue.request({ type: 'lock_user', session: rogue.session, name: 'curator' }), 'FORBIDDEN');
    expectErrorReply(await rogue.request({ type: 'set_quota', session: rogue.session, name: 'curator', quota_bytes: 1 }), 'FORBIDDEN');
    expectErrorReply(await rogue.request({ type: 'set_quota', session: rogue.session, name: 'curator', quota_bytes: 1024 }), 'FORBIDDEN');
    expect(await watch.changes()).toEqual({});
    expect(await curatorLogsIn()).toMatchObject({ flag: true });
    await watch.served();
  });

  it('an admin may raise a colleague\'s quota and lock a viewer', async () => {
    expect(await rogue.call('set_quota', { name: 'curator', quota_bytes: 2 * 1024 ** 3 })).toMatchObject({ flag: true, quota_bytes: 2 * 1024 ** 3 });
    expect(await rogue.call('lock_user', { name: 'bystander' })).toMatchObject({ flag: true });
    expect(await rogue.call('unlock_user', { name: 'bystander' })).toMatchObject({ flag: true });
  });

  it('the operator locks, unlocks and shrinks an admin; another admin cannot undo the lock', async () => {
    await operator('curator', '--lock');
    expectErrorReply(await curatorLogsIn(), 'ACCOUNT_LOCKED');
    const watch = await arena.watch();
    expectErrorReply(await rogue.request({ type: 'unlock_user', session: rogue.session, name: 'curator' }), 'FORBIDDEN');
    expect(await watch.changes()).toEqual({});
    await operator('curator', '--unlock', '--quota', '1K');
    expect(await curatorLogsIn()).toMatchObject({ flag: true });
    const [row] = await arena.rows<{ quota_bytes: number }>("SELECT quota_bytes FROM user WHERE name = 'curator'");
    expect(Number(row.quota_bytes)).toBe(1024);
    await watch.served();
  });
});
