/** Tables fit 80 columns and line up by display width, so Chinese, Japanese, Korean and emoji titles align with ASCII ones. */
import stringWidth from 'string-width';
import { describe, expect, it } from 'vitest';
import type { MovieRow } from '../../src/client/cinebox-client.js';
import { historyTable, moviesTable, noticesTable, truncateToWidth, wrapToWidth } from '../../src/client/ui/table.js';

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** The text covering display columns [start, start + width) of `line`; fails if a wide character straddles an edge. */
function cellAt(line: string, start: number, width: number): string {
  let column = 0;
  let cell = '';
  for (const { segment } of segmenter.segment(line)) {
    const w = stringWidth(segment);
    if (column < start && column + w > start) throw new Error(`"${segment}" straddles column ${start} in: ${line}`);
    if (column >= start && column < start + width) {
      if (column + w > start + width) throw new Error(`"${segment}" straddles column ${start + width} in: ${line}`);
      cell += segment;
    }
    column += w;
  }
  return cell.padEnd(width - (stringWidth(cell) - cell.length));
}

/** Display column where `header` starts in the header line. */
const columnOf = (headerLine: string, header: string) => stringWidth(headerLine.slice(0, headerLine.indexOf(header)));

/** The columns' spans, read from the rule under the header (runs of "─", which are one column wide). */
const spans = (rule: string) => [...rule.matchAll(/─+/g)].map((m) => ({ start: m.index, width: m[0].length }));

const movie = (id: number, name: string, isFree: boolean, size: number): MovieRow => ({
  id,
  name,
  is_free: isFree ? 1 : 0,
  size,
  sha256: 'a'.repeat(64),
  create_time: '2024-05-01T12:30:00.000Z',
});

const movies = [
  movie(1, 'free.mp4', true, 26_700_000),
  movie(2, '付费电影.mkv', false, 1_048_583),
  movie(3, '한국어 영화.mp4', true, 999),
  movie(12, 'emoji 🎬 film.mkv', false, 3_500_000_000),
  movie(345, 'Ünïcödé — naïve café.mp4', true, 12_345),
  movie(6, '日本語のタイトルがとても長い映画のファイル名です、本当に長いのでここで切れるはず.mp4', false, 1),
];

