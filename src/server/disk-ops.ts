/**
 * The file-system calls whose order decides what survives a power cut: rename, fdatasync of
 * a file, fsync of a directory. The media store makes them only through this object, so a
 * test can record their order (test/crash/order.test.ts) and `--durable false` can skip the
 * syncs (benchmarks, throwaway servers: a process crash stays safe, a power cut may not).
 */
import { fdatasync } from 'node:fs';
import { open, rename } from 'node:fs/promises';

export interface DiskOps {
  rename(from: string, to: string): Promise<void>;
  /** Makes a file's written bytes durable (open descriptor); `path` names it for the record. */
  syncFile(fd: number, path: string): Promise<void>;
  /** Makes a directory's entries (a rename into it) durable. */
  syncDir(path: string): Promise<void>;
}

export function diskOps(durable: boolean): DiskOps {
  return {
    rename: (from, to) => rename(from, to),
    syncFile: (fd) => (durable ? fdatasyncAsync(fd) : Promise.resolve()),
    syncDir: (path) => (durable ? fsyncDirectory(path) : Promise.resolve()),
  };
}

function fdatasyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

/** fsync on a directory opened read-only: how POSIX makes a new or renamed entry durable. */
async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
