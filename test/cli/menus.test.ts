/**
 * The two menus played from a script against a real server: a whole admin session (register
 * with the admin code, upload from the upload folder and from any path, delete, publish a
 * notice, a wrong password, a duplicate) and a whole viewer session (register, decline and
 * then confirm payments at the price the server charges, buy VIP, download both videos,
 * history, notices, Ctrl-C). The same menus on a real terminal are in pty.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CineboxClient } from '../../src/client/cinebox-client.js';
import { runAdminMenu } from '../../src/client/ui/menus/admin-menu.js';
import { runUserMenu } from '../../src/client/ui/menus/user-menu.js';
import { ADMIN_CODE, startWorld, type World } from '../helpers/world.js';
import { scriptedIO, type Step } from './helpers/scripted-io.js';

const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

describe('the admin and viewer menus, driven by a script', () => {
  let world: World;
  let uploadDir: string;
  let freePath: string;
  let paidPath: string;
  const clients: CineboxClient[] = [];

  const connect = async () => {
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: world.server.port });
    clients.push(client);
    return client;
  };
  const admin = async (steps: Step[], options: { adminCode?: string; name?: string; password?: string } = {}) => {
    const io = scriptedIO(steps);
    const code = await runAdminMenu({ client: await connect(), io }, { uploadDir, ...options });
    return { io, code };
  };
  const viewer = async (steps: Step[], outDir: string, credentials: { name?: string; password?: string } = {}) => {
    const io = scriptedIO(steps);
    const code = await runUserMenu({ client: await connect(), io }, { outDir, ...credentials });
    return { io, code };
  };
  const main = (who: string, item: string): Step => ['select', who, item];

  beforeAll(async () => {
    // No ffprobe: these files are random bytes, and a background probe would change the tables mid-script (media-menus.test.ts shows facts).
    world = await startWorld('sqlite', { freeWaitSeconds: 1, vipPriceCents: 3000, paidPriceVipCents: 500, paidPriceNormalCents: 1000, ffprobePath: '' });
    uploadDir = join(world.dir, 'upload');
    freePath = await world.makeFile('free.mp4', 1024 * 1024 + 1);
    paidPath = await world.makeFile('付费电影.mkv', 512 * 1024 + 3);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await world?.close();
  });

  it('admin: registers with the admin code, finds an empty upload folder (and creates it), quits', async () => {
    const { io, code } = await admin([
      main('not logged in', 'Register'),
      ['input', 'New name', 'boss'],
      ['password', 'Password', 'boss-pw'],
      ['password', 'Repeat the password', 'typo'],
      ['password', 'Repeat the password', 'boss-pw'],
      ['password', 'Admin code', ADMIN_CODE],
      main('boss', 'Upload a video'),
      ['select', 'Upload which file?', '← Back'],
      main('boss', 'Quit'),
    ]);
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.output).toContain('> the passwords do not match');
    expect(io.output).toContain('registered admin "boss"');
    expect(io.output).toContain('logged in as boss');
    expect(io.output).toContain(`no files in ${uploadDir} yet: put videos there, or type a path`);
    expect((await stat(uploadDir)).isDirectory()).toBe(true);
    // Logged out, only what needs no account can be chosen.
    expect(io.asked[0].choices).toEqual([
      'Register',
      'Log in',
      '- Upload a video',
      '- Delete a video',
      '- Publish a notice',
      '- List all videos',
      '- Notices',
      '- Users',
      "- A viewer's policy",
      '- Lock a user',
      '- Unlock a user',
      '- Login blocks',
      '- Lift a login block',
      '- Log out',
      'Quit',
    ]);
  });

  it('admin: a whole session — uploads from the folder and from a path, deletes, publishes, survives mistakes', async () => {
    await rename(freePath, join(uploadDir, 'free.mp4'));
    await world.makeFile('upload/extra.mp4', 1000);
    const { io, code } = await admin([
      main('not logged in', 'Log in'),
      ['input', 'Name', 'boss'],
      ['password', 'Password', 'wrong'],
      main('not logged in', 'Log in'),
      ['input', 'Name', 'boss'],
      ['password', 'Password', 'boss-pw'],
      main('boss', 'Upload a video'),
      ['select', 'Upload which file?', 'free.mp4'],
      ['select', 'Free or paid?', 'Free'],
      main('boss', 'Upload a video'),
      ['select', 'Upload which file?', 'Another file'],
      ['input', 'Path of the video file', paidPath],
      ['select', 'Free or paid?', 'Paid'],
      main('boss', 'Upload a video'),
      ['select', 'Upload which file?', 'extra.mp4'],
      ['select', 'Free or paid?', 'Free'],
      main('boss', 'Upload a video'),
      ['select', 'Upload which file?', 'free.mp4'],
      ['select', 'Free or paid?', 'Free'],
      main('boss', 'Delete a video'),
      ['select', 'Delete which video?', '#3'],
      ['confirm', 'Delete #3 "extra.mp4"?', true],
      main('boss', 'Publish a notice'),
      ['input', 'Title', '新片上架'],
      ['input', 'Notice', 'Two new films this week'],
      main('boss', 'List all videos'),
      main('boss', 'Notices'),
      main('boss', 'Log out'),
      main('not logged in', 'Quit'),
    ]);
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.warnings).toEqual(['wrong name or password', 'this video is already stored as #1 "free.mp4"']);
    expect(io.output).toContain('uploaded as #1 (free, 1.0 MB, SHA-256 verified by the server)');
    expect(io.output).toContain('uploaded as #2 (paid, 524.3 KB, SHA-256 verified by the server)');
    expect(io.output).toContain('deleted #3 "extra.mp4"');
    expect(io.output).toContain('notice published (#1)');
    expect(io.output).toContain('logged out (boss)');
    // Sending showed progress that ended at 100%; a new file is hashed while it is sent, so
    // only the second free.mp4 (its fingerprint matched a stored video) was hashed first.
    for (const label of ['hash free.mp4', 'upload free.mp4', 'upload 付费电影.mkv']) {
      expect(io.output.filter((line) => line.startsWith(`${label}: `)).at(-1)).toMatch(/: 100% /);
    }
    expect(io.output.filter((line) => line.startsWith('hash 付费电影.mkv'))).toEqual([]);
    const table = io.output.slice(io.output.findIndex((line) => line.startsWith('ID ')));
    expect(table[2]).toMatch(/^ 1 {2}free\.mp4 +free +1\.0 MB {2}\d{4}-/);
    expect(table[3]).toMatch(/^ 2 {2}付费电影\.mkv +paid {2}524\.3 KB {2}\d{4}-/);
    expect(table[4]).toMatch(/^\? /); // #3 was deleted: two rows only
    expect(io.output.some((line) => /新片上架 {2}Two new films this week/.test(line))).toBe(true);
  });

  it('admin: a directory, a missing file and an empty file are refused in the words of `cinebox admin upload`', async () => {
    const folder = join(world.dir, 'a-folder');
    await mkdir(folder, { recursive: true });
    const empty = await world.makeFile('empty.mp4', 0);
    const missing = join(world.dir, 'missing.mp4');
    const typed = (path: string): Step[] => [main('boss', 'Upload a video'), ['select', 'Upload which file?', 'Another file'], ['input', 'Path of the video file', path]];
    const { io, code } = await admin([...typed(folder), ...typed(missing), ...typed(empty), main('boss', 'Quit')], { name: 'boss', password: 'boss-pw' });
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.warnings).toEqual([
      `${folder}: is a directory, not a file`,
      `${missing}: no such file`,
      `${empty}: is empty (0 bytes), nothing to upload`,
    ]);
  });

  it('viewer: a whole session — register, decline then pay, buy VIP, download both, history, notices, Ctrl-C', async () => {
    const out = join(world.dir, 'alice-downloads');
    const { io, code } = await viewer(
      [
        main('not logged in', 'Register'),
        ['input', 'New name', 'alice'],
        ['password', 'Password', 'alice-pw'],
        ['password', 'Repeat the password', 'alice-pw'],
        main('alice', 'List all videos'),
        main('alice', 'Download a paid video'),
        ['select', 'Which paid video?', '#2'],
        ['confirm', 'Pay 10.00 and download?', false],
        main('alice', 'Buy VIP'),
        ['confirm', 'Buy VIP for 30.00?', true],
        main('alice (VIP)', 'Download a free video'),
        ['select', 'Which free video?', '#1'],
        main('alice (VIP)', 'Download a paid video'),
        ['select', 'Which paid video?', '#2'],
        ['confirm', 'Pay 5.00 and download?', true],
        main('alice (VIP)', 'Download a paid video'),
        ['select', 'Which paid video?', '← Back'],
        main('alice (VIP)', 'Download history'),
        main('alice (VIP)', 'Notices'),
        main('alice (VIP)', 'Log out'),
        main('not logged in', 'Log in'),
        ['input', 'Name', 'alice'],
        ['password', 'Password', 'alice-pw'],
        // The script ends here: the next prompt fails as Ctrl-C does.
      ],
      out,
    );
    expect(code).toBe(0);
    expect(io.warnings).toEqual([]);
    expect(io.output.at(-1)).toBe('bye');
    expect(io.output).toContain('"付费电影.mkv" costs 10.00 (normal price; VIP viewers pay 5.00). A video you bought before downloads again at no charge.');
    expect(io.output).toContain('not bought');
    expect(io.output).toContain('VIP viewers pay 5.00 instead of 10.00 per paid video and skip the 1 s wait for free videos.');
    expect(io.output).toContain('you are now a VIP (paid 30.00)');
    expect(io.output).toContain(`saved ${join(out, 'free.mp4')} (1.0 MB, SHA-256 verified)`);
    expect(io.output).toContain(`saved ${join(out, '付费电影.mkv')} (524.3 KB, SHA-256 verified, paid 5.00)`);
    expect(io.output).toContain('logged in as alice (VIP)');
    // Buying VIP is greyed out for a VIP.
    expect(io.asked.filter((a) => a.message.includes('alice (VIP)')).every((a) => a.choices?.includes('- Buy VIP'))).toBe(true);
    // No VIP wait for a VIP.
    expect(io.output.some((line) => line.startsWith('non-VIP wait'))).toBe(false);

    expect((await readdir(out)).sort()).toEqual(['free.mp4', '付费电影.mkv']);
    expect(await sha256(join(out, 'free.mp4'))).toBe(await sha256(join(uploadDir, 'free.mp4')));
    expect(await sha256(join(out, '付费电影.mkv'))).toBe(await sha256(paidPath));

    const history = io.output.slice(io.output.findIndex((line) => line.startsWith('Downloaded ')));
    expect(history[2]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d {3}2 {2}付费电影\.mkv$/);
    expect(history[3]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d {3}1 {2}free\.mp4$/);
  });

  it('viewer: a normal viewer sees the countdown for a free video and the normal price', async () => {
    const out = join(world.dir, 'bob-downloads');
    await mkdir(out);
    const { io, code } = await viewer(
      [
        main('bob', 'Download a free video'),
        ['select', 'Which free video?', '#1'],
        main('bob', 'Quit'),
      ],
      out,
      await registered('bob'),
    );
    expect(code).toBe(0);
    expect(io.output).toContain('logged in as bob');
    expect(io.output).toContain('non-VIP wait before a free download (VIP viewers skip it): 1 s');
    expect(io.output.filter((line) => line.startsWith('download free.mp4: ')).at(-1)).toMatch(/^download free\.mp4: 100% 1\.0\/1\.0 MB/);
  });

  it('viewer: Ctrl-C during a transfer goes back to the list, still logged in; the next try downloads', async () => {
    const out = join(world.dir, 'cancel-downloads');
    let pressed = false;
    const io = scriptedIO(
      [
        main('dora', 'Download a free video'),
        ['select', 'Which free video?', '#1'],
        // Ctrl-C is pressed at the countdown (below): the menu comes back, still as dora.
        main('dora', 'Download a free video'),
        ['select', 'Which free video?', '#1'],
        main('dora', 'Quit'),
      ],
      {
        onProgressLine: (line) => {
          if (!pressed && line.startsWith('non-VIP wait')) {
            pressed = true;
            process.emit('SIGINT');
          }
        },
      },
    );
    const code = await runUserMenu({ client: await connect(), io }, { outDir: out, ...(await registered('dora')) });
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.warnings).toEqual(['transfer cancelled (choose it again to resume where it stopped)']);
    expect(io.output).toContain(`saved ${join(out, 'free.mp4')} (1.0 MB, SHA-256 verified)`);
    expect(await sha256(join(out, 'free.mp4'))).toBe(await sha256(join(uploadDir, 'free.mp4')));
  });

  it('viewer: a connection dropped while the menu waits is made again, logged in again, and says so', async () => {
    const client = await connect();
    const dropped = async () => {
      for (const conn of world.server.connections) conn.socket.destroy();
      while (client.connected) await new Promise((r) => setTimeout(r, 10));
    };
    const io = scriptedIO([main('erin', 'Notices'), ['act', dropped], main('erin', 'List all videos'), main('erin', 'Quit')]);
    const code = await runUserMenu({ client, io }, { outDir: join(world.dir, 'unused'), ...(await registered('erin')) });
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.warnings).toEqual([`the connection to 127.0.0.1:${world.server.port} was lost`]);
    expect(io.output).toContain(`reconnected to 127.0.0.1:${world.server.port}, logged in again as erin`);
    // The choice made when the drop was found still ran, as erin.
    expect(io.output.some((line) => /^ 1 {2}free\.mp4 /.test(line))).toBe(true);
    expect(io.asked.at(-1)?.message).toContain('· erin');
  });

  it('viewer: a paid video bought before (a cut download) is not offered for payment again', async () => {
    const credentials = await registered('fred');
    // fred pays for #2 and the download is cut before its bytes: the purchase stays, no record.
    const raw = await world.loginAs('fred', 'user', credentials.password);
    const header = await raw.requestWithBody({ type: 'download_movie', session: raw.session, movie_id: 2, movie_type: 'charge' }, async (reply) => {
      expect(reply).toMatchObject({ flag: true, charged_cents: 1000 });
      raw.close();
      return undefined;
    }).catch(() => 'cut');
    expect(header).toBe('cut');
    const out = join(world.dir, 'fred-downloads');
    const { io, code } = await viewer(
      [main('fred', 'Download a paid video'), ['select', 'Which paid video?', '#2  付费电影.mkv  (524.3 KB, bought)'], main('fred', 'Quit')],
      out,
      credentials,
    );
    expect(code).toBe(0);
    expect(io.remaining()).toEqual([]);
    expect(io.asked.filter((a) => a.kind === 'confirm')).toEqual([]);
    expect(io.output).toContain('"付费电影.mkv" is already yours (bought before): no charge');
    expect(io.output).toContain(`saved ${join(out, '付费电影.mkv')} (524.3 KB, SHA-256 verified, bought before: no charge)`);
  });

  it('shows a server that is gone as one line each, offers to reconnect, and leaves with exit code 4', async () => {
    const doomed = await startWorld('sqlite');
    const client = await CineboxClient.connect({ host: '127.0.0.1', port: doomed.server.port });
    clients.push(client);
    const io = scriptedIO([main('not logged in', 'Register'), ['confirm', 'Try to reconnect', true]]);
    await doomed.close();
    while (client.connected) await new Promise((r) => setTimeout(r, 10));
    const code = await runUserMenu({ client, io }, { outDir: join(world.dir, 'unused') });
    expect(code).toBe(4);
    const where = `127.0.0.1:${doomed.server.port}`;
    expect(io.warnings).toEqual([
      `the connection to ${where} was lost`,
      `cannot connect to ${where}: ECONNREFUSED (is \`cinebox server\` running there? see --host/--port)`,
      `cannot connect to ${where}: ECONNREFUSED (is \`cinebox server\` running there? see --host/--port)`,
    ]);
    // Asked twice: once answered yes, then Ctrl-C (the script ran out) means stop.
    expect(io.asked.filter((a) => a.kind === 'confirm').map((a) => a.message)).toEqual([`Try to reconnect to ${where}?`, `Try to reconnect to ${where}?`]);
  });

  async function registered(name: string) {
    const client = await connect();
    await client.register(name, `${name}-pw`, 'user');
    return { name, password: `${name}-pw` };
  }
});
