/**
 * Reads a file that a download is still writing. The download's sink writes its batches in
 * order, so the file is a prefix of the video at every moment: any byte below the current
 * size is final. A read past that size waits (polling the size) until the bytes are there,
 * the file reached its expected total, or the follower was stopped.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

const POLL_MS = 40;

export class FollowStopped extends Error {
  constructor() {
    super('stopped following the download');
    this.name = 'FollowStopped';
  }
}

export class GrowingFile {
  private stopped = false;

  private constructor(
    private readonly file: FileHandle,
    /** The size the file will have when the download is complete. */
    readonly total: number,
  ) {}

  static async open(path: string, total: number): Promise<GrowingFile> {
    return new GrowingFile(await open(path, 'r'), total);
  }

  /** Waits until the file holds `position + length` bytes (or `total`), then reads them. */
  async readAt(position: number, length: number): Promise<Buffer> {
    const end = Math.min(this.total, position + length);
    await this.waitFor(end);
    const buffer = Buffer.allocUnsafe(Math.max(0, end - position));
    let done = 0;
    while (done < buffer.length) {
      const { bytesRead } = await this.file.read(buffer, done, buffer.length - done, position + done);
      if (bytesRead === 0) throw new Error(`the download shrank below ${position + done} bytes`);
      done += bytesRead;
    }
    return buffer;
  }

  /** Resolves once the file holds at least `size` bytes. */
  async waitFor(size: number): Promise<void> {
    for (;;) {
      if (this.stopped) throw new FollowStopped();
      if ((await this.file.stat()).size >= size) return;
      await sleep(POLL_MS);
    }
  }

  /** Makes every waiting and later read fail with FollowStopped (the download failed, or the player left). */
  stop(): void {
    this.stopped = true;
  }

  async close(): Promise<void> {
    this.stop();
    await this.file.close().catch(() => undefined);
  }
}
