/**
 * How viewer policies read on screen: a policy in one line, a viewer's standing as a few
 * lines, and what an admin types to change one (`1M`, `5G`, `unlimited`, `default`, `on`).
 */
import type { PolicyChanges, ViewerPolicyRow, ViewerStatus } from '../cinebox-client.js';
import { formatBytes, formatCents, formatSpeed, formatTime } from './units.js';

const limited = (value: number, show: (v: number) => string) => (Number(value) === 0 ? 'unlimited' : show(Number(value)));

/** "2.1 MB/s, 2.1 GB / 50 a day, 2 sessions" (an `*` marks a field set for this viewer). */
export function policyLine(policy: ViewerPolicyRow): string {
  const mark = (field: string) => (policy.overrides.includes(field) ? '*' : '');
  if (!Number(policy.downloads)) return `downloads off${mark('downloads')}`;
  return [
    `${limited(policy.speed_bps, formatSpeed)}${mark('speed_bps')}`,
    `${limited(policy.daily_bytes, formatBytes)}${mark('daily_bytes')} / ${limited(policy.daily_count, String)}${mark('daily_count')} a day`,
    `${limited(policy.max_sessions, String)}${mark('max_sessions')} sessions`,
  ].join(', ');
}

/** `cinebox user status` and the viewer menu's "My account". */
export function statusText(status: ViewerStatus): string {
  const { policy, usage } = status;
  const lines = [
    `${status.name}: ${Number(status.is_vip) ? 'VIP viewer' : 'normal viewer'}`,
    `downloads: ${Number(policy.downloads) ? 'allowed' : 'turned off by an admin'}`,
    `today (${usage.day}): ${formatBytes(usage.bytes)} of ${limited(policy.daily_bytes, formatBytes)}, ${usage.count} of ${limited(policy.daily_count, String)} downloads; resets ${usage.resets_at_text}`,
    `speed: ${limited(policy.speed_bps, formatSpeed)} (shared by your downloads at once)`,
    `sessions: ${status.sessions} live of ${limited(policy.max_sessions, String)} (a login past it ends the oldest)`,
  ];
  if (status.purchases.length === 0) lines.push('bought: nothing yet');
  else {
    lines.push(`bought (${status.purchases.length}):`);
    for (const p of status.purchases) lines.push(`  #${p.movie_id} ${p.name} — ${formatCents(p.price_cents)} on ${formatTime(p.create_time)}`);
  }
  return lines.join('\n');
}

const POWERS: Record<string, number> = { '': 0, K: 1, M: 2, G: 3, T: 4 };

/**
 * One field as an admin types it: `default` (back to the class, null), `unlimited` or 0, a
 * size in powers of 1024 as src/cli/sizes.ts reads it (`1M`, `5G`), or a plain number.
 */
export function parsePolicyValue(field: keyof PolicyChanges, text: string): number | null {
  const word = text.trim().toLowerCase();
  if (word === 'default') return null;
  if (field === 'downloads') {
    if (word === 'on' || word === 'yes') return 1;
    if (word === 'off' || word === 'no') return 0;
    throw new Error(`downloads: say on or off (or default), not ${JSON.stringify(text)}`);
  }
  if (word === 'unlimited' || word === 'none') return 0;
  const sized = field === 'speed_bps' || field === 'daily_bytes';
  const match = (sized ? /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?(?:\/S)?$/i : /^(\d+)()$/).exec(word);
  if (!match) throw new Error(`${field}: ${JSON.stringify(text)} is not ${sized ? 'a size such as 1M or 5G' : 'a whole number'} (or unlimited, default)`);
  const value = Math.round(Number(match[1]) * 1024 ** POWERS[match[2]!.toUpperCase()]!);
  if (!Number.isSafeInteger(value) || (!sized && value > 2 ** 31 - 1)) throw new Error(`${field}: ${text} is too large`);
  return value;
}
