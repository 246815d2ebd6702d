/**
 * The viewer's menu follows live events: what arrived while the viewer was choosing is said
 * on the next screen ("2 new notices, 1 new video") and marked in the lists until shown.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { uploadFile } from '../../src/client/upload.js';
import { runUserMenu } from '../../src/client/ui/menus/user-menu.js';
import { lastEventId } from '../../src/server/events/event-store.js';
import { scriptedIO } from '../cli/helpers/scripted-io.js';
import { startWorld, type World } from '../helpers/world.js';
import { sleep } from './helpers.js';

describe('the viewer menu and live events', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite');
  });
  afterAll(async () => world?.close());

  it('says what arrived on its next screen and marks the new items in the lists', async () => {
    const admin = await world.loginAs('boss', 'admin');
    await world.loginAs('alice', 'user');
    await admin.call('release_notice', { title: 'Old news', content: 'seen before' });
    await uploadFile(admin, await world.makeFile('old.mp4', 1000), { isFree: true });

    const io = scriptedIO([
      ['select', 'alice', 'Download history'],
      ['select', 'alice', 'Notices'],
      ['select', 'alice', 'List all videos'],
      ['select', 'alice', 'Notices'],
      ['select', 'alice', 'Quit'],
    ]);
    // While the viewer looks at the first screen, two notices and a video come out.
    const select = io.prompt.select.bind(io.prompt);
    let screens = 0;
    io.prompt.select = async (message, choices, options) => {
      if (++screens === 1) {
        await admin.call('release_notice', { title: 'Premiere', content: 'Friday' });
        await admin.call('release_notice', { title: 'Sale', content: 'Half price' });
        await uploadFile(admin, await world.makeFile('fresh.mp4', 1000), { isFree: false });
        const last = await lastEventId(world.server.app.db);
        const { events } = world.server.app;
        const viewer = () => [...world.server.connections].map((c) => events.subscriptionOf(c)).find(Boolean);
        while ((viewer()?.lastHanded ?? 0) < last) await sleep(10);
        await sleep(50);
      }
      return select(message, choices, options);
    };
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });
    const code = await runUserMenu({ client, io }, { outDir: world.dir, name: 'alice', password: 'secret-alice' });
    client.close();
    expect(code).toBe(0);

    const out = io.output;
    const at = (text: string, from = 0) => out.findIndex((line, i) => i >= from && line.includes(text));
    const history = at('Download history');
    const summary = at('2 new notices, 1 new video');
    expect(summary).toBeGreaterThan(history); // on the next screen, once
    expect(out.filter((line) => line.includes('new notice'))).toHaveLength(1);
    const noticesShown = at('? ', summary);
    const noticeRows = out.slice(noticesShown, at('List all videos', noticesShown));
    expect(noticeRows.find((l) => l.includes('Premiere'))).toMatch(/^new\s/);
    expect(noticeRows.find((l) => l.includes('Sale'))).toMatch(/^new\s/);
    expect(noticeRows.find((l) => l.includes('Old news'))).not.toMatch(/^new/);
    const videosShown = at('List all videos', noticesShown);
    const videoRows = out.slice(videosShown, at('? ', videosShown + 1));
    expect(videoRows.find((l) => l.includes('fresh.mp4'))).toMatch(/^new\s/);
    expect(videoRows.find((l) => l.includes('old.mp4'))).not.toMatch(/^new/);
    // Shown once, they are no longer new.
    const again = out.slice(at('Notices', videosShown));
    expect(again.find((l) => l.includes('Premiere'))).not.toMatch(/^new/);
  });
});
