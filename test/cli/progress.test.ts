/** Progress as people see it: plain lines away from a terminal (at most one a second, always ending at 100%), bars on one. */
import { describe, expect, it, vi } from 'vitest';
import { progressView } from '../../src/client/ui/progress.js';

function capture(tty = false) {
  const writes: string[] = [];
  const stream = { isTTY: tty, columns: 80, write: (text: string) => (writes.push(text), true) };
  return { stream: stream as unknown as NodeJS.WriteStream, writes, lines: () => writes.join('').split('\n').filter(Boolean) };
}

describe('progress without a terminal', () => {
  it('prints plain lines at most once a second and always a final 100% line', () => {
    const out = capture();
    let now = 0;
    const view = progressView(out.stream, { now: () => now });
    const tracker = view.transfer('upload free.mp4');
    const total = 26_700_000;
    // 3.5 s of updates every 100 ms, then the last bytes.
    for (let step = 0; step <= 35; step++) {
      now = step * 100;
      tracker.onProgress(Math.floor((total * step) / 40), total);
    }
    now = 4000;
    tracker.onProgress(total, total);
    tracker.finish();

    const lines = out.lines();
    expect(lines).toHaveLength(5); // t = 0, 1, 2, 3 s and the final line
    expect(lines[0]).toBe('upload free.mp4: 0% 0.0/26.7 MB');
    expect(lines[1]).toBe('upload free.mp4: 25% 6.7/26.7 MB 6.7 MB/s');
    for (const line of lines) expect(line).toMatch(/^upload free\.mp4: \d{1,3}% \d+\.\d\/26\.7 MB( \d+(\.\d)? [KMG]?B\/s)?$/);
    expect(lines.at(-1)).toBe('upload free.mp4: 100% 26.7/26.7 MB 6.7 MB/s');
  });

  it('ends at 100% even when the last update came too soon after the previous line, and only once', () => {
    const out = capture();
    let now = 0;
    const tracker = progressView(out.stream, { now: () => now }).transfer('hash a.mp4');
    tracker.onProgress(500, 1000);
    now = 10;
    tracker.onProgress(1000, 1000);
    tracker.finish();
    expect(out.lines()).toEqual(['hash a.mp4: 50% 0.5/1.0 KB', 'hash a.mp4: 100% 1.0/1.0 KB']);
  });

  it('says 100% for an empty file, and nothing more after a failure', () => {
    const empty = capture();
    progressView(empty.stream).transfer('upload empty.mp4').finish();
    expect(empty.lines()).toEqual(['upload empty.mp4: 100% 0/0 B']);

    const failed = capture();
    const tracker = progressView(failed.stream).transfer('download x.mp4');
    tracker.onProgress(10, 100);
    tracker.abort();
    tracker.finish();
    expect(failed.lines()).toEqual(['download x.mp4: 10% 10/100 B']);
  });

  it('announces the non-VIP wait in one line', () => {
    const out = capture();
    const countdown = progressView(out.stream).countdown(30, 'non-VIP wait');
    countdown.stop();
    expect(out.lines()).toEqual(['non-VIP wait: 30 s']);
  });

  it('prints notes (a resumed transfer) as lines', () => {
    const out = capture();
    progressView(out.stream).note('resuming free.mp4: 1.0/2.0 MB already here');
    expect(out.lines()).toEqual(['resuming free.mp4: 1.0/2.0 MB already here']);
  });

  it('prints nothing with quiet', () => {
    const out = capture();
    const view = progressView(out.stream, { quiet: true });
    const tracker = view.transfer('x');
    tracker.onProgress(1, 2);
    tracker.finish();
    view.countdown(3, 'wait').stop();
    view.note('resuming');
    expect(out.writes).toEqual([]);
  });
});

describe('progress on a terminal', () => {
  it('draws a bar with bytes, percent and ETA that ends full', () => {
    const out = capture(true);
    const tracker = progressView(out.stream).transfer('download 付费电影.mkv');
    tracker.onProgress(1_000_000, 4_000_000);
    tracker.onProgress(4_000_000, 4_000_000);
    tracker.finish();
    const screen = out.writes.join('');
    expect(screen).toContain('download 付费电影.mkv');
    expect(screen).toMatch(/█+ 100% 4\.0\/4\.0 MB .*ETA/);
    expect(screen).toContain('\u001b[?25l'); // cursor hidden while drawing…
    expect(screen).toContain('\u001b[?25h'); // …and shown again
  });

  it('counts the wait down in place, once a second, and clears the line at zero', () => {
    vi.useFakeTimers();
    try {
      const out = capture(true);
      progressView(out.stream).countdown(3, 'non-VIP wait');
      const draw = (s: number) => `\r\u001b[2K⏳ non-VIP wait: ${s} s`;
      expect(out.writes).toEqual([draw(3)]);
      vi.advanceTimersByTime(999);
      expect(out.writes).toEqual([draw(3)]);
      vi.advanceTimersByTime(1);
      expect(out.writes).toEqual([draw(3), draw(2)]);
      vi.advanceTimersByTime(1000);
      expect(out.writes).toEqual([draw(3), draw(2), draw(1)]);
      vi.advanceTimersByTime(1000); // zero: it stops by itself
      expect(out.writes).toEqual([draw(3), draw(2), draw(1), '\r\u001b[2K']);
      vi.advanceTimersByTime(5000);
      expect(out.writes).toHaveLength(4);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('stops the countdown early and clears the line once', () => {
    vi.useFakeTimers();
    try {
      const out = capture(true);
      const countdown = progressView(out.stream).countdown(30, 'non-VIP wait');
      vi.advanceTimersByTime(1000);
      countdown.stop();
      countdown.stop();
      vi.advanceTimersByTime(5000);
      expect(out.writes.join('')).toBe('\r\u001b[2K⏳ non-VIP wait: 30 s\r\u001b[2K⏳ non-VIP wait: 29 s\r\u001b[2K');
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});
