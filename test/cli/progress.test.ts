/** Progress as people see it: plain lines away from a terminal (at most one a second, always ending at 100%), bars on one. */
import stringWidth from 'string-width';
import { describe, expect, it, vi } from 'vitest';
import { barLine, progressView } from '../../src/client/ui/progress.js';

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
    expect(screen).toMatch(/█{30} 100% 4\.0\/4\.0 MB/);
    expect(screen).not.toContain('ETA'); // no speed was measurable, and it is finished
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

describe('a progress line on a narrow terminal', () => {
  it('draws lines no wider than a 60-column terminal, the speed whole, and no ETA at the end', () => {
    const out = capture(true);
    (out.stream as { columns: number }).columns = 60;
    let now = 0;
    const tracker = progressView(out.stream, { now: () => now }).transfer('download big-film.mkv');
    tracker.onProgress(0, 300_000_000);
    now = 1000;
    tracker.onProgress(106_300_000, 300_000_000);
    now = 2000;
    tracker.onProgress(212_600_000, 300_000_000);
    now = 2500;
    tracker.onProgress(300_000_000, 300_000_000);
    tracker.finish();
    // The text drawn between cursor moves (bars redraw at most 10 times a second: here the first and the last).
    const drawn = out.writes.join('').split(/\r|\n|\u001b[78]|\u001b\[[0-9;?]*[A-Za-z]/).filter((t) => t.includes('MB'));
    for (const line of drawn) expect(stringWidth(line), line).toBeLessThan(60);
    expect(drawn.at(-1)).toContain('100% 300.0/300.0 MB 120.0 MB/s');
    expect(drawn.at(-1)).not.toContain('ETA');
  });

  const running = { label: 'download big-film.mkv', done: 150_000_000, total: 300_000_000, speed: 106_300_000, finished: false };

  it('keeps the bytes and the whole speed at 60 columns, dropping the bar first', () => {
    const line = barLine(running, 60);
    expect(line).toContain('150.0/300.0 MB 106.3 MB/s');
    expect(stringWidth(line)).toBeLessThan(60);
    expect(barLine(running, 100)).toMatch(/^download big-film\.mkv +█{15}░{15} 50% 150\.0\/300\.0 MB 106\.3 MB\/s ETA 0:01$/);
  });

  it('fits every width from 30 to 200 columns (below, the bytes and speed alone are wider), and always shows the speed', () => {
    for (let columns = 30; columns <= 200; columns++) {
      const line = barLine(running, columns);
      expect(stringWidth(line), `${columns} columns: ${line}`).toBeLessThanOrEqual(columns - 1);
      expect(line).toContain('106.3 MB/s');
    }
  });

  it('shows no ETA once finished, nor "--:--" when no speed could be measured', () => {
    const small = { label: 'download tiny.mp4', done: 1000, total: 1000, finished: true };
    expect(barLine(small, 80)).toMatch(/^download tiny\.mp4 +█{30} 100% 1\.0\/1\.0 KB$/);
    expect(barLine({ ...small, done: 10, finished: false }, 80)).not.toContain('ETA');
    expect(barLine({ ...running, done: 300_000_000, finished: true }, 80)).not.toContain('ETA');
  });
});
