/**
 * One page of the video list: filtered by type and by a name substring, in one of three
 * orders, continued from a keyset cursor (`after` = the last id of the page before), so a
 * page costs the same on page 1 and page 2,000. A join the ORM does not build, so the SQL
 * is written here; identifiers are constants, every value a parameter.
 *
 * Indexes used: movie (is_delete, id) and (is_delete, is_free) for 'oldest'/'newest' (both
 * engines keep the primary key at the end of a secondary index), media_facts (name_key,
 * movie_id) for 'name'. A search joins the name_gram index (name-grams.ts). A node with a
 * current copy of the catalog in memory (memory-catalog.ts) finds the page's videos there.
 */
import { fromSqlDateTime, quoteIdentifier, type Database, type Dialect } from '../../orm/index.js';
import { MediaFacts } from '../../orm/models/index.js';
import { CHARGE_LABEL, FREE_LABEL, type MovieOrder } from '../../protocol/messages.js';
import { BadRequest } from '../errors.js';
import { gramsOf, searchGrams } from './name-grams.js';
import { containsPattern, LIKE_ESCAPE, nameKey } from './name-key.js';
import type { VideoIndex } from './video-index.js';

export interface PageQuery {
  movieType: 'all' | 'free' | 'charge';
  search?: string;
  limit?: number;
  after?: number;
  order: MovieOrder;
  /** Also read size, sha256 and create_time (a page without `details` reads three columns). */
  details: boolean;
  facts: boolean;
}

export interface ListedMovie {
  id: number;
  name: string;
  is_free: number;
  /** With `details` (or `facts`). */
  size?: number;
  sha256?: string;
  create_time?: Date;
  /** With `facts`: the stored facts row (undefined when the movie has none). */
  facts?: Partial<MediaFacts>;
}

export interface MoviePage {
  movies: ListedMovie[];
  /** The cursor of the next page, or null when this page is the last. */
  nextAfter: number | null;
  /** From memory, without details: each movie's `movie_list` entry as JSON (JSON.stringify's bytes). */
  entries?: string[];
}

/** The name of MediaFacts' (name_key, movie_id) index, as schema.ts names it (MariaDB would rather sort than read it for a page with facts). */
const NAME_INDEX = 'idx_media_facts_name_key_movie_id';
const FACT_COLUMNS = ['probed', 'format', 'container', 'duration_ms', 'width', 'height', 'video_codec', 'audio_codec', 'bit_rate', 'streamable'] as const;

/** The SELECT for each dialect and query shape, built once (few shapes: 3 orders x 2^4 options), without its LIMIT. */
const sqlCache = new Map<string, string>();

/**
 * One page: its videos from `index` (the catalog in memory, memory-catalog.ts) when the caller
 * has a current one, else from the database. Either way the same videos in the same order.
 */
export async function listPage(db: Database, query: PageQuery, index?: VideoIndex): Promise<MoviePage> {
  let movies: ListedMovie[];
  let entries: string[] | undefined;
  if (index !== undefined) {
    const cursor = query.order === 'name' && query.after !== undefined ? (index.byId(query.after)?.key ?? (await cursorKey(db, query.after))) : undefined;
    const videos = index.select(query, cursor);
    if (query.details || query.facts) {
      // The other columns (and the facts, which the probe fills in later) are read by id for just this page.
      movies = await moviesByIds(db, videos.map((video) => video.id), query.facts);
    } else {
      movies = videos;
      // A plain page's reply is mostly these: encoded once per video, not per request (~7 µs of 50 saved).
      entries = videos.map((video) => (video.entry ??= JSON.stringify([video.name, video.is_free ? FREE_LABEL : CHARGE_LABEL, video.id])));
    }
  } else {
    const { sql, params } = await pageStatement(db, query);
    const rows = await db.query<Record<string, unknown>>(sql, params);
    movies = rows.map((row) => listedMovie(row, query.details || query.facts, query.facts));
  }
  const full = query.limit !== undefined && movies.length === query.limit;
  const nextAfter = full ? movies[movies.length - 1]!.id : null;
  return entries === undefined ? { movies, nextAfter } : { movies, nextAfter, entries };
}

