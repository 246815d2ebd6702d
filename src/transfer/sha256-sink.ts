/**
 * Where the bytes of a transfer go: optionally a file, always a SHA-256. Full 1 MiB batches
 * are written in order (so the file is always a prefix of the transfer) and hashed at once,
 * off the socket's thread for large transfers; `write` returns false past the transfer's
 * share of memory, so a slow disk or hash slows the transfer instead of growing memory.
 */
import { createHash } from 'node:crypto';
import { write as fsWrite } from 'node:fs';
import { open } from 'node:fs/promises';
import { defaultHashPool, type BatchHasher, type HashPool } from './hash-pool.js';
import { BATCH_BYTES, releaseSlot, takeSlot, type Slot } from './hash-slots.js';

/** Transfers at least this large go to a worker thread (a worker round trip costs more than hashing a few megabytes). */
export const OFF_THREAD_MIN_BYTES = 8 * 1024 * 1024;
/** Bytes one transfer may have queued for writing and hashing... */
const IN_FLIGHT_LIMIT = 8 * 1024 * 1024;
/** ...and all running transfers together, so memory stays flat however many run: each gets a share, at least one batch. */
const IN_FLIGHT_BUDGET = 64 * 1024 * 1024;
let runningSinks = 0;

function inFlightShare(): number {
  return Math.max(BATCH_BYTES, Math.min(IN_FLIGHT_LIMIT, Math.floor(IN_FLIGHT_BUDGET / Math.max(1, runningSinks))));
}

export interface Sha256Sink {
  /** Adds bytes (copied; the caller may reuse the chunk). False: await drained() before adding more. */
  write(chunk: Uint8Array): boolean;
  /** Like write, but only hashes: for bytes already in the file before its start position (a resume). Give them first. */
  hashOnly(chunk: Uint8Array): boolean;
  /** Resolves once the queued bytes are back under the limit; rejects with a write error. */
  drained(): Promise<void>;
  /** Writes what is queued and resolves the hex SHA-256 of every byte given; rejects with the first write error (its `code`, e.g. ENOSPC, kept). */
  finish(): Promise<string>;
  /**
   * Ends a transfer that was cut: writes what was given so far (a resume continues after it)
   * and resolves once no thread touches the file any more. Never rejects; safe after finish.
   * `dropQueued`: write nothing more (someone else owns the file now, or it is to be deleted).
   */
  close(options?: { dropQueued?: boolean }): Promise<void>;
  /**
   * The file's length up to which every byte given has been written, after making those
   * bytes durable (fdatasync, when the file sink was opened with `sync`). A record of
   * progress may claim this much and no more.
   */
  syncedLength(): Promise<number>;
}

export interface Sha256SinkOptions {
  /** About how many bytes will come: decides between in place and off-thread. */
  expectedBytes: number;
  /** Also write the bytes to this open file descriptor, from `position` on. */
  file?: { fd: number; position: number };
  /** The hashing threads for a large transfer (default: the process's pool); a pool of size 0 hashes in place. */
  pool?: HashPool;
}

export function createSha256Sink(options: Sha256SinkOptions): Sha256Sink & { readonly writtenTo: number } {
  const pool = options.pool ?? defaultHashPool();
  const offThread = options.expectedBytes >= OFF_THREAD_MIN_BYTES && pool.size > 0;
  return new TransferSink(offThread ? pool.start() : new InPlaceHasher(), options.file);
}

export interface FileSinkOptions {
  /** 0 = create or truncate the file; else keep its first `start` bytes and write after them. */
  start: number;
  expectedBytes: number;
  /**
   * Makes the written bytes durable (e.g. fdatasync): called before `finish` resolves, before
   * `close` closes the file, and by `syncedLength`. Unset: nothing is synced.
   */
  sync?: (fd: number) => Promise<void>;
  /**
   * With `sync`: also start a sync in the background every this many bytes written, so the
   * disk writes back while bytes still arrive and the last sync has little left to do.
   */
  syncEveryBytes?: number;
  /** The hashing threads (default: the process's pool). */
  pool?: HashPool;
}

/**
 * Opens `path` for writing from `start` (a new file when 0, else the existing one, kept up
 * to `start`) behind a sink that writes and hashes; finish and close also close the file.
 */
