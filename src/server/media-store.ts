/**
 * Where video bytes live. Stored names are generated here, never taken from a client, so
 * a file name like `../../etc/passwd` is only ever a display name. Uploads are written under
 * `.incoming/` (same file system, so the final rename is atomic) and become visible only
 * once verified; a crash leaves at most a temp file, never a half video under a real name.
 *
 * A video's stored name keeps the UUID of the partial it was published from
 * (`.incoming/U.part` becomes `U.mp4`), so after a crash between the rename and the commit a
 * restart knows which upload row a file without a movie row belongs to (fsck/check-store.ts).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, stat, truncate, unlink } from 'node:fs/promises';
import { basename, extname, join, resolve } from 'node:path';
import { openFileSink, type FileSinkOptions, type Sha256Sink } from '../transfer/sha256-sink.js';
import { diskOps, type DiskOps } from './disk-ops.js';

/** Uploads are synced in the background every so many bytes, so the final fdatasync is short (RocksDB's bytes_per_sync). */
const SYNC_EVERY_BYTES = 32 * 1024 * 1024;
const STORED_NAME = /^([0-9a-f-]{36})(\.[a-z0-9]{1,10})?$/;
/** A resumable upload's partial: always named by an `upload` row while it lives. */
const TEMP_NAME = /^([0-9a-f-]{36})\.part$/;
/** An original client's upload in progress (no row, not resumable): swept after the expiry time. */
const LEGACY_TEMP_NAME = /^([0-9a-f-]{36})\.tmp$/;

/**
 * Opens a file under .incoming for writing from byte `start` (0 = create or truncate), behind
 * a sink that writes and hashes (off-thread when large: see sha256-sink.ts).
 */
export type OpenUpload = (path: string, options: FileSinkOptions) => Promise<Sha256Sink>;

export interface MediaStoreOptions {
  /** How upload bytes reach the disk; tests replace it to simulate a slow or full disk. */
  openUpload?: OpenUpload;
  /** false: no fdatasync/fsync (see disk-ops.ts). Default true. */
  durable?: boolean;
}

export class MediaStore {
  readonly root: string;
  readonly incomingDir: string;
  /** Where fsck --repair moves a corrupted or unknown file (never deleted, never served). */
  readonly quarantineDir: string;
  openUpload: OpenUpload;
  /** Every rename and sync goes through this; tests replace it to record the order. */
  disk: DiskOps;

  constructor(mediaDir: string, options: MediaStoreOptions = {}) {
    this.root = resolve(mediaDir);
    this.incomingDir = join(this.root, '.incoming');
    this.quarantineDir = join(this.root, '.quarantine');
    this.openUpload = options.openUpload ?? openFileSink;
    this.disk = diskOps(options.durable ?? true);
  }

  async init(): Promise<void> {
    await mkdir(this.incomingDir, { recursive: true });
  }

  /** Opens a partial for writing; its bytes are made durable when finished, closed, or asked (syncedLength). */
  openPartial(path: string, options: { start: number; expectedBytes: number }): Promise<Sha256Sink> {
    return this.openUpload(path, { ...options, sync: (fd) => this.disk.syncFile(fd, path), syncEveryBytes: SYNC_EVERY_BYTES });
  }

  /** A fresh temp path for an original client's upload in progress (no upload row names it). */
  legacyIncomingPath(): string {
    return join(this.incomingDir, `${randomUUID()}.tmp`);
  }

