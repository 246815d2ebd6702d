/**
 * The hashing worker threads, shared by every transfer that uses the pool: a transfer's
 * batches are hashed off the thread that reads its socket, which would otherwise halve its speed.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { onSlotDropped, type Slot } from './hash-slots.js';

/** Where batches are hashed, in the order given: `done` is called once the slot is no longer read. */
export interface BatchHasher {
  readonly failure?: Error;
  update(slot: Slot, length: number, done: () => void): void;
  digest(): Promise<string>;
  /** Drops the hash; resolves once no slot is read any more. */
  cancel(): Promise<void>;
}

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

  async terminate(): Promise<void> {
    await this.worker?.terminate();
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

/** `size` workers, started on first use; a new job goes to the one with the fewest jobs. */
export class HashPool {
  private readonly workers: HashWorker[];
  private nextId = 1;
  private readonly stopListening: () => void;

  constructor(size: number) {
    this.workers = Array.from({ length: size }, () => new HashWorker());
    this.stopListening = onSlotDropped((index) => {
      for (const worker of this.workers) worker.forgetSlot(index);
    });
  }

  get size(): number {
    return this.workers.length;
  }

  /** How many hashes this pool has been given, so far. */
  get jobsStarted(): number {
    return this.nextId - 1;
  }

  start(): BatchHasher {
    const worker = this.workers.reduce((best, w) => (w.load < best.load ? w : best));
    return worker.start(this.nextId++);
  }

  /** Stops the threads (a pool made for a test); running hashes fail. */
  async close(): Promise<void> {
    this.stopListening();
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

let sharedPool: HashPool | undefined;

/** The process's pool: one worker per core beyond the first (the socket thread's); none on a single core. */
export function defaultHashPool(): HashPool {
  return (sharedPool ??= new HashPool(Math.max(0, availableParallelism() - 1)));
}
