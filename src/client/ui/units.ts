/** How sizes, speeds, prices, times and durations read on screen (tables, progress, menus). */

const UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** The decimal unit that suits `bytes` (1 KB = 1000 B, as disks and networks count). */
function unitFor(bytes: number): number {
  let unit = 0;
  while (unit < UNITS.length - 1 && Math.abs(bytes) >= 1000 ** (unit + 1)) unit++;
  return unit;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const unit = unitFor(bytes);
  return unit === 0 ? `${bytes} B` : `${(bytes / 1000 ** unit).toFixed(1)} ${UNITS[unit]}`;
}

/** "12.0/26.7 MB": both numbers in the unit of the total, so they compare at a glance. */
export function formatBytesOf(done: number, total: number): string {
  const unit = unitFor(total);
  if (unit === 0) return `${done}/${total} B`;
  const scale = 1000 ** unit;
  return `${(done / scale).toFixed(1)}/${(total / scale).toFixed(1)} ${UNITS[unit]}`;
}

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

/** "1:05" or "1:02:03"; "--:--" when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** Prices travel as whole cents; people read "9.90". */
export function formatCents(cents: number): string {
  return (cents / 100).toFixed(2);
}

/** "2024-05-01 14:03" in local time; the raw text when it is not a date. */
export function formatTime(iso: string | undefined): string {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}`;
}
