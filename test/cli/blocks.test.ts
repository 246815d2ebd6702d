/**
 * The admin's view of the login guard: `cinebox admin blocks`, `cinebox admin unblock
 * ADDRESS [--user NAME]`, and the menu's "Login blocks" and "Lift a login block", against a
 * real server where one viewer's typos blocked them (and only them) on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import yargs from 'yargs';
import { withClientOptions } from '../../src/cli/client-command.js';
import * as blocks from '../../src/cli/commands/admin/blocks.js';
import * as unblock from '../../src/cli/commands/admin/unblock.js';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { runAdminMenu } from '../../src/client/ui/menus/admin-menu.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { startWorld, type World } from '../helpers/world.js';
import { stdoutWrites } from '../helpers/stdout-writes.js';
import { scriptedIO, type Step } from './helpers/scripted-io.js';

describe('login blocks from the admin client', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite', { loginMaxFailures: 2 });
    (await world.loginAs('boss', 'admin', 'boss-pw')).close();
    (await world.loginAs('alice', 'user', 'alice-pw')).close();
  });
  afterAll(async () => world?.close());

  async function blockAlice() {
    const conn = await world.connect();
    for (const guess of ['a', 'b']) await conn.request({ type: 'login', name: 'alice', password: wirePassword(guess), user_type: 'user' });
    const blocked = await conn.request({ type: 'login', name: 'alice', password: wirePassword('alice-pw'), user_type: 'user' });
    expect(blocked).toMatchObject({ flag: false, code: 'LOGIN_BLOCKED' });
    conn.close();
  }

  function cli(module: typeof blocks | typeof unblock, args: string[]): Promise<string[]> {
    const port = String(world.server.port);
    return stdoutWrites(() => withClientOptions(yargs()).command(module).parseAsync([...args, '--host', '127.0.0.1', '--port', port, '--name', 'boss', '--password', 'boss-pw']));
  }

  it('`blocks` lists the pair, `unblock ADDRESS --user NAME` lifts it', async () => {
    await blockAlice();
    const [json] = await cli(blocks, ['blocks', '--json']);
    expect(JSON.parse(json).blocks).toEqual([expect.objectContaining({ address: '127.0.0.1', account: 'alice', failures: 2 })]);
    const [table] = await cli(blocks, ['blocks']);
    expect(table.split('\n')[0]).toMatch(/^Address\s+Account\s+Failed\s+Until$/);
    expect(table).toMatch(/127\.0\.0\.1\s+alice\s+2\s+\d{4}-/);
    const [lifted] = await cli(unblock, ['unblock', '127.0.0.1', '--user', 'alice']);
    expect(lifted).toMatch(/logins from 127\.0\.0\.1 for "alice" are no longer blocked/);
    expect(await cli(blocks, ['blocks'])).toEqual(['no logins are blocked\n']);
    const alice = await world.connect();
    expect(await alice.call('login', { name: 'alice', password: wirePassword('alice-pw'), user_type: 'user' })).toMatchObject({ flag: true });
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('the menu shows the blocks and lifts the one picked', async () => {
    await blockAlice();
    const main = (item: string): Step => ['select', 'boss', item];
    const io = scriptedIO([main('Login blocks'), main('Lift a login block'), ['select', 'Lift which block?', '127.0.0.1  alice'], main('Login blocks'), main('Quit')]);
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });
    try {
      expect(await runAdminMenu({ client, io }, { uploadDir: world.dir, name: 'boss', password: 'boss-pw' })).toBe(0);
    } finally {
      client.close();
    }
    expect(io.remaining()).toEqual([]);
    expect(io.output.some((line) => /^127\.0\.0\.1\s+alice\s+2\s+\d{4}-/.test(line))).toBe(true);
    expect(io.output).toContain('logins from 127.0.0.1 for "alice" are no longer blocked');
    expect(io.output.filter((line) => line === 'no logins are blocked')).toHaveLength(1);
  });
});
