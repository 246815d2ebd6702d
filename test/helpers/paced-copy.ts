/**
 * Copies one socket's bytes to another at most `bytesPerSecond`, so a test can act while a
 * transfer is still running. The source is paused while too much waits (backpressure, not an
 * unbounded queue); the destination is ended once the source ended and all of it went out.
 */
import type { Socket } from 'node:net';

const TICK_MS = 20;

/** What one tick may write at `bytesPerSecond` (at least a byte). */
export function bytesPerTick(bytesPerSecond: number): number {
  return Math.max(1, Math.floor((bytesPerSecond * TICK_MS) / 1000));
}

export interface Pace {
  bytesPerSecond: number;
  /** The source is paused once more than this many bytes wait... */
  pauseAbove: number;
  /** ...and resumed once fewer than this many do. */
  resumeBelow: number;
}

/** Stops when the destination closes, or when the source closes without having ended. */
export function pacedCopy(from: Socket, to: Socket, { bytesPerSecond, pauseAbove, resumeBelow }: Pace): void {
  const perTick = bytesPerTick(bytesPerSecond);
  let queue: Buffer[] = [];
  let queued = 0;
  let ended = false;
  const timer = setInterval(() => {
    let budget = perTick;
    while (budget > 0 && queue.length > 0) {
      const head = queue[0]!;
      const piece = head.subarray(0, budget);
      to.write(piece);
      budget -= piece.length;
      queued -= piece.length;
      if (piece.length === head.length) queue.shift();
      else queue[0] = head.subarray(piece.length);
    }
    if (queued < resumeBelow) from.resume();
    if (ended && queued === 0) {
      clearInterval(timer);
      to.end();
    }
  }, TICK_MS);
  from.on('data', (chunk: Buffer) => {
    queue.push(chunk);
    queued += chunk.length;
    if (queued > pauseAbove) from.pause();
  });
  from.once('end', () => (ended = true));
  const stop = () => {
    clearInterval(timer);
    queue = [];
  };
  to.once('close', stop);
  from.once('close', () => ended || stop());
}
