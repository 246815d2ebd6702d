/**
 * The minimum transfer rate of a raw body: the idle timeout restarts on every byte, so a
 * client trickling an upload (or reading a download) that slowly would hold its slot forever.
 * Over any whole window a body must average `bytesPerSecond`, or it is cut.
 */
export interface TransferRate {
  /** Minimum average bytes per second; 0 = no minimum. */
  bytesPerSecond: number;
  windowMs: number;
}

export type OnSlow = (detail: { bytesPerSecond: number; windowSeconds: number; windowBytes: number }) => void;

const SLICES = 4;

/**
 * One unref'd interval per transfer, no timer per byte: each tick closes one of SLICES slices
 * of the window; a slice the server itself held up (`excuse`) is left out, its bytes carried over.
 */
export class TransferWatch {
  /** Bytes of the last whole slices, oldest first. */
  private readonly slices: number[] = [];
  private bytes = 0;
  private heldMs = 0;
  private heldSince?: number;
  private readonly sliceMs: number;
  private readonly timer: NodeJS.Timeout;
  private done = false;
  /** Set once the body fell below the rate; the owner stops moving bytes. */
  tripped = false;

  /**
   * Starts watching now. `grainBytes` is the largest unit progress is seen in (the window is
   * stretched to what one takes at the minimum rate); `onSlow` runs once, from the timer,
   * when a whole window moved fewer bytes than the minimum.
   */
  constructor(
    private readonly rate: TransferRate,
    grainBytes: number,
    private readonly onSlow: OnSlow,
  ) {
    const windowMs = Math.max(rate.windowMs, (grainBytes / rate.bytesPerSecond) * 1000);
    this.sliceMs = windowMs / SLICES;
    this.timer = setInterval(() => this.tick(), this.sliceMs);
    this.timer.unref();
  }

  /** A watch, or undefined when the minimum is off. */
  static start(rate: TransferRate, grainBytes: number, onSlow: OnSlow): TransferWatch | undefined {
    return rate.bytesPerSecond > 0 && rate.windowMs > 0 ? new TransferWatch(rate, grainBytes, onSlow) : undefined;
  }

  /** Counts bytes the client sent or took. */
  add(bytes: number): void {
    this.bytes += bytes;
  }

  /** Awaits the server's own work (disk, hashing): that time is not the client's. */
  async excuse<T>(work: Promise<T>): Promise<T> {
    this.heldSince = performance.now();
    try {
      return await work;
    } finally {
      if (this.heldSince !== undefined) this.heldMs += performance.now() - this.heldSince;
      this.heldSince = undefined;
    }
  }

  stop(): void {
    this.done = true;
    clearInterval(this.timer);
  }

  private tick(): void {
    if (this.done) return;
    const now = performance.now();
    const held = this.heldMs + (this.heldSince === undefined ? 0 : now - this.heldSince);
    this.heldMs = 0;
    if (this.heldSince !== undefined) this.heldSince = now;
    if (held > this.sliceMs / 2) return; // the server's slice: its bytes carry over
    this.slices.push(this.bytes);
    this.bytes = 0;
    if (this.slices.length > SLICES) this.slices.shift();
    if (this.slices.length < SLICES) return;
    const windowBytes = this.slices.reduce((sum, n) => sum + n, 0);
    const windowSeconds = (this.sliceMs * SLICES) / 1000;
    if (windowBytes >= this.rate.bytesPerSecond * windowSeconds) return;
    this.tripped = true;
    this.stop();
    this.onSlow({ bytesPerSecond: this.rate.bytesPerSecond, windowSeconds, windowBytes });
  }
}
