/**
 * Where video bytes live. Stored names are generated here, never taken from a client, so
 * a file name like `../../etc/passwd` is only ever a display name. Uploads are written under
 * `.incoming/` (same file system, so the final rename is atomic) and become visible only
 * once verified; a crash leaves at most a temp file, never a half video under a real name.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, stat, truncate, unlink } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { openFileSink, type Sha256Sink } from '../transfer/sha256-sink.js';

const STORED_NAME = /^[0-9a-f-]{36}(\.[a-z0-9]{1,10})?$/;
const TEMP_NAME = /^[0-9a-f-]{36}\.part$/;

/**
 * Opens a file under .incoming for writing from byte `start` (0 = create or truncate), behind
 * a sink that writes and hashes (off-thread when large: see sha256-sink.ts).
 */
export type OpenUpload = (path: string, options: { start: number; expectedBytes: number }) => Promise<Sha256Sink>;

export interface MediaStoreOptions {
  /** How upload bytes reach the disk; tests replace it to simulate a slow or full disk. */
  openUpload?: OpenUpload;
}

export class MediaStore {
  readonly root: string;
  readonly incomingDir: string;
  openUpload: OpenUpload;

  constructor(mediaDir: string, options: MediaStoreOptions = {}) {
    this.root = resolve(mediaDir);
    this.incomingDir = join(this.root, '.incoming');
    this.openUpload = options.openUpload ?? openFileSink;
  }

  async init(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
  }

  /** A fresh temp path for an upload in progress. */
  incomingPath(): string {
    return this.incomingPathOf(this.newTempName());
  }

  /** A fresh name under .incoming (kept in the upload row, so any node finds the partial). */
  newTempName(): string {
    return `${randomUUID()}.part`;
  }

  /** The path of a temp name from the database; refuses anything that is not ours. */
  incomingPathOf(tempName: string): string {
    if (!TEMP_NAME.test(tempName)) throw new Error(`not an incoming temp name: ${JSON.stringify(tempName)}`);
    return join(this.incomingDir, tempName);
  }

  /** Bytes in a file, 0 when it does not exist. */
  async sizeOf(path: string): Promise<number> {
    try {
      return (await stat(path)).size;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw error;
    }
  }

  /** Cuts a partial back to `length` bytes (a resume that starts earlier than the bytes held). */
  async truncateTo(path: string, length: number): Promise<void> {
    await truncate(path, length);
  }

  /** The temp files under .incoming with their last change, for the expiry sweep. */
  async listIncoming(): Promise<{ name: string; mtimeMs: number }[]> {
    const names = (await readdir(this.incomingDir)).filter((name) => TEMP_NAME.test(name));
    const found = await Promise.all(
      names.map(async (name) => {
        const info = await stat(join(this.incomingDir, name)).catch(() => undefined);
        return info && { name, mtimeMs: info.mtimeMs };
      }),
    );
    return found.filter((entry) => entry !== undefined);
  }

  /** A new stored name; keeps a short, safe extension of the display name for operators. */
  newStoredName(displayName: string): string {
    const ext = extname(basename(displayName)).toLowerCase();
    return randomUUID() + (/^\.[a-z0-9]{1,10}$/.test(ext) ? ext : '');
  }

  /** The absolute path of a stored name from the database; refuses anything that is not ours. */
  pathOf(storedName: string): string {
    if (!STORED_NAME.test(storedName)) throw new Error(`not a stored media name: ${JSON.stringify(storedName)}`);
    return join(this.root, storedName);
  }

  async publish(tempPath: string, storedName: string): Promise<string> {
    const target = this.pathOf(storedName);
    await rename(tempPath, target);
    return target;
  }

  async discard(path: string): Promise<void> {
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}
