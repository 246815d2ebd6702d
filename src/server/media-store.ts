/**
 * Where video bytes live. Stored names are generated here, never taken from a client, so
 * a file name like `../../etc/passwd` is only ever a display name. Uploads are written under
 * `.incoming/` (same file system, so the final rename is atomic) and become visible only
 * once verified; a crash leaves at most a temp file, never a half video under a real name.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, rename, unlink } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';

const STORED_NAME = /^[0-9a-f-]{36}(\.[a-z0-9]{1,10})?$/;

export class MediaStore {
  readonly root: string;
  readonly incomingDir: string;

  constructor(mediaDir: string) {
    this.root = resolve(mediaDir);
    this.incomingDir = join(this.root, '.incoming');
  }

  async init(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
  }

  /** A fresh temp path for an upload in progress. */
  incomingPath(): string {
    return join(this.incomingDir, `${randomUUID()}.part`);
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
