/**
 * The queue in front of scrypt, the one thing a stranger can make the server spend real
 * CPU and memory on (each hash is 16 MiB and ~50 ms at the default cost). It is bounded
 * (past `maxQueued` waiting, or `maxQueuedPerAddress` from one address, a request gets
 * BUSY at once), shared fairly (a freed slot goes to the next address in turn, not to the
 * next request, so one address flooding it delays others by at most one hash each), and a
 * job whose connection closed while it waited is dropped without hashing.
 */
import type { ServerConfig } from '../config.js';
import { ConnectionClosed } from '../connection-closed.js';
import { Busy } from '../errors.js';

export interface HashOwner {
  address: string;
  /** Aborts when the client is gone: the job leaves the queue. */
  signal?: AbortSignal;
}

export interface HashQueueLimits {
  /** Hashes running at once (see passwords.ts for why 2). */
  concurrency: number;
  maxQueued: number;
  maxQueuedPerAddress: number;
}

interface Job {
  start(): void;
}

export class HashQueue {
  private running = 0;
  private waiting = 0;
  /** Waiting jobs by address; the Map's order is the turn order (an address served goes to the back). */
  private readonly byAddress = new Map<string, Job[]>();
  /** Counters for the logs and the tests: hashes started, refused with BUSY, dropped unhashed; the most ever waiting. */
  readonly stats = { started: 0, refused: 0, dropped: 0, peakWaiting: 0, peakWaitingPerAddress: 0 };

  constructor(private readonly limits: HashQueueLimits) {}

  /**
   * Two hashes at a time: each takes 128*N*r bytes (16 MiB at the default cost) on a thread
   * pool thread; two give all the hashing two cores can do, and a login flood still leaves
   * half of the four pool threads to file reads and writes (downloads, uploads). It does not
   * bound RSS: glibc keeps the freed 16 MiB in each pool thread's arena (measured: +68 MB
   * after 100 logins, limit 1 to 4 alike); only MALLOC_ARENA_MAX=1 or MALLOC_MMAP_THRESHOLD_
   * set before start returns it.
   */
  static forConfig(config: Pick<ServerConfig, 'hashQueueMax' | 'hashQueuePerAddress'>): HashQueue {
    return new HashQueue({ concurrency: 2, maxQueued: config.hashQueueMax, maxQueuedPerAddress: config.hashQueuePerAddress });
  }

  get queued(): number {
    return this.waiting;
  }

  /** Runs `task` when its turn comes; throws Busy when the queue is full, ConnectionClosed when the owner left first. */
  run<T>(owner: HashOwner, task: () => Promise<T>): Promise<T> {
    if (owner.signal?.aborted) return Promise.reject(new ConnectionClosed());
    if (this.running < this.limits.concurrency && this.waiting === 0) return this.execute(task);
    const line = this.byAddress.get(owner.address);
    if (this.waiting >= this.limits.maxQueued || (line?.length ?? 0) >= this.limits.maxQueuedPerAddress) {
      this.stats.refused++;
      return Promise.reject(new Busy('the server is busy checking passwords; try again in a moment'));
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        const queue = this.byAddress.get(owner.address);
        const at = queue?.indexOf(job) ?? -1;
        if (at < 0) return;
        queue!.splice(at, 1);
        if (queue!.length === 0) this.byAddress.delete(owner.address);
        this.waiting--;
        this.stats.dropped++;
        reject(new ConnectionClosed());
      };
      const job: Job = {
        start: () => {
          owner.signal?.removeEventListener('abort', onAbort);
          this.execute(task).then(resolve, reject);
        },
      };
      owner.signal?.addEventListener('abort', onAbort, { once: true });
      if (line) line.push(job);
      else this.byAddress.set(owner.address, [job]);
      this.waiting++;
      this.stats.peakWaiting = Math.max(this.stats.peakWaiting, this.waiting);
      this.stats.peakWaitingPerAddress = Math.max(this.stats.peakWaitingPerAddress, (line?.length ?? 1));
    });
  }

  private async execute<T>(task: () => Promise<T>): Promise<T> {
    this.running++;
    this.stats.started++;
    try {
      return await task();
    } finally {
      this.running--;
      this.startNext();
    }
  }

  /** The first address in turn gets the slot and moves to the back of the line. */
  private startNext(): void {
    const next = this.byAddress.entries().next();
    if (next.done) return;
    const [address, queue] = next.value;
    const job = queue.shift()!;
    this.byAddress.delete(address);
    if (queue.length > 0) this.byAddress.set(address, queue);
    this.waiting--;
    job.start();
  }
}
