/**
 * Two thousand connections opened at once. Under the limits the server answers every one
 * and still serves the bystander; over `maxConnections` the extra ones get BUSY and a close,
 * and the bystander (connected before the crowd) is served all the same.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/protocol/index.js';
import { databaseKinds } from '../helpers/databases.js';
import { frame } from '../helpers/raw.js';
import { startArena, waitFor, type Arena } from './arena.js';


const CROWD = 2000;
/** Each case waits up to 30 + 10 + 10 s for conditions; the timeout must leave room for them. */
const CASE_TIMEOUT_MS = 90_000;

interface Member {
  socket: Socket;
  replies: Record<string, unknown>[];
  closed: boolean;
}

/** Opens `n` sockets at once, each sending one server_info. */
function crowd(port: number, n: number): Member[] {
  return Array.from({ length: n }, () => {
    const socket = connect({ host: '127.0.0.1', port });
    const member: Member = { socket, replies: [], closed: false };
    const decoder = new FrameDecoder();
    socket.on('connect', () => socket.write(frame({ type: 'server_info' })));
    socket.on('data', (chunk: Buffer) => {
      decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) {
        if (event.kind === 'header') member.replies.push(event.header);
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => (member.closed = true));
    return member;
  });
}

describe.each(databaseKinds)('a crowd (%s)', (kind) => {
  let arena: Arena | undefined;
  afterEach(async () => {
    await arena?.close();
    arena = undefined;
  });

  it(`${CROWD} connections at once are all answered, and the bystander is served meanwhile`, { timeout: CASE_TIMEOUT_MS }, async () => {
    arena = await startArena(kind, { maxConnectionsPerAddress: CROWD + 50 });
    const watch = await arena.watch();
    const members = crowd(arena.port, CROWD);
    try {
      await waitFor(() => members.every((m) => m.replies.length === 1 || m.closed), 30_000, 'every member to be answered');
      expect(members.filter((m) => m.closed)).toHaveLength(0);
      for (const m of members) expect(m.replies[0]).toMatchObject({ flag: true });
      expect(arena.world.server.connections.size).toBeGreaterThanOrEqual(CROWD);
      await watch.unharmed(); // with all of them still connected
    } finally {
      members.forEach((m) => m.socket.destroy());
    }
    await waitFor(() => arena!.world.server.connections.size < 10, 10_000, 'the crowd to be let go');
  });

  it(`over maxConnections, the rest of ${CROWD} get BUSY and a close; the bystander is served`, { timeout: CASE_TIMEOUT_MS }, async () => {
    arena = await startArena(kind, { maxConnections: 300, maxConnectionsPerAddress: CROWD + 50 });
    const watch = await arena.watch();
    // Every free slot goes to the crowd (its members hold theirs until the end): a server that
    // refused more than it must, or all of them, fails the lower bound.
    const freeSlots = 300 - arena.world.server.connections.size;
    const members = crowd(arena.port, CROWD);
    try {
      await waitFor(() => members.every((m) => m.replies.length === 1), 30_000, 'every member to get a frame');
      const busy = members.filter((m) => m.replies[0].code === 'BUSY');
      const served = members.filter((m) => m.replies[0].flag === true);
      expect(busy.length + served.length).toBe(CROWD);
      expect(served.length).toBeGreaterThanOrEqual(freeSlots);
      expect(served.length).toBeLessThanOrEqual(300);
      expect(busy.length).toBeGreaterThanOrEqual(CROWD - 300);
      for (const m of served) expect(m.closed).toBe(false);
      await waitFor(() => busy.every((m) => m.closed), 10_000, 'the refused to be closed');
      expect(arena.world.server.connections.size).toBeLessThanOrEqual(300);
      await watch.unharmed();
    } finally {
      members.forEach((m) => m.socket.destroy());
    }
    // Once the crowd is gone, newcomers are welcome again.
    await waitFor(() => arena!.world.server.connections.size < 10, 10_000, 'the crowd to be let go');
    const late = await arena.world.connect();
    expect(await late.request({ type: 'server_info' })).toMatchObject({ flag: true });
  });
});