export async function openFileSink(path: string, options: FileSinkOptions): Promise<Sha256Sink> {
  const handle = await open(path, options.start > 0 ? 'r+' : 'w');
  const sink = createSha256Sink({ expectedBytes: options.expectedBytes, file: { fd: handle.fd, position: options.start }, pool: options.pool });
  const sync = options.sync ?? (() => Promise.resolve());
  let closing: Promise<void> | undefined;
  const closeFile = () => (closing ??= handle.close().catch(() => undefined));
  let syncs: Promise<unknown> = Promise.resolve();
  /** Syncs run one at a time and never after the file is closed. */
  const syncedLength = (): Promise<number> => {
    const next = syncs.then(async () => {
      if (closing) return sink.writtenTo;
      const length = sink.writtenTo; // read before the sync: the sync covers at least this much
      await sync(handle.fd);
      return length;
    });
    syncs = next.catch(() => undefined);
    return next;
  };
  let kicked = options.start;
  const every = options.sync && options.syncEveryBytes ? options.syncEveryBytes : 0;
  const write = (chunk: Uint8Array) => {
    const more = sink.write(chunk);
    if (every > 0 && sink.writtenTo - kicked >= every) {
      kicked = sink.writtenTo;
      syncedLength().catch(() => undefined); // a failure shows again at the final sync
    }
    return more;
  };
  return {
    write,
    hashOnly: (chunk) => sink.hashOnly(chunk),
    drained: () => sink.drained(),
    // The digest is handed out (and may be acknowledged) only once the bytes are durable.
    finish: () =>
      sink
        .finish()
        .then(async (digest) => (await syncedLength(), digest))
        .finally(closeFile),
    // A cut upload's bytes are synced too: its row is then updated from the file's size
    // (not when dropping: the file is someone else's now, or about to be deleted).
    close: (closeOptions) =>
      sink
        .close(closeOptions)
        .then(() => (closeOptions?.dropQueued ? undefined : syncedLength()))
        .catch(() => undefined)
        .then(closeFile),
    syncedLength,
  };
}

class InPlaceHasher implements BatchHasher {
  private readonly hash = createHash('sha256');

  update(slot: Slot, length: number, done: () => void): void {
    this.hash.update(slot.bytes.subarray(0, length));
    done();
  }

  digest(): Promise<string> {
    return Promise.resolve(this.hash.digest('hex'));
  }