/** These movies with their details (and facts), in the order of `ids`. */
async function moviesByIds(db: Database, ids: number[], facts: boolean): Promise<ListedMovie[]> {
  if (ids.length === 0) return [];
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const columns = ['id', 'name', 'is_free', 'size', 'sha256', 'create_time'].map((column) => `m.${q(column)}`);
  if (facts) columns.push(...FACT_COLUMNS.map((column) => `f.${q(column)}`));
  const from = facts ? `${q('movie')} m LEFT JOIN ${q('media_facts')} f ON f.${q('movie_id')} = m.${q('id')}` : `${q('movie')} m`;
  const rows = await db.query<Record<string, unknown>>(`SELECT ${columns.join(', ')} FROM ${from} WHERE m.${q('id')} IN (${ids.map(() => '?').join(', ')})`, ids);
  const byId = new Map(rows.map((row) => [Number(row.id), listedMovie(row, true, facts)]));
  return ids.map((id) => byId.get(id)!);
}

/** The statement `listPage` runs (exported so a test can ask the database for its plan). */
export async function pageStatement(db: Database, query: PageQuery): Promise<{ sql: string; params: unknown[] }> {
  const params: unknown[] = [];
  const grams = query.search === undefined ? [] : await gramsToJoin(db, query.search);
  params.push(...grams);
  if (query.movieType !== 'all') params.push(query.movieType === 'free' ? 1 : 0);
  if (query.search !== undefined) params.push(containsPattern(query.search));
  if (query.after !== undefined) {
    if (query.order === 'name') {
      const key = await cursorKey(db, query.after);
      params.push(key, key, query.after);
    } else {
      params.push(query.after);
    }
  }
  const shape: Shape = {
    typed: query.movieType !== 'all',
    search: query.search !== undefined,
    grams: grams.length,
    cursor: query.after !== undefined,
    details: query.details || query.facts,
    facts: query.facts,
    order: query.order,
  };
  const cacheKey = `${db.dialect}|${JSON.stringify(shape)}`;
  let sql = sqlCache.get(cacheKey);
  if (sql === undefined) sqlCache.set(cacheKey, (sql = buildSql(db.dialect, shape)));
  // The limit is an integer from the schema (1..MAX_PAGE), not a parameter: MySQL's prepared LIMIT is fussy.
  return { sql: query.limit === undefined ? sql : `${sql} LIMIT ${Number(query.limit)}`, params };
}

/** The grams a search reads its candidates from; [] for a term under 3 code points (every name is read). */
async function gramsToJoin(db: Database, search: string): Promise<string[]> {
  const folded = nameKey(search);
  if (gramsOf(folded).length === 0) return [];
  const grams = await searchGrams(db, folded);
  // Some gram is in no name: one gram that matches nothing gives the empty page through the same statement.
  return grams.length > 0 ? grams : [gramsOf(folded)[0]!];
}

async function cursorKey(db: Database, after: number): Promise<string> {
  const row = await MediaFacts.selectOne(db, { movie_id: after });
  if (!row) throw new BadRequest(`after: no video #${after}`);
  return row.name_key;
}

interface Shape {
  typed: boolean;
  search: boolean;
  /** Name-gram tables joined to find the search's candidates (0: the search reads every name). */
  grams: number;
  cursor: boolean;
  details: boolean;
  facts: boolean;
  order: MovieOrder;
}

function buildSql(dialect: Dialect, shape: Shape): string {
  const q = (name: string) => quoteIdentifier(dialect, name);
  const m = (column: string) => `m.${q(column)}`;
  const f = (column: string) => `f.${q(column)}`;
  const needsKey = shape.search || shape.order === 'name';
  const columns = [m('id'), m('name'), m('is_free')];
  if (shape.details) columns.push(m('size'), m('sha256'), m('create_time'));
  if (shape.facts) columns.push(...FACT_COLUMNS.map(f));
  const on = `ON ${f('movie_id')} = ${m('id')}`;
  if (shape.grams > 0) return gramSql(dialect, shape, columns);
  // By name: walk the name index and look each movie up by id (the planners would rather
  // read movie first and sort, a whole-table sort per page); the join order is forced.
  const from =
    shape.order === 'name'
      ? dialect === 'mysql'
        ? `${q('media_facts')} f FORCE INDEX (${q(NAME_INDEX)}) STRAIGHT_JOIN ${q('movie')} m ${on}`
        : `${q('media_facts')} f CROSS JOIN ${q('movie')} m ${on}`
      : needsKey
        ? `${q('movie')} m JOIN ${q('media_facts')} f ${on}`
        : shape.facts
          ? `${q('movie')} m LEFT JOIN ${q('media_facts')} f ${on}`
          : `${q('movie')} m`;
  const where = [`${m('is_delete')} = 0`];
  where.push(...filters(dialect, shape));
  return `SELECT ${columns.join(', ')} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${orderBy(dialect, shape, m('id'))}`;
}

