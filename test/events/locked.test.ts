/**
 * A locked account receives no more events: an admin's lock on this node ends its streams at
 * once, a lock made anywhere else (here: the operator, on the database) before the next
 * event; each with an `events_ended` frame saying why. Subscribers of other accounts go on.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { User } from '../../src/orm/models/index.js';
import { databaseKinds } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';
import { waitFor } from '../transfers/helpers.js';
import { sleep, subscribe } from './helpers.js';

describe.each(databaseKinds)('events of a locked account (%s)', (kind) => {
  let world: World;
  let admin: ClientConnection;

  beforeAll(async () => {
    world = await startWorld(kind);
    admin = await world.loginAs('boss', 'admin');
  });
  afterAll(async () => world?.close());

  const endedFrame = (frames: Record<string, unknown>[]) => frames.find((f) => f.type === 'events_ended');

  it.each([
    ['by an admin (lock_user)', async (name: string) => void (await admin.call('lock_user', { name }))],
    ['by the operator, on the database', async (name: string) => void (await User.updateWhere(world.server.app.db, { is_locked: 1 }, { name }))],
  ])('ends its streams when it is locked %s; the others keep theirs', async (how, lock) => {
    const name = how.startsWith('by an admin') ? 'locked-by-admin' : 'locked-by-operator';
    const viewer = await world.loginAs(name, 'user');
    const other = await subscribe(await world.loginAs(`${name}-colleague`, 'user'));
    const locked = await subscribe(viewer);
    // The second connection of the same account ends too.
    const second = await subscribe(await world.loginAs(name, 'user'));
    const start = Number(locked.reply.last_id);

    await lock(name);
    if (how.startsWith('by an admin')) {
      // On the node that locked it: at once, before any event.
      for (const stream of [locked, second]) await waitFor(() => endedFrame(stream.frames), 'the events_ended frame');
    }
    await admin.call('release_notice', { title: `after ${name}`, content: 'not for a locked account' });
    expect(await other.waitForEvents(1)).toMatchObject([{ type: 'event', id: start + 1, kind: 'notice' }]);
    for (const stream of [locked, second]) {
      const ended = await waitFor(() => endedFrame(stream.frames), 'the events_ended frame');
      expect(ended).toEqual({ type: 'events_ended', reason: 'account_locked', last_id: start, msg: expect.stringMatching(/locked/) });
    }
    await admin.call('release_notice', { title: `later ${name}`, content: 'nor this' });
    await other.waitForEvents(2);
    await sleep(100); // nothing more may follow
    for (const stream of [locked, second]) {
      expect(stream.events()).toEqual([]);
      expect(stream.frames).toHaveLength(1); // the events_ended frame, and nothing after it
    }
    // As before, its requests are refused, and it cannot subscribe again.
    await expect(viewer.call('subscribe', {})).rejects.toMatchObject({ code: 'ACCOUNT_LOCKED' });
    expect(world.logs).toContainEqual(expect.objectContaining({ msg: 'account locked, event stream ended' }));
  });
});
