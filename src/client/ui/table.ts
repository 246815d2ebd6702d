/**
 * Plain-text tables that fit a terminal (80 columns by default). Widths are display
 * widths (string-width), so Chinese, Japanese and emoji titles, two columns per character,
 * line up with ASCII ones; a cell too wide is cut with "…", or wrapped where a column wraps.
 */
import stringWidth from 'string-width';
import type { BlockRow, HistoryRow, MovieRow, NoticeRow, UserRow } from '../cinebox-client.js';
import type { MediaFactsWire } from '../../protocol/messages.js';
import { formatBytes, formatDuration, formatTime } from './units.js';
import { policyLine } from './policy-view.js';

export interface Column<T> {
  header: string;
  value: (row: T) => string;
  align?: 'left' | 'right';
  /** May shrink below its natural width to fit; cut with "…" unless it wraps. */
  flex?: boolean;
  /** Break long values onto more lines instead of cutting them. */
  wrap?: boolean;
  /** Never wider than this. */
  max?: number;
}

const GAP = '  ';
const MIN_FLEX_WIDTH = 8;
const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

function renderTable<T>(columns: Column<T>[], rows: T[], width = 80): string {
  const cells = rows.map((row) => columns.map((column) => cellText(column.value(row), column.wrap)));
  const widths = columns.map((column, c) => {
    const natural = Math.max(stringWidth(column.header), ...cells.map((row) => maxLineWidth(row[c])));
    return Math.min(natural, column.max ?? Infinity);
  });
  shrinkToFit(columns, widths, width);

  const line = (parts: string[][], index: number) =>
    parts
      .map((lines, c) => align(lines[index] ?? '', widths[c], columns[c].align))
      .join(GAP)
      .trimEnd();
  const render = (values: string[]) => {
    const parts = values.map((value, c) => (columns[c].wrap ? wrapToWidth(value, widths[c]) : [truncateToWidth(value, widths[c])]));
    const height = Math.max(1, ...parts.map((lines) => lines.length));
    return Array.from({ length: height }, (_, index) => line(parts, index));
  };
  return [
    ...render(columns.map((column) => column.header)),
    widths.map((w) => '─'.repeat(w)).join(GAP),
    ...cells.flatMap(render),
  ].join('\n');
}

/** Takes columns from the flexible ones, widest first, until the table fits. */
function shrinkToFit<T>(columns: Column<T>[], widths: number[], width: number): void {
  let excess = widths.reduce((sum, w) => sum + w, 0) + GAP.length * (widths.length - 1) - width;
  while (excess > 0) {
    const candidates = columns
      .map((column, c) => ({ c, floor: Math.max(MIN_FLEX_WIDTH, Math.min(stringWidth(column.header), widths[c])) }))
      .filter(({ c, floor }) => columns[c].flex && widths[c] > floor);
    if (candidates.length === 0) return;
    const widest = candidates.reduce((a, b) => (widths[b.c] > widths[a.c] ? b : a));
    const take = Math.min(excess, widths[widest.c] - widest.floor);
    widths[widest.c] -= take;
    excess -= take;
  }
}

/** Control characters (and so escape sequences) never reach the terminal; newlines only in wrapping cells. */
function cellText(value: string, keepNewlines = false): string {
  const cleaned = value.replace(/\r\n?/g, '\n');
  return keepNewlines
    ? cleaned.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, ' ')
    : cleaned.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
}

function maxLineWidth(text: string): number {
  return Math.max(0, ...text.split('\n').map((line) => stringWidth(line)));
}

function align(text: string, width: number, side: 'left' | 'right' = 'left'): string {
  const pad = ' '.repeat(Math.max(0, width - stringWidth(text)));
  return side === 'right' ? pad + text : text + pad;
}

const graphemes = (text: string) => Array.from(segmenter.segment(text), (s) => s.segment);

/** Cuts `text` to at most `width` display columns, ending in "…" when anything was cut. */
export function truncateToWidth(text: string, width: number): string {
  if (stringWidth(text) <= width) return text;
  if (width <= 0) return '';
  let kept = '';
  let used = 0;
  for (const g of graphemes(text)) {
    const w = stringWidth(g);
    if (used + w > width - 1) break;
    kept += g;
    used += w;
  }
  return `${kept}…`;
}

/** Breaks `text` into lines of at most `width` columns: at spaces when it can, anywhere in CJK runs. */
export function wrapToWidth(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/(\s+)/)) {
      if (word === '') continue;
      if (stringWidth(line + word) <= width) {
        line += word;
        continue;
      }
      if (line.trim()) lines.push(line.trimEnd());
      line = '';
      if (/^\s+$/.test(word)) continue;
      for (const g of graphemes(word)) {
        if (stringWidth(line + g) > width) {
          lines.push(line);
          line = '';
        }
        line += g;
      }
    }
    lines.push(line.trimEnd());
  }
  return lines;
}

/** A leading column that says "new" on the rows `isNew` picks; none when no row is new. */
function newMark<T>(rows: T[], isNew: ((row: T) => boolean) | undefined): Column<T>[] {
  return isNew && rows.some(isNew) ? [{ header: '', value: (row) => (isNew(row) ? 'new' : '') }] : [];
}

