/** What the transfer tests share: hashes, throttled or failing server disks, waiting, a client process. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { openFileSink, type Sha256Sink } from '../../src/transfer/sha256-sink.js';
import type { OpenUpload } from '../../src/server/media-store.js';

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
 * A disk that writes really but slowly (each chunk waits `delayMs` before it is handed on),
 * so a transfer is still running when a test cuts it. The wait is backpressure, as a slow
 * real disk gives.
 */
export function slowDisk(delayMs: number): OpenUpload {
  return async (path, options) => {
    const real = await openFileSink(path, options);
    return { ...real, ...delayed(real, delayMs) };
  };
}

/** write() that keeps each chunk for `delayMs` and hands it to `real`; drained() waits for that. */
function delayed(real: Sha256Sink, delayMs: number): Pick<Sha256Sink, 'write' | 'drained'> {
  let pending: Promise<void> = Promise.resolve();
  return {
    write(chunk) {
      const copy = Buffer.from(chunk);
      pending = pending.then(() => new Promise<void>((resolve) => setTimeout(resolve, delayMs))).then(() => {
        if (!real.write(copy)) return real.drained();
      });
      return false;
    },
    drained: () => pending,
  };
}

/** A disk that fills up after `capacity` bytes: the write that crosses it stores what fits, then fails with ENOSPC. */
export function diskFullAfter(capacity: number): OpenUpload {
  let left = capacity;
  return async (path, options) => {
    const real = await openFileSink(path, options);
    let full: Error | undefined;
    return {
      ...real,
      write(chunk) {
        if (full) throw full;
        const fits = chunk.subarray(0, Math.max(0, left));
        left -= fits.length;
        if (fits.length > 0) real.write(fits);
        if (fits.length === chunk.length) return true;
        full = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
        throw full;
      },
    };
  };
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
