/** What the transfer tests share: hashes, throttled or failing server disks, waiting, a client process. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { OpenWrite } from '../../src/server/media-store.js';

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
export const fileSha256 = async (path: string) => sha256(await readFile(path));
export const MiB = 1024 * 1024;

/** Polls `check` every 20 ms until it is truthy; fails after `timeoutMs`. */
export async function waitFor<T>(check: () => Promise<T> | T, what: string, timeoutMs = 10_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A disk that writes really but slowly (each chunk waits `delayMs` first), so a transfer is
 * still running when a test cuts it. The writer applies backpressure like a real file.
 */
export function slowDisk(delayMs: number): OpenWrite {
  return (path, options) => wrap(path, options, (chunk, write) => setTimeout(() => write(chunk), delayMs));
}

/** A disk that fills up after `capacity` bytes: writes then fail with ENOSPC, as a full file system does. */
export function diskFullAfter(capacity: number): OpenWrite {
  let left = capacity;
  return (path, options) =>
    wrap(path, options, (chunk, write, fail) => {
      const fits = chunk.subarray(0, Math.max(0, left));
      left -= fits.length;
      if (fits.length === chunk.length) return write(chunk);
      const enospc = Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC', errno: -28, syscall: 'write' });
      if (fits.length === 0) return fail(enospc);
      write(fits, enospc);
    });
}

type Step = (chunk: Buffer, write: (bytes: Buffer, then?: Error) => void, fail: (error: Error) => void) => void;

/** A Writable over a real file stream whose every chunk goes through `step`. */
function wrap(path: string, options: { start: number }, step: Step): Writable {
  const file = createWriteStream(path, { flags: options.start > 0 ? 'r+' : 'w', start: options.start });
  return new Writable({
    highWaterMark: 256 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      step(
        chunk,
        (bytes, then) => file.write(bytes, (error) => callback(error ?? then)),
        (error) => callback(error),
      );
    },
    final(callback) {
      file.end(callback);
    },
    destroy(error, callback) {
      if (file.closed) return callback(error);
      file.once('close', () => callback(error));
      file.destroy();
    },
  });
}

/**
 * The client of test/transfers/fixtures/child-client.ts, compiled once per test file (tsc,
 * no type check) into node_modules/.cache so it resolves the project's dependencies.
 */
export async function buildChildClient(): Promise<{ script: string; remove(): Promise<void> }> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const cache = join(root, 'node_modules/.cache');
  await mkdir(cache, { recursive: true });
  const dir = await mkdtemp(join(cache, 'cinebox-child-'));
  const config = {
    extends: join(root, 'tsconfig.json'),
    compilerOptions: { noCheck: true, noEmit: false, sourceMap: false, rootDir: root, outDir: join(dir, 'out') },
    files: [join(root, 'test/transfers/fixtures/child-client.ts')],
    include: [],
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
  await promisify(execFile)(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(dir, 'tsconfig.json')]);
  return {
    script: join(dir, 'out/test/transfers/fixtures/child-client.js'),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

export interface ChildRun {
  child: ChildProcess;
  /** Resolves once the child is past its `stopAt` bytes and hangs, never to finish. */
  hung(): Promise<void>;
  /** SIGKILLs the child and waits for it to be gone. */
  kill(): Promise<void>;
}

/** Starts the child client; once past `stopAt` bytes (and, downloading, with bytes in its .part) it hangs. */
export function runChild(script: string, args: string[], stopAt: number): ChildRun {
  const child = spawn(process.execPath, [script, ...args], { env: { ...process.env, CHILD_STOP_AT: String(stopAt) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const hung = new Promise<void>((resolve, reject) => {
    let stdout = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (/^hung$/m.test(stdout)) resolve();
    });
    void exited.then(() => reject(new Error(`the child exited before it hung: ${stdout.slice(-500)} ${output}`)));
  });
  hung.catch(() => undefined);
  return {
    child,
    hung: () => hung,
    kill: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
