/**
 * A server behind a balancer (`--proxy-protocol v1`): every connection must start with a
 * PROXY line. Garbage, an overlong line and a line never finished are closed without a
 * frame (the last one at the handshake deadline, counted under the sender's address until
 * then); once a line names the client, the limits per address and the login guard count
 * that client, so two clients behind one balancer are limited and blocked independently.
 * The arena's own clients come through a `send-proxy` forwarder and are served throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { freePort, startSendProxy, type SendProxy } from '../helpers/send-proxy.js';
import { expectErrorReply, nextLoopback, Peer, startArena, waitFor, type Arena } from './arena.js';

const PER_ADDRESS = 4;
const LOGIN_MAX = 3;
const DEADLINE_S = 2;

describe.each(databaseKinds)('PROXY protocol v1 (%s)', (kind) => {
  let arena: Arena;
  let forwarder: SendProxy;
  beforeAll(async () => {
    const port = await freePort();
    forwarder = await startSendProxy(port);
    const overrides = { port, proxyProtocol: 'v1', handshakeSeconds: DEADLINE_S, maxConnectionsPerAddress: PER_ADDRESS, loginMaxFailures: LOGIN_MAX };
    arena = await startArena(kind, overrides, { port: forwarder.port });
  });
  afterAll(async () => {
    await arena?.close();
    await forwarder?.close();
  });

  /** A raw socket to the server itself, from an address of its own: the "balancer". */
  const balancer = (address = nextLoopback()) => Peer.open(arena.port, address);
  const line = (client: string) => `PROXY TCP4 ${client} 127.0.0.1 40000 ${arena.port}\r\n`;

  it('closes a connection that starts with anything but a PROXY line, without a frame', async () => {
    const watch = await arena.watch();
    for (const garbage of ['GET / HTTP/1.1\r\nHost: x\r\n\r\n', 'PROXY TCP4 999.1.2.3 127.0.0.1 1 2\r\n', 'PROXY TCP4 10.0.0.1 127.0.0.1 99999 1\r\n', 'PROXY TCP5 a b 1 2\r\n']) {
      const peer = await balancer();
      peer.write(garbage);
      expect(await peer.closedWithin(1000)).toBe(true);
      expect(peer.replies).toEqual([]);
    }
    // A frame where the line should be: refused at its first byte, never read as a request.
    const framed = await balancer();
    framed.send({ type: 'server_info' });
    expect(await framed.closedWithin(1000)).toBe(true);
    expect(framed.replies).toEqual([]);
    await watch.unharmed();
  });

  it('closes an overlong line at its 107th byte, before the deadline', async () => {
    const watch = await arena.watch();
    const peer = await balancer();
    peer.write(`PROXY TCP4 ${'1'.repeat(200)}`);
    expect(await peer.closedWithin(1000)).toBe(true);
    expect(peer.replies).toEqual([]);
    await watch.unharmed();
  });

  it('counts a line never finished under the sender until the deadline closes it', async () => {
    const watch = await arena.watch();
    const address = nextLoopback();
    const peer = await balancer(address);
    peer.write('PROXY TCP4 10.0.0.1 ');
    await waitFor(() => arena.world.server.openSocketsFrom(address) === 1, 2000, 'the socket counted');
    expect(await peer.closedWithin(500)).toBe(false); // still waiting for the rest of its line
    expect(arena.world.server.openSocketsFrom(address)).toBe(1);
    expect(await peer.closedWithin(DEADLINE_S * 1000 + 2000)).toBe(true);
    expect(peer.replies).toEqual([]);
    await waitFor(() => arena.world.server.openSocketsFrom(address) === 0, 2000, 'the socket counted out');
    await watch.unharmed();
  });

  it('limits connections per real address, not per balancer', async () => {
    const watch = await arena.watch();
    const via = nextLoopback(); // one balancer for everyone
    const crowd = await Promise.all(Array.from({ length: PER_ADDRESS + 1 }, () => balancer(via)));
    for (const peer of crowd) peer.write(line('10.7.0.1'));
    const other = await balancer(via);
    other.write(line('10.7.0.2'));
    // Exactly one of the crowd is refused with BUSY; the others, and the other client, are served.
    const replies = await Promise.all(crowd.map((peer) => peer.request({ type: 'server_info' }).catch(() => undefined)));
    const busy = crowd.filter((peer) => peer.replies[0]?.code === 'BUSY');
    expect(busy).toHaveLength(1);
    expect(replies.filter((r) => r?.flag === true)).toHaveLength(PER_ADDRESS);
    expect(await other.request({ type: 'server_info' })).toMatchObject({ flag: true });
    expect(arena.world.server.openSocketsFrom('10.7.0.1')).toBe(PER_ADDRESS);
    // Every served socket moved to its client; the refused one counts where it was until it closes.
    expect(await busy[0].closedWithin(3000)).toBe(true);
    await waitFor(() => arena.world.server.openSocketsFrom(via) === 0, 2000, 'the balancer holding none');
    for (const peer of [...crowd, other]) peer.destroy();
    await waitFor(() => arena.world.server.openSocketsFrom('10.7.0.1') === 0, 2000, 'the crowd counted out');
    await watch.served();
  });

  it('the login guard sees the real address: two clients through one balancer are blocked independently', async () => {
    const setup = await arena.world.connect();
    await setup.call('register', { name: 'carol', password: wirePassword('carol-pw'), user_type: 'user' });
    setup.close();
    const via = nextLoopback();
    const loginVia = async (client: string, password: string) => {
      const peer = await balancer(via);
      try {
        peer.write(line(client));
        return await peer.request({ type: 'login', name: 'carol', password: wirePassword(password), user_type: 'user' }, undefined, 15_000);
      } finally {
        peer.destroy();
      }
    };
    for (let i = 0; i < LOGIN_MAX; i++) expectErrorReply(await loginVia('10.8.0.1', 'wrong'), 'LOGIN_FAILED');
    expectErrorReply(await loginVia('10.8.0.1', 'carol-pw'), 'LOGIN_BLOCKED');
    // The other client behind the same balancer: its own count, not blocked.
    expectErrorReply(await loginVia('10.8.0.2', 'wrong'), 'LOGIN_FAILED');
    expect(await loginVia('10.8.0.2', 'carol-pw')).toMatchObject({ flag: true });
    const blocks = await arena.admin.call('list_blocks', {});
    expect(blocks.blocks).toContainEqual(expect.objectContaining({ address: '10.8.0.1', account: 'carol' }));
    expect((blocks.blocks as { address: string }[]).map((b) => b.address)).not.toContain(via);
    // The logs name the client, not the balancer.
    const failed = arena.world.logs.filter((l) => l.msg === 'login failed');
    expect(failed.map((l) => l.addr)).toEqual([...Array(LOGIN_MAX).fill('10.8.0.1'), '10.8.0.2']);
  });
});
