/**
 * The client alone, as a viewer installs it on a laptop: `npm pack` from a fresh clone
 * builds dist/ itself (prepack) and ships only what runs; the packed `cinebox user …` and
 * `cinebox admin …` work without ever loading the server's database drivers or logger
 * (better-sqlite3's install script may be refused on a global install: harmless for them).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../helpers/world.js';
import { repoRoot } from './helpers/built-cli.js';
import { runCli } from './helpers/run-cli.js';

const run = promisify(execFile);

describe('npm pack: the client alone', { timeout: 240_000 }, () => {
  let clone: string;
  let packed: { files: { path: string }[]; filename: string };
  let world: World;

  beforeAll(async () => {
    // A fresh clone's worth: sources and configs, no dist/.
    clone = await mkdtemp(join(tmpdir(), 'cinebox-pack-'));
    for (const entry of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'README.md', 'LICENSE', 'src']) {
      await cp(join(repoRoot, entry), join(clone, entry), { recursive: true });
    }
    await symlink(join(repoRoot, 'node_modules'), join(clone, 'node_modules'));
    const [{ stdout }, started] = await Promise.all([
      run('npm', ['pack', '--json', '--pack-destination', clone], { cwd: clone }),
      startWorld('sqlite'),
    ]);
    world = started;
    packed = JSON.parse(stdout.slice(stdout.indexOf('[')))[0];
    await mkdir(join(clone, 'installed'));
    await run('tar', ['-xzf', join(clone, packed.filename), '-C', join(clone, 'installed')]);
    await symlink(join(repoRoot, 'node_modules'), join(clone, 'installed/package/node_modules'));
  }, 240_000);
  afterAll(async () => {
    await world?.close();
    if (clone) await rm(clone, { recursive: true, force: true });
  });

  it('builds dist/ on pack and ships only dist/ (no maps, no build info), the README, the LICENSE and package.json', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/cli/main.js');
    expect(paths).toContain('dist/client/cinebox-client.js');
    expect(paths).toContain('README.md');
    expect(paths).toContain('package.json');
    expect(paths).toContain('LICENSE');
    const unexpected = paths.filter((p) => !(p.startsWith('dist/') && p.endsWith('.js')) && !['README.md', 'package.json', 'LICENSE'].includes(p));
    expect(unexpected).toEqual([]);
  });

  it('runs the packed client commands without loading better-sqlite3, mysql2 or the logger', async () => {
    const refuse = join(clone, 'refuse-server-deps.mjs');
    const hook = `export async function resolve(specifier, context, next) {
      if (/^(better-sqlite3|mysql2|pino|pino-pretty)(\\/|$)/.test(specifier)) throw new Error('the client loaded ' + specifier);
      return next(specifier, context);
    }`;
    await writeFile(refuse, `import { register } from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`);
    const main = join(clone, 'installed/package/dist/cli/main.js');
    const env = { CINEBOX_PORT: String(world.server.port), CINEBOX_NAME: 'lena', CINEBOX_PASSWORD: 'pw', NODE_OPTIONS: `--import=${pathToFileURL(refuse).href}` };
    const cinebox = (args: string[]) => runCli(main, args, { cwd: clone, env });

    // The hook works: an operator command, which needs them, is refused.
    const server = await cinebox(['create-admin', 'probe', '--db', 'sqlite::memory:', '--password', 'x']);
    expect(server.stderr).toContain('the client loaded better-sqlite3');

    const registered = await cinebox(['user', 'register', '--json']);
    expect(registered.stderr).toBe('');
    expect(JSON.parse(registered.stdout)).toEqual({ registered: true, name: 'lena', role: 'user' });
    const listed = await cinebox(['user', 'list', '--json']);
    expect(JSON.parse(listed.stdout)).toEqual({ movies: [], next_after: null });
    const admin = await cinebox(['admin', 'users']);
    expect(admin.code).toBe(1); // a viewer is refused by the server: the admin command ran
  });
});