describe('tables', () => {
  it('lines up every column of the video list by display width, within 80 columns', () => {
    const lines = moviesTable(movies).split('\n');
    const [header, rule, ...rows] = lines;
    expect(rows).toHaveLength(movies.length);
    for (const line of lines) expect(stringWidth(line)).toBeLessThanOrEqual(80);
    const [id, name, type, size, uploaded] = spans(rule);
    expect([id, name, type, size, uploaded].map((c) => cellAt(header, c.start, c.width).trim())).toEqual(['ID', 'Name', 'Type', 'Size', 'Uploaded']);
    rows.forEach((row, i) => {
      // Every cell of every row sits exactly in its column's display span.
      expect(cellAt(row, id.start, id.width)).toBe(String(movies[i].id).padStart(id.width));
      expect(stringWidth(cellAt(row, name.start, name.width))).toBe(name.width);
      expect(cellAt(row, type.start, type.width)).toBe(movies[i].is_free ? 'free' : 'paid');
      expect(cellAt(row, size.start, size.width)).toMatch(/^ *\d+(\.\d)? [KMG]?B$/);
      expect(cellAt(row, uploaded.start, uploaded.width)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d$/);
    });
    expect(cellAt(rows[1], name.start, name.width).trimEnd()).toBe('付费电影.mkv');
    expect(cellAt(rows[2], name.start, name.width).trimEnd()).toBe('한국어 영화.mp4');
    expect(cellAt(rows[3], name.start, name.width).trimEnd()).toBe('emoji 🎬 film.mkv');
  });

  it('cuts a name that is too long with an ellipsis, counting wide characters twice', () => {
    const [, rule, ...rows] = moviesTable(movies).split('\n');
    const name = spans(rule)[1];
    const cut = cellAt(rows[5], name.start, name.width).trimEnd();
    expect(cut.endsWith('…')).toBe(true);
    expect(cut.startsWith('日本語のタイトル')).toBe(true);
    expect(stringWidth(cut)).toBeGreaterThanOrEqual(name.width - 1); // a wide character may leave one column free
  });

  it('keeps the table narrow when everything fits', () => {
    const lines = moviesTable(movies.slice(0, 2)).split('\n');
    expect(Math.max(...lines.map((line) => stringWidth(line)))).toBeLessThan(80);
    expect(spans(lines[1])[1].width).toBe(stringWidth('付费电影.mkv'));
  });

  it('wraps long notices (CJK included) in their column and lines up titles', () => {
    const text = noticesTable([
      { id: 2, title: '新片上架', content: '本周上架两部新电影，欢迎大家下载观看。VIP 会员享受折扣价格，普通会员也可以免费下载部分影片。', create_time: '2024-05-02T08:00:00Z' },
      { id: 1, title: 'Maintenance window on Sunday night', content: 'The server restarts at 02:00.\nDownloads resume afterwards.', create_time: '2024-05-01T08:00:00Z' },
    ]);
    const [header, , ...rows] = text.split('\n');
    const title = columnOf(header, 'Title');
    const notice = columnOf(header, 'Notice');
    for (const line of text.split('\n')) expect(stringWidth(line)).toBeLessThanOrEqual(80);
    expect(rows.length).toBeGreaterThan(3);
    expect(cellAt(rows[0], title, notice - title).trim()).toBe('新片上架');
    const firstNotice = rows.slice(0, rows.findIndex((row) => row.includes('Maintenance')));
    expect(firstNotice.length).toBeGreaterThan(1);
    expect(firstNotice.map((row) => cellAt(row, notice, 80 - notice).trim()).join('')).toBe(
      '本周上架两部新电影，欢迎大家下载观看。VIP 会员享受折扣价格，普通会员也可以免费下载部分影片。'.replace(/ /g, ''),
    );
    expect(rows.find((row) => row.includes('Maintenance'))).toContain('Maintenance window on S…  The server restarts at 02:00.');
    expect(rows.some((row) => row.trim() === 'Downloads resume afterwards.')).toBe(true);
  });

  it('shows the download history with IDs and names', () => {
    const lines = historyTable([
      { movie_id: 2, name: '付费电影.mkv', create_time: '2024-05-01T12:30:00Z' },
      { movie_id: 10, name: 'free.mp4', create_time: '2024-05-01T12:00:00Z' },
    ]).split('\n');
    const id = columnOf(lines[0], 'ID');
    const name = columnOf(lines[0], 'Name');
    expect(lines.slice(2).map((row) => [cellAt(row, id, 2), cellAt(row, name, 12).trimEnd()])).toEqual([
      [' 2', '付费电影.mkv'],
      ['10', 'free.mp4'],
    ]);
  });

  it('never lets control characters through to the terminal', () => {
    const text = moviesTable([movie(1, 'evil\u001b[2Jname\r\n.mp4', true, 1)]);
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
  });

  it.each([
    ['日本語テキスト', 5, '日本…'],
    ['日本語テキスト', 4, '日…'],
    ['abc', 3, 'abc'],
    ['abcd', 3, 'ab…'],
    ['🎬🎬🎬', 4, '🎬…'],
  ])('truncates %s to %i columns as %s', (text, width, expected) => {
    expect(truncateToWidth(text, width)).toBe(expected);
    expect(stringWidth(truncateToWidth(text, width))).toBeLessThanOrEqual(width);
  });

  it('wraps at spaces, and anywhere in a run of CJK', () => {
    expect(wrapToWidth('the quick brown fox', 10)).toEqual(['the quick', 'brown fox']);
    expect(wrapToWidth('一二三四五六七', 6)).toEqual(['一二三', '四五六', '七']);
    expect(wrapToWidth('a\nb', 5)).toEqual(['a', 'b']);
  });
});
