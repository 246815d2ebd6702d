/**
 * `cinebox user` for real: the built bin in a pseudo-terminal (tmux), against a real
 * server, driven by keystrokes and read off the rendered screen. Register, list, buy VIP,
 * download a free and a paid video (bars on a terminal), history, notices, quit; and
 * Ctrl-C at the menu leaves cleanly.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uploadFile } from '../../src/client/upload.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { startWorld, type World } from '../helpers/world.js';
import { builtCli } from './helpers/built-cli.js';

const run = promisify(execFile);
const hasTmux = await run('tmux', ['-V']).then(
  () => true,
  () => false,
);
if (!hasTmux) console.warn('tmux is not installed: the pseudo-terminal tests of `cinebox user` are skipped');
const sha256 = async (path: string) => createHash('sha256').update(await readFile(path)).digest('hex');

/** One private tmux server (its own socket), so nothing touches the developer's sessions. */
class Terminal {
  private readonly socket = `cinebox-test-${process.pid}-${randomBytes(4).toString('hex')}`;

  private tmux(...args: string[]) {
    const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CINEBOX_')));
    return run('tmux', ['-u', '-L', this.socket, ...args], { env: { ...env, LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8' } });
  }

  async start(command: string): Promise<void> {
    await this.tmux('new-session', '-d', '-x', '100', '-y', '50', `${command}; echo "[exit $?]"; sleep 600`);
  }

  /** Literal text, then named keys (Enter, Down, C-c). */
  async type(text: string, ...keys: string[]): Promise<void> {
    if (text) await this.tmux('send-keys', '-l', text);
    for (const key of keys) await this.tmux('send-keys', key);
  }

  async screen(): Promise<string> {
    const { stdout } = await this.tmux('capture-pane', '-p', '-S', '-1000');
    return stdout;
  }

  /** Waits until the screen (with its scrollback) shows `text` `times` times. */
  async waitFor(text: string, times = 1, timeoutMs = 45_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (screen.split(text).length - 1 >= times) return screen;
      if (Date.now() > deadline) throw new Error(`"${text}" did not appear; the screen was:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Waits until the prompt waiting for keys (the last line starting with "?", with no
   * answered "✔" line after it) contains `text`, so keys never arrive between prompts.
   */
  async waitForPrompt(text: string, timeoutMs = 45_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      const lines = screen.trimEnd().split('\n');
      let active = lines.length - 1;
      while (active >= 0 && !lines[active].startsWith('? ')) active--;
      if (active >= 0 && lines[active].includes(text) && !lines.slice(active + 1).some((line) => line.startsWith('✔'))) return screen;
      if (Date.now() > deadline) throw new Error(`no prompt "${text}"; the screen was:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async close(): Promise<void> {
    await this.tmux('kill-server').catch(() => undefined);
  }
}

describe.skipIf(!hasTmux)('cinebox user in a real terminal', { timeout: 180_000 }, () => {
  let main: string;
  let world: World;
  let work: string;
  let freePath: string;
  let paidPath: string;
  const terminals: Terminal[] = [];

  const openMenu = async () => {
    const terminal = new Terminal();
    terminals.push(terminal);
    await terminal.start(`cd '${work}' && NO_COLOR=1 CINEBOX_PORT=${world.server.port} '${process.execPath}' '${main}' user`);
    return terminal;
  };
  /** Picks a menu item by typing the start of its name (Inquirer's select jumps to it), then Enter. */
  const choose = (terminal: Terminal, item: string) => terminal.type(item, 'Enter');

  beforeAll(async () => {
    [main, world] = await Promise.all([builtCli(), startWorld('sqlite', { freeWaitSeconds: 1, vipPriceCents: 3000, paidPriceVipCents: 500 })]);
    work = join(world.dir, 'work');
    await mkdir(work);
    freePath = await world.makeFile('free.mp4', 3 * 1024 * 1024);
    paidPath = await world.makeFile('付费电影.mkv', 1024 * 1024 + 1);
    const admin = await world.loginAs('boss', 'admin');
    await uploadFile(admin, freePath, { isFree: true });
    await uploadFile(admin, paidPath, { isFree: false });
    await admin.call('release_notice', { title: '新片上架', content: 'Two new films' });
  }, 120_000);
  afterAll(async () => {
    for (const terminal of terminals) await terminal.close();
    await world?.close();
  });

  it('a viewer registers, buys VIP, downloads both videos, reads history and notices, and quits', async () => {
    const t = await openMenu();
    const first = await t.waitForPrompt('cinebox viewer @ 127.0.0.1');
    expect(first).toContain('not logged in');
    expect(first).toContain('- Download a free video (log in first)');

    await choose(t, 'Reg');
    await t.waitForPrompt('New name');
    await t.type('alice', 'Enter');
    await t.waitForPrompt('Password');
    await t.type('s3cret', 'Enter');
    await t.waitForPrompt('Repeat the password');
    await t.type('s3cret', 'Enter');
    let screen = await t.waitForPrompt('· alice');
    expect(screen).toContain('logged in as alice');
    expect(screen).toContain('✔ Password ******');
    expect(screen).not.toContain('s3cret');

    await choose(t, 'List');
    screen = await t.waitFor('付费电影.mkv  paid');
    expect(screen).toMatch(/ 1 {2}free\.mp4 +free +3\.1 MB/);

    await t.waitForPrompt('· alice');
    await choose(t, 'Buy');
    await t.waitForPrompt('Buy VIP for 30.00?');
    await t.type('y', 'Enter');
    screen = await t.waitForPrompt('· alice (VIP)');
    expect(screen).toContain('you are now a VIP (paid 30.00)');

    await choose(t, 'Download a f');
    await t.waitForPrompt('Which free video?');
    await t.type('', 'Enter');
    screen = await t.waitForPrompt('· alice (VIP)');
    expect(screen).toContain('saved downloads/free.mp4 (3.1 MB, SHA-256 verified)');
    expect(screen).toMatch(/download free\.mp4 +█+ 100% 3\.1\/3\.1 MB/);

    await choose(t, 'Download a p');
    await t.waitForPrompt('Which paid video?');
    await t.type('', 'Enter');
    await t.waitForPrompt('Pay 5.00 and download?');
    await t.type('y', 'Enter');
    screen = await t.waitForPrompt('· alice (VIP)');
    expect(screen).toContain('saved downloads/付费电影.mkv (1.0 MB, SHA-256 verified, paid 5.00)');

    await choose(t, 'Download h');
    screen = await t.waitFor('Downloaded ');
    expect(screen).toMatch(/ {3}2 {2}付费电影\.mkv/);

    await t.waitForPrompt('· alice (VIP)');
    await choose(t, 'Notices');
    await t.waitFor('新片上架  Two new films');

    await t.waitForPrompt('· alice (VIP)');
    await choose(t, 'Quit');
    await t.waitFor('[exit 0]');

    expect(await sha256(join(work, 'downloads/free.mp4'))).toBe(await sha256(freePath));
    expect(await sha256(join(work, 'downloads/付费电影.mkv'))).toBe(await sha256(paidPath));
  });

  it('leaves cleanly on Ctrl-C at the menu', async () => {
    const t = await openMenu();
    await t.waitForPrompt('not logged in');
    await t.type('', 'C-c');
    const screen = await t.waitFor('[exit 0]');
    expect(screen).toContain('bye');
    expect(screen).not.toMatch(/Error|at .*\.js:\d+/);
  });

  it('Ctrl-C during the non-VIP countdown cancels the download, in the menu and in a script', async () => {
    // A server whose non-VIP viewers wait long enough to press Ctrl-C while they do.
    const slow = await startWorld('sqlite', { freeWaitSeconds: 60 });
    try {
      const admin = await slow.loginAs('boss', 'admin');
      await uploadFile(admin, await slow.makeFile('slow.mp4', 1000), { isFree: true });
      await (await slow.connect()).call('register', { name: 'bob', password: wirePassword('bob-pw'), user_type: 'user' });
      const out = join(work, 'slow');

      const t = new Terminal();
      terminals.push(t);
      await t.start(`cd '${work}' && CINEBOX_PORT=${slow.server.port} CINEBOX_NAME=bob CINEBOX_PASSWORD=bob-pw '${process.execPath}' '${main}' user -o slow`);
      await t.waitForPrompt('· bob');
      await choose(t, 'Download a f');
      await t.waitForPrompt('Which free video?');
      await t.type('', 'Enter');
      await t.waitFor('⏳ non-VIP wait before a free download (VIP viewers skip it): ');
      await t.type('', 'C-c');
      // Back at the list, still logged in; a second Ctrl-C there leaves.
      await t.waitFor('✖ transfer cancelled (choose it again to resume where it stopped)');
      await t.waitForPrompt('· bob');
      await t.type('', 'C-c');
      const screen = await t.waitFor('[exit 0]');
      expect(screen).not.toMatch(/\bat .*\.js:\d+/);
      expect(existsSync(join(out, 'slow.mp4'))).toBe(false);

      // The same from a script: SIGINT, one line, exit code 130.
      const child = spawn(process.execPath, [main, 'user', 'download', '1', '-o', 'slow2'], {
        cwd: work,
        env: { ...process.env, CINEBOX_PORT: String(slow.server.port), CINEBOX_NAME: 'bob', CINEBOX_PASSWORD: 'bob-pw' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      await new Promise<void>((resolve) =>
        child.stdout.setEncoding('utf8').on('data', (text: string) => {
          stdout += text;
          if (stdout.includes('non-VIP wait')) resolve();
        }),
      );
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stderr).toBe('cinebox: cancelled\n');
      expect(existsSync(join(work, 'slow2', 'slow.mp4'))).toBe(false);
    } finally {
      await slow.close();
    }
  });
});
