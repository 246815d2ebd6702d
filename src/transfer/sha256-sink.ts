/**
 * Where the bytes of a transfer go: optionally a file, always a SHA-256 — with the work done
 * off the socket's thread for large transfers.
 *
 * Hashing runs at about the speed of the loopback pipe itself, so a transfer that hashes
 * on the thread that reads its socket moves at half speed. The socket thread therefore only
 * copies each chunk into a 1 MiB batch, a slot of shared memory. A full batch is at once
 * written at its file position by Node's thread pool (one write per megabyte, in order, so
 * the file is always a prefix of the transfer) and hashed by a worker thread that reads the
 * same slot; the slot is reused once both are done. Nothing is allocated or transferred
 * per batch: the worker is told a slot number and a length. The hashing workers, one per
 * spare core, are shared by every transfer of the process. Small transfers, and machines
 * without a spare core, hash in place: a worker round trip costs more than hashing a few
 * megabytes.
 *
 * Backpressure: `write` returns false once more than the transfer's share of bytes wait to be
 * written and hashed; the caller awaits `drained()` before reading more, so a slow disk or
 * hash slows the transfer instead of growing memory.
 */
import { createHash } from 'node:crypto';
import { write as fsWrite } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

/** Transfers at least this large go to a worker thread. */
export const OFF_THREAD_MIN_BYTES = 8 * 1024 * 1024;
const BATCH_BYTES = 1024 * 1024;
/** Bytes one transfer may have queued for writing and hashing... */
const IN_FLIGHT_LIMIT = 8 * 1024 * 1024;
/** ...and all running transfers together, so memory stays flat however many run: each gets a share, at least one batch. */
const IN_FLIGHT_BUDGET = 64 * 1024 * 1024;
let runningSinks = 0;

function inFlightShare(): number {
  return Math.max(BATCH_BYTES, Math.min(IN_FLIGHT_LIMIT, Math.floor(IN_FLIGHT_BUDGET / Math.max(1, runningSinks))));
}
/** Shared-memory slots kept for reuse after a burst of transfers (64 MiB). */
const MAX_SPARE_SLOTS = 64;

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
}

export function createSha256Sink(options: Sha256SinkOptions): Sha256Sink & { readonly writtenTo: number } {
  const offThread = options.expectedBytes >= OFF_THREAD_MIN_BYTES && pool.size > 0;
  return new TransferSink(offThread ? pool.start() : new InPlaceHasher(), options.file);
}

/** A batch: a slot of shared memory (so a worker can read it without a copy) and its number. */
interface Slot {
  readonly index: number;
  readonly memory: SharedArrayBuffer;
  readonly bytes: Uint8Array;
}

const spareSlots: Slot[] = [];
let slotsMade = 0;

function takeSlot(): Slot {
  const spare = spareSlots.pop();
  if (spare) return spare;
  const memory = new SharedArrayBuffer(BATCH_BYTES);
  return { index: slotsMade++, memory, bytes: new Uint8Array(memory) };
}

function releaseSlot(slot: Slot): void {
  if (spareSlots.length < MAX_SPARE_SLOTS) spareSlots.push(slot);
  else pool.forgetSlot(slot.index); // dropped: the workers let go of their views too
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
}

/**
 * Opens `path` for writing from `start` (a new file when 0, else the existing one, kept up
 * to `start`) behind a sink that writes and hashes; finish and close also close the file.
 */
