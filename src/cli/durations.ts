/**
 * Durations as people type them: `24h`, `30s`, `1.5m`, `500ms`, `2 days` (the `ms` package's
 * forms), or a plain number of seconds, which is what these options took before units.
 */
import ms from 'ms';

/** Seconds in `text`; throws on anything else, negative included. */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Number(trimmed);
  const millis = /^\d/.test(trimmed) ? ms(trimmed as ms.StringValue) : undefined;
  if (millis === undefined || !Number.isFinite(millis)) {
    throw new Error(`not a duration: ${JSON.stringify(text)} (use e.g. 30s, 10m, 24h, 7d or a number of seconds)`);
  }
  return millis / 1000;
}

/** The shortest exact form: 86400 → `24h`, 1800 → `30m`, 30 → `30s`, 0.5 → `500ms`. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [['h', 3600], ['m', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}
