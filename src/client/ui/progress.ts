/**
 * Transfers a person can watch. On a terminal: a cli-progress bar (bytes, percent, speed,
 * ETA) and a live countdown for the non-VIP wait. Anywhere else (a pipe, a log file, cron):
 * plain lines, at most one a second and always a last one at 100%, since redrawn bars turn
 * into noise there.
 */
import cliProgress from 'cli-progress';
import stringWidth from 'string-width';
import type { Progress } from '../../transfer/file-hash.js';
import { truncateToWidth } from './table.js';
import { formatBytesOf, formatDuration, formatSpeed } from './units.js';

/** One transfer: feed `onProgress` to an upload or a download (client/upload.ts, download.ts), then `finish()` on success or `abort()` on failure. */
export interface Tracker {
  onProgress: Progress;
  finish(): void;
  abort(): void;
}

export interface Countdown {
  stop(): void;
}

export interface ProgressView {
  transfer(label: string): Tracker;
  /** Shows `message` with the seconds left; stops by itself at zero. */
  countdown(seconds: number, message: string): Countdown;
  /** A line about a transfer (e.g. that it resumes). */
  note(text: string): void;
}

export interface ProgressOptions {
  /** Draw bars; defaults to whether `out` is a terminal. */
  tty?: boolean;
  /** No progress output at all. */
  quiet?: boolean;
  /** Milliseconds between plain lines. */
  intervalMs?: number;
  now?: () => number;
}

type Out = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

const LABEL_WIDTH = 24;

export function progressView(out: Out, options: ProgressOptions = {}): ProgressView {
  if (options.quiet) return silentView;
  const tty = options.tty ?? Boolean(out.isTTY);
  const now = options.now ?? (() => performance.now());
  if (tty) {
    return {
      transfer: (label) => barTracker(out, truncateToWidth(label, LABEL_WIDTH), now),
      countdown: (seconds, message) => liveCountdown(out, seconds, message),
      note: (text) => out.write(`${text}\n`),
    };
  }
  return {
    transfer: (label) => plainTracker(out, label, now, options.intervalMs ?? 1000),
    countdown: (seconds, message) => {
      out.write(`${message}: ${seconds} s\n`);
      return { stop() {} };
    },
    note: (text) => out.write(`${text}\n`),
  };
}

const silentView: ProgressView = {
  transfer: () => ({ onProgress() {}, finish() {}, abort() {} }),
  countdown: () => ({ stop() {} }),
  note() {},
};

/** Bytes per second since the first report; undefined until there is something to measure. */
function speedMeter(now: () => number) {
  let start: { at: number; done: number } | undefined;
  return (done: number): number | undefined => {
    const at = now();
    start ??= { at, done };
    const seconds = (at - start.at) / 1000;
    return seconds >= 0.05 ? (done - start.done) / seconds : undefined;
  };
}

const percentOf = (done: number, total: number) => (total <= 0 ? 100 : Math.floor((done * 100) / total));

function plainTracker(out: Out, label: string, now: () => number, intervalMs: number): Tracker {
  const speedOf = speedMeter(now);
  let lastPrinted = -Infinity;
  let last = { done: 0, total: 0 };
  let printedFinal = false;
  const print = (done: number, total: number) => {
    const speed = speedOf(done);
    const parts = [`${percentOf(done, total)}%`, formatBytesOf(done, total)];
    if (speed !== undefined) parts.push(formatSpeed(speed));
    out.write(`${label}: ${parts.join(' ')}\n`);
  };
  return {
    onProgress(done, total) {
      if (printedFinal) return;
      last = { done, total };
      const at = now();
      if (done >= total) {
        if (!printedFinal) print(done, total);
        printedFinal = true;
      } else if (at - lastPrinted >= intervalMs) {
        print(done, total);
        lastPrinted = at;
      } else {
        speedOf(done);
      }
    },
    finish() {
      if (!printedFinal) print(last.total, last.total);
      printedFinal = true;
    },
    abort() {
      printedFinal = true;
    },
  };
}

function barTracker(out: Out, label: string, now: () => number): Tracker {
  const speedOf = speedMeter(now);
  let bar: cliProgress.SingleBar | undefined;
  let total = 0;
  let closed = false;
  const payload = (done: number) => {
    const speed = speedOf(done);
    const eta = speed ? (total - done) / speed : Number.NaN;
    return { bytes: formatBytesOf(done, total), rate: speed === undefined ? '' : formatSpeed(speed), etaText: formatDuration(eta) };
  };
  const start = (size: number) => {
    total = size;
    const columns = out.columns || 80;
    const pad = ' '.repeat(Math.max(0, LABEL_WIDTH - stringWidth(label)));
    bar = new cliProgress.SingleBar({
      stream: out,
      format: `${label}${pad} {bar} {percentage}% {bytes} {rate} ETA {etaText}`,
      barsize: Math.max(10, Math.min(30, columns - LABEL_WIDTH - 50)),
      barCompleteChar: '█',
      barIncompleteChar: '░',
      hideCursor: true,
      gracefulExit: false,
      clearOnComplete: false,
      fps: 10,
    });
    bar.start(size, 0, payload(0));
  };
  return {
    onProgress(done, size) {
      if (closed) return;
      if (!bar) start(size);
      bar!.update(done, payload(done));
    },
    finish() {
      if (closed) return;
      closed = true;
      if (!bar) start(0);
      bar!.update(total, payload(total));
      bar!.stop();
    },
    abort() {
      if (closed) return;
      closed = true;
      bar?.stop();
    },
  };
}

function liveCountdown(out: Out, seconds: number, message: string): Countdown {
  let left = seconds;
  const draw = () => out.write(`\r\x1b[2K⏳ ${message}: ${left} s`);
  draw();
  const timer = setInterval(() => {
    left -= 1;
    if (left <= 0) stop();
    else draw();
  }, 1000);
  let stopped = false;
  function stop() {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    out.write('\r\x1b[2K');
  }
  return { stop };
}