export function moviesTable(movies: MovieRow[], width = 80, isNew?: (movie: MovieRow) => boolean): string {
  return renderTable<MovieRow>(
    [
      ...newMark(movies, isNew),
      { header: 'ID', value: (m) => String(m.id), align: 'right' },
      { header: 'Name', value: (m) => m.name, flex: true },
      { header: 'Type', value: (m) => (m.is_free ? 'free' : 'paid') },
      { header: 'Size', value: (m) => (m.size === undefined ? '' : formatBytes(m.size)), align: 'right' },
      ...(movies.some((m) => m.facts) ? factColumns : []),
      { header: 'Uploaded', value: (m) => formatTime(m.create_time) },
    ],
    movies,
    width,
  );
}

/** Duration and picture size, shown when the server has media facts for any of the videos. */
const factColumns: Column<MovieRow>[] = [
  { header: 'Length', value: (m) => lengthLabel(m.facts), align: 'right' },
  { header: 'Picture', value: (m) => pictureLabel(m.facts) },
];

/** "1:02:03"; "unknown format" when ffprobe could not read it; '' when it was not probed. */
export function lengthLabel(facts: MediaFactsWire | null | undefined): string {
  if (!facts) return '';
  if (facts.format === 'unknown') return 'unknown format';
  return facts.duration_ms === null ? '' : formatDuration(facts.duration_ms / 1000);
}

/** "1920x1080", "audio" for sound only. */
export function pictureLabel(facts: MediaFactsWire | null | undefined): string {
  if (!facts || facts.format === 'unknown') return '';
  if (facts.width !== null && facts.height !== null) return `${facts.width}x${facts.height}`;
  return facts.format === 'audio' ? 'audio' : '';
}

export function noticesTable(notices: NoticeRow[], width = 80, isNew?: (notice: NoticeRow) => boolean): string {
  return renderTable<NoticeRow>(
    [
      ...newMark(notices, isNew),
      { header: 'Date', value: (n) => formatTime(n.create_time) },
      { header: 'Title', value: (n) => n.title, flex: true, max: 24 },
      { header: 'Notice', value: (n) => n.content, flex: true, wrap: true },
    ],
    notices,
    width,
  );
}

export function historyTable(records: HistoryRow[], width = 80): string {
  return renderTable<HistoryRow>(
    [
      { header: 'Downloaded', value: (r) => formatTime(r.create_time) },
      { header: 'ID', value: (r) => (r.movie_id === undefined ? '' : String(r.movie_id)), align: 'right' },
      { header: 'Name', value: (r) => r.name, flex: true },
    ],
    records,
    width,
  );
}

export function usersTable(users: UserRow[], width = 80, now = new Date()): string {
  return renderTable<UserRow>(
    [
      { header: 'ID', value: (u) => String(u.id), align: 'right' },
      { header: 'Name', value: (u) => u.name, flex: true },
      { header: 'Role', value: (u) => (u.user_type === 'admin' ? 'admin' : 'viewer') },
      { header: 'VIP', value: (u) => (Number(u.is_vip) ? 'yes' : '') },
      { header: 'Locked', value: (u) => lockLabel(u, now) },
      { header: 'Failed', value: (u) => (Number(u.failed_logins) ? String(u.failed_logins) : ''), align: 'right' },
      { header: 'Registered', value: (u) => formatTime(u.register_time) },
    ],
    users,
    width,
  );
}

/** The login blocks: who is blocked (an address, or one account from it), why, and until when. */
export function blocksTable(blocks: BlockRow[], width = 80): string {
  return renderTable<BlockRow>(
    [
      { header: 'Address', value: (b) => b.address },
      { header: 'Account', value: (b) => b.account ?? '(every account)', flex: true },
      { header: 'Failed', value: (b) => (b.account === null ? `${b.failures} accounts` : String(b.failures)), align: 'right' },
      { header: 'Until', value: (b) => formatTime(b.blocked_until) },
    ],
    blocks,
    width,
  );
}

/** The viewers' policies and today's usage (`cinebox admin users`, below the accounts); empty from a server without policies. */
export function viewerPoliciesTable(users: UserRow[], width = 80): string {
  const viewers = users.filter((u) => u.policy);
  if (viewers.length === 0) return '';
  return renderTable<UserRow>(
    [
      { header: 'Viewer', value: (u) => u.name, flex: true },
      { header: 'Policy (* = set for them)', value: (u) => policyLine(u.policy!), flex: true },
      { header: 'Today', value: (u) => `${formatBytes(u.usage_today?.bytes ?? 0)}, ${u.usage_today?.count ?? 0}` },
      { header: 'Sessions', value: (u) => String(u.sessions ?? 0), align: 'right' },
    ],
    viewers,
    width,
  );
}

/** "locked" for an admin's lock (it lasts until unlocked), "until 14:03" for a temporary one after failed logins. */
export function lockLabel(user: UserRow, now = new Date()): string {
  if (Number(user.is_locked)) return 'locked';
  const until = user.locked_until ? new Date(user.locked_until) : undefined;
  if (!until || Number.isNaN(until.getTime()) || until <= now) return '';
  return `until ${formatTime(user.locked_until ?? undefined).slice(-5)}`;
}