/** The conditions after is_delete: type, search, cursor (their parameters in this order). */
function filters(dialect: Dialect, shape: Shape, idColumn = `m.${quoteIdentifier(dialect, 'id')}`): string[] {
  const q = (name: string) => quoteIdentifier(dialect, name);
  const m = (column: string) => `m.${q(column)}`;
  const f = (column: string) => `f.${q(column)}`;
  const where: string[] = [];
  if (shape.typed) where.push(`${m('is_free')} = ?`);
  if (shape.search) where.push(`${f('name_key')} LIKE ? ESCAPE '${LIKE_ESCAPE}'`);
  if (shape.cursor) {
    if (shape.order === 'oldest') where.push(`${idColumn} > ?`);
    else if (shape.order === 'newest') where.push(`${idColumn} < ?`);
    else where.push(`(${f('name_key')} > ? OR (${f('name_key')} = ? AND ${f('movie_id')} > ?))`);
  }
  return where;
}

function orderBy(dialect: Dialect, shape: Shape, idColumn: string): string {
  const f = (column: string) => `f.${quoteIdentifier(dialect, column)}`;
  return shape.order === 'oldest' ? `${idColumn} ASC` : shape.order === 'newest' ? `${idColumn} DESC` : `${f('name_key')} ASC, ${f('movie_id')} ASC`;
}

/**
 * A search through the gram index: the rarest gram's rows (in movie_id order, its unique
 * index), each other gram looked up by (gram, movie_id), then the movie and its name for the
 * LIKE. The join order is forced (SQLite CROSS JOIN, MariaDB STRAIGHT_JOIN). By name, the
 * candidates are sorted: at most the rarest gram's movies, not the table.
 */
function gramSql(dialect: Dialect, shape: Shape, columns: string[]): string {
  const q = (name: string) => quoteIdentifier(dialect, name);
  const join = dialect === 'mysql' ? 'STRAIGHT_JOIN' : 'CROSS JOIN';
  const g = (i: number, column: string) => `g${i}.${q(column)}`;
  let from = `${q('name_gram')} g0`;
  for (let i = 1; i < shape.grams; i++) from += ` ${join} ${q('name_gram')} g${i} ON ${g(i, 'movie_id')} = ${g(0, 'movie_id')}`;
  from += ` ${join} ${q('movie')} m ON m.${q('id')} = ${g(0, 'movie_id')} ${join} ${q('media_facts')} f ON f.${q('movie_id')} = ${g(0, 'movie_id')}`;
  const where: string[] = [];
  for (let i = 0; i < shape.grams; i++) where.push(`${g(i, 'gram')} = ?`);
  where.push(`m.${q('is_delete')} = 0`, ...filters(dialect, shape, g(0, 'movie_id')));
  return `SELECT ${columns.join(', ')} FROM ${from} WHERE ${where.join(' AND ')} ORDER BY ${orderBy(dialect, shape, g(0, 'movie_id'))}`;
}

function listedMovie(row: Record<string, unknown>, withDetails: boolean, withFacts: boolean): ListedMovie {
  const movie: ListedMovie = { id: Number(row.id), name: String(row.name), is_free: Number(row.is_free) };
  if (withDetails) {
    movie.size = Number(row.size);
    movie.sha256 = String(row.sha256);
    movie.create_time = row.create_time instanceof Date ? row.create_time : fromSqlDateTime(String(row.create_time));
  }
  if (withFacts && row.probed !== null && row.probed !== undefined) {
    const number = (value: unknown) => (value === null || value === undefined ? null : Number(value));
    const string = (value: unknown) => (value === null || value === undefined ? null : String(value));
    movie.facts = {
      probed: Number(row.probed),
      format: string(row.format),
      container: string(row.container),
      duration_ms: number(row.duration_ms),
      width: number(row.width),
      height: number(row.height),
      video_codec: string(row.video_codec),
      audio_codec: string(row.audio_codec),
      bit_rate: number(row.bit_rate),
      streamable: number(row.streamable),
    };
  }
  return movie;
}