  /** The upload-row temp name that stands for a temp path while it is published (the same UUID). */
  tempNameOf(tempPath: string): string {
    const name = basename(tempPath);
    const uuid = TEMP_NAME.exec(name)?.[1] ?? LEGACY_TEMP_NAME.exec(name)?.[1];
    if (!uuid) throw new Error(`not an incoming temp file: ${JSON.stringify(name)}`);
    return `${uuid}.part`;
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

  /**
   * The temp files under .incoming with their size and last change; `legacy`: an original
   * client's upload (no row), else a resumable upload's partial.
   */
  async listIncoming(): Promise<{ name: string; size: number; mtimeMs: number; legacy: boolean }[]> {
    const names = (await readdir(this.incomingDir)).filter((name) => TEMP_NAME.test(name) || LEGACY_TEMP_NAME.test(name));
    const found = await Promise.all(
      names.map(async (name) => {
        const info = await stat(join(this.incomingDir, name)).catch(() => undefined);
        return info && { name, size: info.size, mtimeMs: info.mtimeMs, legacy: LEGACY_TEMP_NAME.test(name) };
      }),
    );
    return found.filter((entry) => entry !== undefined);
  }

  /** The video files of the store (stored names only: .incoming, .quarantine and strangers are skipped) with their size. */
  async listStored(): Promise<{ name: string; size: number }[]> {
    const entries = await readdir(this.root, { withFileTypes: true });
    const names = entries.filter((entry) => entry.isFile() && STORED_NAME.test(entry.name)).map((entry) => entry.name);
    const found = await Promise.all(
      names.map(async (name) => {
        const info = await stat(join(this.root, name)).catch(() => undefined);
        return info && { name, size: info.size };
      }),
    );
    return found.filter((entry) => entry !== undefined);
  }

  /** The stored name a partial becomes: its UUID, and a short, safe extension of the display name for operators. */
  storedNameFor(tempName: string, displayName: string): string {
    const uuid = TEMP_NAME.exec(tempName)?.[1];
    if (!uuid) throw new Error(`not an incoming temp name: ${JSON.stringify(tempName)}`);
    const ext = extname(basename(displayName)).toLowerCase();
    return uuid + (/^\.[a-z0-9]{1,10}$/.test(ext) ? ext : '');
  }

  /** Stored files published from this partial (normally none: a crash cut their publish), with their size. */
  async storedFromTemp(tempName: string): Promise<{ name: string; size: number }[]> {
    const uuid = TEMP_NAME.exec(tempName)?.[1];
    if (!uuid) return [];
    const names = (await readdir(this.root)).filter((name) => name.startsWith(uuid) && STORED_NAME.exec(name)?.[1] === uuid);
    const found = await Promise.all(names.map(async (name) => ({ name, size: await this.sizeOf(join(this.root, name)) })));
    return found;
  }

  /** The temp name of the partial a stored name was published from. */
  tempNameForStored(storedName: string): string {
    const uuid = STORED_NAME.exec(storedName)?.[1];
    if (!uuid) throw new Error(`not a stored media name: ${JSON.stringify(storedName)}`);
    return `${uuid}.part`;
  }

  /** The absolute path of a stored name from the database; refuses anything that is not ours. */
  pathOf(storedName: string): string {
    if (!STORED_NAME.test(storedName)) throw new Error(`not a stored media name: ${JSON.stringify(storedName)}`);
    return join(this.root, storedName);
  }

  /** Renames a verified partial into the store (not yet durable: see syncStore). */
  async moveIntoStore(tempPath: string, storedName: string): Promise<string> {
    const target = this.pathOf(storedName);
    await this.disk.rename(tempPath, target);
    return target;
  }

  /** Makes renames into the store durable (fsync of the media directory). */
  async syncStore(): Promise<void> {
    await this.disk.syncDir(this.root);
  }

  /** Puts a file no movie row names back as its upload's partial (a publish a crash cut short). */
  async moveBackToIncoming(storedName: string, tempName: string): Promise<void> {
    await this.disk.rename(this.pathOf(storedName), this.incomingPathOf(tempName));
    await this.disk.syncDir(this.incomingDir);
    await this.disk.syncDir(this.root);
  }

  /** Moves a file out of the store into .quarantine (kept for the operator, never served or swept). */
  async quarantine(path: string): Promise<string> {
    await mkdir(this.quarantineDir, { recursive: true });
    const target = join(this.quarantineDir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${basename(path)}`);
    await this.disk.rename(path, target);
    await this.disk.syncDir(this.quarantineDir);
    return target;
  }

  async discard(path: string): Promise<void> {
    await unlink(path).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
  }
}

/** The write failed because the disk (or the user's disk quota) is full. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
