/**
 * The minimum transfer rate of a raw body (an upload's bytes, a download's bytes).
 *
 * Why: the idle timeout restarts on every byte, so a client that trickles an upload one
 * byte every few seconds, or reads a download that slowly, would hold its connection, an
 * upload slot or a download's buffers and file handle forever. Header trickling has its own
 * deadline; this is the same promise for bodies: over any whole window (30 s by default)
 * a body must move at least `bytesPerSecond` on average, or it is cut.
 *
 * How: one interval timer per transfer (unref'd, cleared on every exit), no timer per byte.
 * The window is split into slices; each tick closes a slice and, once a whole window of
 * slices is known, compares its bytes with the minimum. Time the server itself is the slow
 * side (waiting on its disk or hasher, see `excuse`) does not count against the client: a
 * slice spent mostly there is left out and its bytes carry into the next one.
 *
 * Progress is only seen in whole units (a download's bytes count when the socket took a
 * whole buffer of up to 256 KiB), so the window is stretched to at least the time one unit
 * takes at the minimum rate: a client just above the rate always completes one per window.
 */
export interface TransferRate {
  /** Minimum average bytes per second; 0 = no minimum. */
  bytesPerSecond: number;
  windowMs: number;
}

export type OnSlow = (detail: { bytesPerSecond: number; windowSeconds: number; windowBytes: number }) => void;

const SLICES = 4;

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
   * Starts watching now. `grainBytes` is the largest unit progress is seen in; `onSlow`
   * runs once, from the timer, when a whole window moved fewer bytes than the minimum.
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
