/** Ages as operators type them: `30d`, `12h`, `90m`, `45s`, or plain seconds. */
const UNIT_MS: Record<string, number> = { '': 1000, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

export function parseDuration(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$/i.exec(text);
  if (!match) throw new Error(`not an age: ${JSON.stringify(text)} (use e.g. 30d, 12h, 90m)`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2].toLowerCase()]);
}
