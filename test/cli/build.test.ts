/**
 * `npm start`, `npm run admin` and `npm run user` build before they run; the build must
 * leave dist/ alone when no source changed (a full compile cost 7-12 s per start). Runs
 * the real `build` script and tsconfig files on a two-file copy of the project.
 */
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from './helpers/built-cli.js';

const run = promisify(execFile);

describe('npm run build', { timeout: 120_000 }, () => {
  let project: string;
  const build = () => run('npm', ['run', 'build', '--silent'], { cwd: project });
  const mtimeOf = async (path: string) => (await stat(join(project, path))).mtimeMs;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'cinebox-build-'));
    for (const file of ['package.json', 'tsconfig.json', 'tsconfig.build.json']) {
      await copyFile(join(repoRoot, file), join(project, file));
    }
    await symlink(join(repoRoot, 'node_modules'), join(project, 'node_modules'));
    await mkdir(join(project, 'src'));
    await writeFile(join(project, 'src/price.ts'), 'export const price = (cents: number): string => (cents / 100).toFixed(2);\n');
    await writeFile(join(project, 'src/main.ts'), "import { price } from './price.js';\nconsole.log(price(500));\n");
  });
  afterAll(async () => {
    await rm(project, { recursive: true, force: true });
  });

  it('compiles a fresh clone, writes nothing when nothing changed, and recompiles a changed source', async () => {
    await build();
    const { stdout } = await run(process.execPath, [join(project, 'dist/main.js')]);
    expect(stdout).toBe('5.00\n');
    const first = { main: await mtimeOf('dist/main.js'), price: await mtimeOf('dist/price.js') };

    await build();
    expect(await mtimeOf('dist/main.js')).toBe(first.main);
    expect(await mtimeOf('dist/price.js')).toBe(first.price);

    await writeFile(join(project, 'src/price.ts'), 'export const price = (cents: number): string => `${(cents / 100).toFixed(2)} CNY`;\n');
    await build();
    expect((await run(process.execPath, [join(project, 'dist/main.js')])).stdout).toBe('5.00 CNY\n');
    expect(await readFile(join(project, 'dist/price.js'), 'utf8')).toContain('CNY');
  });
});
