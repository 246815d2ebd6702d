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
  let speed: number | undefined;
  const start = (size: number) => {
    total = size;
    bar = new cliProgress.SingleBar({
      stream: out,
      // The whole line, laid out for the terminal's width at each redraw (it may be resized).
      format: (_options, params, payload: { finished?: boolean }) =>
        barLine({ label, done: params.value, total: params.total, speed, finished: payload.finished === true }, params.maxWidth),
      hideCursor: true,
      gracefulExit: false,
      clearOnComplete: false,
      fps: 10,
    });
    bar.start(size, 0, {});
  };
  return {
    onProgress(done, size) {
      if (closed) return;
      if (!bar) start(size);
      speed = speedOf(done);
      bar!.update(done, {});
    },
    finish() {
      if (closed) return;
      closed = true;
      if (!bar) start(0);
      bar!.update(total, { finished: true });
      bar!.stop();
    },
    abort() {
      if (closed) return;
      closed = true;
      bar?.stop();
    },
  };
}

export interface BarState {
  label: string;
  done: number;
  total: number;
  /** Bytes per second; undefined until measurable. */
  speed?: number;
  /** Done: no ETA any more. */
  finished: boolean;
}

const BAR_MAX = 30;
const BAR_MIN = 10;

/**
 * One progress line that fits in `columns`: `label  ████░░ 42% 12.0/26.7 MB 6.7 MB/s ETA 0:03`.
 * When the terminal is narrow the bar goes first (shorter, then none), then the ETA, then the
 * label shrinks: the bytes and the speed always stay whole. A finished transfer shows no ETA.
 */
export function barLine(state: BarState, columns: number): string {
  const width = Math.max(20, columns - 1); // the last column would wrap on some terminals
  const percent = `${percentOf(state.done, state.total)}%`;
  const facts = [formatBytesOf(state.done, state.total), ...(state.speed === undefined ? [] : [formatSpeed(state.speed)])];
  const etaSeconds = state.speed ? (state.total - state.done) / state.speed : Number.NaN;
  const eta = !state.finished && state.done < state.total && Number.isFinite(etaSeconds) ? `ETA ${formatDuration(etaSeconds)}` : undefined;
  const label = state.label + ' '.repeat(Math.max(0, LABEL_WIDTH - stringWidth(state.label)));

  const withBar = (tail: string) => {
    const room = width - stringWidth(label) - 1 - 1 - stringWidth(tail);
    if (room < BAR_MIN) return undefined;
    const size = Math.min(BAR_MAX, room);
    const full = state.total <= 0 ? size : Math.min(size, Math.round((state.done / state.total) * size));
    return `${label} ${'█'.repeat(full)}${'░'.repeat(size - full)} ${tail}`;
  };
  const tails = [[percent, ...facts, ...(eta ? [eta] : [])].join(' '), [percent, ...facts].join(' ')];
  for (const tail of tails) {
    const line = withBar(tail);
    if (line) return line;
  }
  for (const tail of tails) {
    if (stringWidth(label) + 1 + stringWidth(tail) <= width) return `${label} ${tail}`;
  }
  const tail = [percent, ...facts].join(' ');
  const labelRoom = width - 1 - stringWidth(tail);
  if (labelRoom >= 6) return `${truncateToWidth(state.label, labelRoom)} ${tail}`;
  return facts.join(' ');
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