  cancel(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Copies chunks into slots; each full slot is written (if there is a file, in order) and
 * hashed (in order) at the same time. `queued` counts the bytes between `write` and the
 * moment their slot is free again.
 */
class TransferSink implements Sha256Sink {
  private slot?: Slot;
  private filled = 0;
  /** Whether the bytes in the current slot are only to be hashed (a slot never mixes both). */
  private slotHashOnly = false;
  private closed = false;
  private ended = false;
  private writes: Promise<void> = Promise.resolve();
  private hashing = 0;
  private queued = 0;
  private waiters: (() => void)[] = [];
  private failure?: Error;
  private dropping = false;
  /** close() was called before finish(): nothing more is hashed. */
  private cut = false;
  /**
   * The first batch, until it is full: a plain buffer as large as what came, so a transfer
   * that sends a few bytes and stalls holds those bytes, not a 1 MiB slot (200 stalled
   * uploads held 200 MiB that way, and the allocator kept it after they were cut).
   */
  private staged?: Buffer;
  private posted = 0;
  private written: number;

  constructor(
    private readonly hasher: BatchHasher,
    private readonly file?: { fd: number; position: number },
  ) {
    runningSinks++;
    this.written = file?.position ?? 0;
  }

  write(chunk: Uint8Array): boolean {
    return this.add(chunk, false);
  }

  hashOnly(chunk: Uint8Array): boolean {
    return this.add(chunk, true);
  }

  async drained(): Promise<void> {
    while (this.queued > inFlightShare()) {
      this.throwIfFailed();
      await this.change();
    }
    this.throwIfFailed();
  }

  async finish(): Promise<string> {
    this.end();
    await this.settledAll();
    if (this.failed) {
      await this.hasher.cancel();
      this.throwIfFailed();
    }
    return this.hasher.digest();
  }

  /** The file position up to which the writes have completed (a prefix: writes run in order). */
  get writtenTo(): number {
    return this.written;
  }

  async syncedLength(): Promise<number> {
    return this.written;
  }

  async close(options: { dropQueued?: boolean } = {}): Promise<void> {
    if (options.dropQueued) {
      this.dropping = true;
      this.closed = true;
    }
    // Cut: its hash is dropped, so the last partial batch goes to the file only. Sent to a
    // hashing thread, that thread's view of the batch would be freed only at its next GC,
    // which an idle worker may never run: rounds of stalled uploads grew RSS for good.
    this.cut = true;
    this.end();
    await this.settledAll();
    await this.hasher.cancel();
  }

  private get failed(): boolean {
    return this.dropping || (this.failure ?? this.hasher.failure) !== undefined;
  }

  private throwIfFailed(): void {
    const failure = this.failure ?? this.hasher.failure;
    if (failure) throw failure;
  }

  private add(chunk: Uint8Array, hashOnly: boolean): boolean {
    if (this.closed) throw new Error('the transfer sink is already finished');
    this.throwIfFailed();
    if (hashOnly !== this.slotHashOnly) {
      this.flush();
      this.slotHashOnly = hashOnly;
    }
    for (let at = 0; at < chunk.length; ) {
      const n = Math.min(chunk.length - at, BATCH_BYTES - this.filled);
      const piece = chunk.subarray(at, at + n);
      if (this.slot === undefined && this.posted === 0) this.stage(piece);
      else (this.slot ??= takeSlot()).bytes.set(piece, this.filled);
      this.filled += n;
      at += n;
      if (this.filled === BATCH_BYTES) this.flush();
    }
    return this.queued <= inFlightShare();
  }

  /** Appends to the first batch, growing its buffer by doubling (16 KiB up to a batch). */
  private stage(piece: Uint8Array): void {
    const needed = this.filled + piece.length;
    if (!this.staged || this.staged.length < needed) {
      let capacity = Math.max(16 * 1024, this.staged?.length ?? 0);
      while (capacity < needed) capacity *= 2;
      const grown = Buffer.allocUnsafeSlow(Math.min(capacity, BATCH_BYTES));
      this.staged?.copy(grown, 0, 0, this.filled);
      this.staged = grown;
    }
    this.staged.set(piece, this.filled);
  }

  /** No more bytes: the partial slot goes out (once). */
  private end(): void {
    if (!this.closed) this.flush();
    if (!this.ended) runningSinks--;
    this.ended = true;
    this.closed = true;
    if (this.slot) releaseSlot(this.slot);
    this.slot = undefined;
    this.staged = undefined;
  }

  private flush(): void {
    if (this.filled === 0) return;
    if (!this.slot && this.staged) {
      this.slot = takeSlot();
      this.slot.bytes.set(this.staged.subarray(0, this.filled));
      this.staged = undefined;
    }
    if (!this.slot) return;
    const slot = this.slot;
    const length = this.filled;
    this.slot = undefined;
    this.filled = 0;
    this.post(slot, length, this.slotHashOnly || !this.file);
  }

  /** Hands a slot to the hasher now and to the file after the writes before it; frees it when both are done. */
  private post(slot: Slot, length: number, hashOnly: boolean): void {
    this.posted++;
    this.queued += length;
    const hash = !this.cut;
    let users = (hash ? 1 : 0) + (hashOnly ? 0 : 1);
    const release = () => {
      if (--users > 0) return;
      releaseSlot(slot);
      this.queued -= length;
      this.wake();
    };
    if (this.failed || users === 0) {
      users = 1;
      return release();
    }
    if (hash) {
      this.hashing++;
      this.hasher.update(slot, length, () => {
        this.hashing--;
        release();
      });
    }
    if (hashOnly) return;
    const file = this.file!;
    const position = file.position;
    file.position += length;
    this.writes = this.writes.then(async () => {
      try {
        if (!this.failed) {
          await writeFully(file.fd, slot.bytes.subarray(0, length), position);
          this.written = position + length;
        }
      } catch (error) {
        this.failure ??= error as Error;
      }
      release();
    });
  }

  /** Resolves at the next release of a slot. */
  private change(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Every write done and every slot hashed (or dropped). */
  private async settledAll(): Promise<void> {
    await this.writes;
    while (this.hashing > 0 && !this.hasher.failure) await this.change();
  }
}

function writeFully(fd: number, bytes: Uint8Array, position: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const step = (offset: number) =>
      fsWrite(fd, bytes, offset, bytes.length - offset, position + offset, (error, written) => {
        if (error) return reject(error);
        if (offset + written < bytes.length) step(offset + written);
        else resolve();
      });
    step(0);
  });
}
