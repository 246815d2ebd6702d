/**
 * The built `cinebox` bin for child-process tests. It is compiled once per change of src/
 * into node_modules/.cache, one folder per checkout (never the shared dist/, which someone
 * may be building too);
 * test files running in parallel take turns through a lock directory and reuse the build.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
// One build per checkout: worktrees whose node_modules is the same symlinked folder must not
// rebuild each other's copy while a test runs from it.
const cacheDir = join(repoRoot, 'node_modules/.cache/cinebox-cli-test', createHash('sha256').update(repoRoot).digest('hex').slice(0, 12));
const outDir = join(cacheDir, 'dist');
const lockDir = join(cacheDir, 'lock');
const stampFile = join(cacheDir, 'stamp');

/** Path of main.js in a build of the current sources. */
export async function builtCli(): Promise<string> {
  await mkdir(cacheDir, { recursive: true });
  await acquireLock();
  try {
    const stamp = await sourcesStamp();
    const main = join(outDir, 'cli/main.js');
    if (existsSync(main) && (await readFile(stampFile, 'utf8').catch(() => '')) === stamp) return main;
    await rm(outDir, { recursive: true, force: true });
    const tsc = join(repoRoot, 'node_modules/typescript/bin/tsc');
    // Type errors elsewhere in the tree (work in progress) must not stop the emit. Its own
    // build info: the config's dist/.tsbuildinfo belongs to `npm run build`'s dist/.
    const args = ['-p', 'tsconfig.build.json', '--outDir', outDir, '--tsBuildInfoFile', join(outDir, '.tsbuildinfo'), '--sourceMap', 'false'];
    const result = await run(process.execPath, [tsc, ...args], {
      cwd: repoRoot,
    }).catch((error: { stdout?: string }) => error);
    if (!existsSync(main)) throw new Error(`tsc emitted no ${main}:\n${(result as { stdout?: string }).stdout ?? ''}`);
    // Inside node_modules there is no package scope: say that these .js files are ES modules.
    await writeFile(join(outDir, 'package.json'), '{ "type": "module" }\n');
    await writeFile(stampFile, stamp);
    return main;
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

async function acquireLock(): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await mkdir(lockDir);
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // A lock older than two minutes belongs to a run that died.
      const age = Date.now() - (await stat(lockDir).then((s) => s.mtimeMs, () => Date.now()));
      if (age > 120_000) await rm(lockDir, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

async function sourcesStamp(): Promise<string> {
  const hash = createHash('sha256');
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else hash.update(`${path}\0${await readFile(path, 'utf8')}\0`);
    }
  };
  await walk(join(repoRoot, 'src'));
  hash.update(await readFile(join(repoRoot, 'tsconfig.json'), 'utf8'));
  return hash.digest('hex');
}