export async function openFileSink(path: string, options: FileSinkOptions): Promise<Sha256Sink> {
  const handle = await open(path, options.start > 0 ? 'r+' : 'w');
  const sink = createSha256Sink({ expectedBytes: options.expectedBytes, file: { fd: handle.fd, position: options.start } });
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

/** Where batches are hashed, in the order given: `done` is called once the slot is no longer read. */
interface BatchHasher {
  readonly failure?: Error;
  update(slot: Slot, length: number, done: () => void): void;
  digest(): Promise<string>;
  /** Drops the hash; resolves once no slot is read any more. */
  cancel(): Promise<void>;
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
      this.slot ??= takeSlot();
      this.slot.bytes.set(chunk.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === BATCH_BYTES) this.flush();
    }
    return this.queued <= inFlightShare();
  }

  /** No more bytes: the partial slot goes out (once). */
  private end(): void {
    if (!this.closed) this.flush();
    if (!this.ended) runningSinks--;
    this.ended = true;
    this.closed = true;
    if (this.slot) releaseSlot(this.slot);
    this.slot = undefined;
  }

  private flush(): void {
    if (this.filled === 0 || !this.slot) return;
    const slot = this.slot;
    const length = this.filled;
    this.slot = undefined;
    this.filled = 0;
    this.post(slot, length, this.slotHashOnly || !this.file);
  }

  /** Hands a slot to the hasher now and to the file after the writes before it; frees it when both are done. */
  private post(slot: Slot, length: number, hashOnly: boolean): void {
    this.queued += length;
    let users = hashOnly ? 1 : 2;
    const release = () => {
      if (--users > 0) return;
      releaseSlot(slot);
      this.queued -= length;
      this.wake();
    };
    if (this.failed) {
      users = 1;
      return release();
    }
    this.hashing++;
    this.hasher.update(slot, length, () => {
      this.hashing--;
      release();
    });
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

// ---------------------------------------------------------------- worker pool

type ToWorker =
  | { id: number; slot: number; length: number; memory?: SharedArrayBuffer }
  | { id: number; end: true }
  | { id: number; cancel: true }
  | { forgetSlot: number };

type FromWorker = { id: number; hashed: number } | { id: number; digest: string } | { id: number; cancelled: true };

/**
 * The worker's whole program, as a string so it runs the same from dist/ and from the
 * TypeScript sources under vitest (a separate .js file would not exist next to a .ts one).
 * A slot's memory is sent the first time the worker sees that slot, then only its number.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
const slots = [];
parentPort.on('message', (m) => {
  if (m.forgetSlot !== undefined) return void (slots[m.forgetSlot] = undefined);
  if (m.cancel) {
    jobs.delete(m.id);
    return void parentPort.postMessage({ id: m.id, cancelled: true });
  }
  let hash = jobs.get(m.id);
  if (!hash) jobs.set(m.id, (hash = createHash('sha256')));
  if (m.slot !== undefined) {
    if (m.memory) slots[m.slot] = new Uint8Array(m.memory);
    hash.update(slots[m.slot].subarray(0, m.length));
    parentPort.postMessage({ id: m.id, hashed: m.slot });
  }
  if (m.end) {
    jobs.delete(m.id);
    parentPort.postMessage({ id: m.id, digest: hash.digest('hex') });
  }
});
`;

/** One transfer's hash on one worker. Slots are answered in the order they were sent. */
class Job implements BatchHasher {
  failure?: Error;
  private readonly pending: (() => void)[] = [];
  private result?: { resolve: (digest: string) => void; reject: (error: Error) => void };
  private cancelled?: () => void;

  constructor(
    readonly id: number,
    private readonly worker: HashWorker,
  ) {}

  update(slot: Slot, length: number, done: () => void): void {
    this.pending.push(done);
    this.worker.sendSlot(this.id, slot, length);
  }

  digest(): Promise<string> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.result = { resolve, reject };
      this.worker.post({ id: this.id, end: true });
    });
  }

  cancel(): Promise<void> {
    if (!this.worker.isRunning(this)) return Promise.resolve();
    return new Promise((resolve) => {
      this.cancelled = resolve;
      this.worker.post({ id: this.id, cancel: true });
    });
  }

  onMessage(message: FromWorker): void {
    if ('hashed' in message) {
      this.pending.shift()?.();
    } else if ('digest' in message) {
      this.worker.forget(this);
      this.result?.resolve(message.digest);
    } else {
      this.worker.forget(this);
      for (const done of this.pending.splice(0)) done();
      this.cancelled?.();
    }
  }

  /** The worker died: every wait ends, with this error where a result was due. */
  fail(error: Error): void {
    this.failure ??= error;
    for (const done of this.pending.splice(0)) done();
    this.result?.reject(this.failure);
    this.cancelled?.();
  }
}

/** A worker thread and the jobs it runs; it keeps the process alive only while it has jobs. */
class HashWorker {
  private worker?: Worker;
  private readonly jobs = new Map<number, Job>();
  /** Slots whose memory this worker has been sent. */
  private readonly knownSlots = new Set<number>();

  get load(): number {
    return this.jobs.size;
  }

  start(id: number): Job {
    const job = new Job(id, this);
    this.jobs.set(id, job);
    this.ensureRunning().ref();
    return job;
  }

  sendSlot(id: number, slot: Slot, length: number): void {
    const known = this.knownSlots.has(slot.index);
    this.post({ id, slot: slot.index, length, ...(known ? {} : { memory: slot.memory }) });
    this.knownSlots.add(slot.index);
  }

  forgetSlot(index: number): void {
    if (!this.knownSlots.delete(index)) return;
    this.post({ forgetSlot: index });
  }

  post(message: ToWorker): void {
    this.ensureRunning().postMessage(message);
  }

  isRunning(job: Job): boolean {
    return this.jobs.get(job.id) === job;
  }

  forget(job: Job): void {
    this.jobs.delete(job.id);
    if (this.jobs.size === 0) this.worker?.unref();
  }

  private ensureRunning(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (message: FromWorker) => this.jobs.get(message.id)?.onMessage(message));
    const lost = (error: Error) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.knownSlots.clear();
      const jobs = [...this.jobs.values()];
      this.jobs.clear();
      for (const job of jobs) job.fail(new Error(`the hashing thread stopped: ${error.message}`));
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`exit code ${code}`)));
    worker.unref();
    this.worker = worker;
    return worker;
  }
}

/** Workers start on first use; a new job goes to the one with the fewest jobs. */
class HashPool {
  private readonly workers: HashWorker[];
  private nextId = 1;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => new HashWorker());
  }

  get size(): number {
    return this.workers.length;
  }

  start(): Job {
    const worker = this.workers.reduce((best, w) => (w.load < best.load ? w : best));
    return worker.start(this.nextId++);
  }

  forgetSlot(index: number): void {
    for (const worker of this.workers) worker.forgetSlot(index);
  }
}

/** One worker per core beyond the first (the socket thread's); none on a single core. */
const pool = new HashPool(Math.max(0, availableParallelism() - 1));
