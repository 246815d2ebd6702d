/**
 * Sizes as people type them for quotas: `500M`, `2G`, `1.5GiB`, `10GB`, or plain bytes.
 * Every unit is a power of 1024 (K, M, G, T), as quota tools usually count. Not the `bytes`
 * package: its parse reads `64G` as 64 (it needs the B and falls back to parseInt).
 */
const POWERS: Record<string, number> = { '': 0, K: 1, M: 2, G: 3, T: 4 };

export function parseSize(text: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?\s*$/i.exec(text);
  if (!match) throw new Error(`not a size: ${JSON.stringify(text)} (use e.g. 500M, 2G, 1.5T or a number of bytes)`);
  const bytes = Math.round(Number(match[1]) * 1024 ** POWERS[match[2].toUpperCase()]);
  if (!Number.isSafeInteger(bytes)) throw new Error(`size too large: ${text}`);
  return bytes;
}

/** A quota as typed: a size, `unlimited` (or 0) for no limit, `default` for the server's default (null). */
export function parseQuota(text: string): number | null {
  const word = text.trim().toLowerCase();
  if (word === 'default') return null;
  if (word === 'unlimited' || word === 'none') return 0;
  return parseSize(text);
}

/** The shortest exact form parseSize reads back: 64 GiB → `64G`, 4096 → `4K`, 1000 → `1000`. */
export function formatSize(bytes: number): string {
  for (let power = 4; power > 0; power--) {
    const unit = 1024 ** power;
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${'KMGT'[power - 1]}`;
  }
  return String(bytes);
}
