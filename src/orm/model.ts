import {
  type Database,
  type Dialect,
  describeValue,
  fromSqlDateTime,
  quoteIdentifier,
  toSqlDateTime,
} from './database.js';
import { type ColumnMeta, type TableMeta, tableMeta } from './decorators.js';

/** The persisted fields of a model instance: its properties that are not methods. */
export type Row<M> = {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  [K in keyof M as M[K] extends (...args: any[]) => unknown ? never : K]: M[K];
};

/** Column -> value (`=`), `null` (`IS NULL`) or an array (`IN (...)`; empty matches nothing). */
export type Where<M> = {
  [K in keyof Row<M>]?: Row<M>[K] | readonly Exclude<Row<M>[K], null>[];
};

export type ColumnName<M> = keyof Row<M> & string;

export interface SelectOptions<M> {
  orderBy?: readonly (readonly [ColumnName<M>, 'asc' | 'desc'])[];
  limit?: number;
  offset?: number;
}

/** `select` reading only `columns`; the rows it returns are typed (and filled) with just those. */
export interface ProjectedSelectOptions<M, K extends ColumnName<M>> extends SelectOptions<M> {
  columns: readonly K[];
}

/** A concrete model class, as the statics see `this`. */
export type ModelClass<M extends Model> = new () => M;

type Fields = Record<string, unknown>;

/**
 * A model class is a table, an instance is a row. Subclasses declare fields with `@column`
 * and the class with `@table`; every call takes the database handle first, so a transaction
 * handle (or a second database) is used exactly like the main one.
 *
 * Column and table names in the SQL come only from metadata; values are always parameters.
 * Property names in `where`, `set` and `orderBy` that are not columns throw.
 */
export abstract class Model {
  /**
   * A new, unsaved instance with these fields (only known columns accepted). Never fill a model
   * in a constructor: with `useDefineForClassFields` the declared fields are reset after it.
   */
  static from<M extends Model>(this: ModelClass<M>, values: Partial<Row<M>>): M {
    const meta = tableMeta(this);
    for (const property of Object.keys(values)) columnOf(meta, property, 'from');
    return Object.assign(new this(), values);
  }

  /** With `columns`, only those are read: fewer bytes decoded on a hot path such as a list. */
  static select<M extends Model, K extends ColumnName<M>>(
    this: ModelClass<M>,
    db: Database,
    where: Where<M>,
    options: ProjectedSelectOptions<M, K>,
  ): Promise<Pick<M, K>[]>;
  static select<M extends Model>(this: ModelClass<M>, db: Database, where?: Where<M>, options?: SelectOptions<M>): Promise<M[]>;
  static select<M extends Model>(
    this: ModelClass<M>,
    db: Database,
    where: Where<M> = {},
    options: SelectOptions<M> & { columns?: readonly string[] } = {},
  ): Promise<M[]> {
    return selectRows(this, db, where, options); // not async: selectRows is, and a wrapper adds ticks
  }

  /** The first matching row, or undefined. */
  static async selectOne<M extends Model>(
    this: ModelClass<M>,
    db: Database,
    where: Where<M>,
    options: Pick<SelectOptions<M>, 'orderBy'> = {},
  ): Promise<M | undefined> {
    const rows = await selectRows(this, db, where, { ...options, limit: 1 });
    return rows[0];
  }

  static async count<M extends Model>(this: ModelClass<M>, db: Database, where: Where<M> = {}): Promise<number> {
    const meta = tableMeta(this);
    const params: unknown[] = [];
    const text =
      `SELECT COUNT(*) AS ${quoteIdentifier(db.dialect, 'n')} FROM ${sqlFor(meta, db.dialect).table}` +
      whereClause(meta, db.dialect, where as Fields, params);
    const rows = await db.query<{ n: unknown }>(text, params);
    return Number(rows[0]?.n ?? 0);
  }

  /** SUM of an integer column over the matching rows (0 when none match). */
  static async sum<M extends Model>(this: ModelClass<M>, db: Database, property: ColumnName<M>, where: Where<M> = {}): Promise<number> {
    const meta = tableMeta(this);
    const column = columnOf(meta, property, 'sum');
    if (column.type !== 'int' && column.type !== 'bigint' && column.type !== 'tinyint') {
      throw new TypeError(`${meta.name}.sum: ${property} is not an integer column`);
    }
    const params: unknown[] = [];
    const text =
      `SELECT COALESCE(SUM(${quoteIdentifier(db.dialect, column.name)}), 0) AS ${quoteIdentifier(db.dialect, 'n')} ` +
      `FROM ${sqlFor(meta, db.dialect).table}` +
      whereClause(meta, db.dialect, where as Fields, params);
    const rows = await db.query<{ n: unknown }>(text, params);
    return Number(rows[0]?.n ?? 0); // MySQL returns SUM as a DECIMAL string
  }

  /** `DELETE FROM table WHERE ...`; returns the rows deleted. `where` must not be empty. */
  static async deleteWhere<M extends Model>(this: ModelClass<M>, db: Database, where: Where<M>): Promise<number> {
    const meta = tableMeta(this);
    if (Object.keys(where).length === 0) throw new Error(`${meta.name}.deleteWhere: an empty where would delete every row`);
    const params: unknown[] = [];
    const text = `DELETE FROM ${sqlFor(meta, db.dialect).table}` + whereClause(meta, db.dialect, where as Fields, params);
    return (await db.execute(text, params)).affectedRows;
  }

  /**
   * `UPDATE table SET ... WHERE ...` in one statement; returns the rows matched. Being one
   * statement, a condition on the old value is atomic, e.g. set `{ is_vip: 1 }` where
   * `{ id, is_vip: 0 }` returns 1 to exactly one of many concurrent callers. `where` must not
   * be empty; undefined values in `set` are skipped.
   */
  static async updateWhere<M extends Model>(
    this: ModelClass<M>,
    db: Database,
    set: Partial<Row<M>>,
    where: Where<M>,
  ): Promise<number> {
    const meta = tableMeta(this);
    if (Object.keys(where).length === 0) throw new Error(`${meta.name}.updateWhere: an empty where would update every row`);
    const params: unknown[] = [];
    const assignments = setClause(meta, db.dialect, set as Fields, params, 'updateWhere');
    const text =
      `UPDATE ${sqlFor(meta, db.dialect).table} SET ${assignments}` +
      whereClause(meta, db.dialect, where as Fields, params);
    return (await db.execute(text, params)).affectedRows;
  }

  /**
   * INSERTs this row. Fields left undefined are not sent, so the database defaults apply; the
   * instance then gets the auto-increment id and the declared defaults (null when nullable
   * without a default), so it mirrors the stored row. Throws DuplicateKeyError on a UNIQUE clash.
   */
  async save(db: Database): Promise<this> {
    const meta = tableMeta(this.constructor);
    const fields = this as unknown as Fields;
    const sql = sqlFor(meta, db.dialect);
    const given = meta.columns.filter((column) => fields[column.property] !== undefined);
    const params = given.map((column) => encode(meta, column, fields[column.property], true));
    let text: string;
    if (given.length > 0) {
      const names = given.map((column) => quoteIdentifier(db.dialect, column.name)).join(', ');
      text = `INSERT INTO ${sql.table} (${names}) VALUES (${placeholders(given.length)})`;
    } else {
      text = db.dialect === 'mysql' ? `INSERT INTO ${sql.table} () VALUES ()` : `INSERT INTO ${sql.table} DEFAULT VALUES`;
    }
    const { insertId } = await db.execute(text, params);
    const key = meta.primaryKey;
    if (key.autoIncrement && fields[key.property] === undefined) fields[key.property] = insertId;
    for (const column of meta.columns) {
      if (fields[column.property] !== undefined) continue;
      if (column.hasDefault) fields[column.property] = decode(column, column.default);
      else if (column.nullable) fields[column.property] = null;
    }
    return this;
  }

  /** UPDATEs every non-key column of this row (undefined fields are left as stored); returns rows matched. */
  async update(db: Database): Promise<number> {
    const meta = tableMeta(this.constructor);
    const fields = this as unknown as Fields;
    const key = meta.primaryKey;
    const id = fields[key.property];
    if (id === undefined || id === null) throw new Error(`${meta.name}.update: the row has no ${key.property}; save() it first`);
    const set: Fields = {};
    for (const column of meta.columns) if (!column.primaryKey) set[column.property] = fields[column.property];
    const params: unknown[] = [];
    const assignments = setClause(meta, db.dialect, set, params, 'update');
    params.push(encode(meta, key, id, false));
    const text = `UPDATE ${sqlFor(meta, db.dialect).table} SET ${assignments} WHERE ${quoteIdentifier(db.dialect, key.name)} = ?`;
    return (await db.execute(text, params)).affectedRows;
  }
}

/** A new instance of the same model with the same field values (Dates copied, not shared). */
export function copyInstance<M extends Model>(instance: M): M {
  const source = instance as unknown as Fields;
  const copy = new (instance.constructor as ModelClass<M>)() as unknown as Fields;
  for (const name of Object.keys(source)) {
    const value = source[name];
    copy[name] = value instanceof Date ? new Date(value.getTime()) : value;
  }
  return copy as unknown as M;
}

async function selectRows<M extends Model>(
  cls: ModelClass<M>,
  db: Database,
  where: Where<M>,
  options: SelectOptions<M> & { columns?: readonly string[] },
): Promise<M[]> {
  const meta = tableMeta(cls);
  const sql = sqlFor(meta, db.dialect);
  const read = options.columns === undefined ? sql.all : projectionOf(meta, sql, db.dialect, options.columns);
  const params: unknown[] = [];
  const text =
    `SELECT ${read.list} FROM ${sql.table}` +
    whereClause(meta, db.dialect, where as Fields, params) +
    orderByClause(meta, db.dialect, options.orderBy) +
    limitClause(db.dialect, options.limit, options.offset);
  const rows = await db.query<Fields>(text, params);
  const columns = read.columns;
  const result: M[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const instance = new cls() as unknown as Fields;
    for (const column of columns) instance[column.property] = decode(column, row[column.name]);
    result[i] = instance as unknown as M;
  }
  return result;
}

// ---- SQL pieces, built from metadata only -------------------------------------------------

/** The columns a SELECT reads and their quoted list. */
interface Projection {
  columns: readonly ColumnMeta[];
  list: string;
}

interface TableSql {
  table: string;
  all: Projection;
  /** Projections asked for by `columns`, by property names joined with ','; few shapes per table. */
  projections: Map<string, Projection>;
}

const sqlCache = new WeakMap<TableMeta, Partial<Record<Dialect, TableSql>>>();

function sqlFor(meta: TableMeta, dialect: Dialect): TableSql {
  let byDialect = sqlCache.get(meta);
  if (byDialect === undefined) sqlCache.set(meta, (byDialect = {}));
  return (byDialect[dialect] ??= {
    table: quoteIdentifier(dialect, meta.name),
    all: projection(dialect, meta.columns),
    projections: new Map(),
  });
}

function projection(dialect: Dialect, columns: readonly ColumnMeta[]): Projection {
  return { columns, list: columns.map((column) => quoteIdentifier(dialect, column.name)).join(', ') };
}

function projectionOf(meta: TableMeta, sql: TableSql, dialect: Dialect, properties: readonly string[]): Projection {
  const key = properties.join(',');
  let found = sql.projections.get(key);
  if (found === undefined) {
    if (properties.length === 0) throw new Error(`${meta.name}.select: columns must name at least one column`);
    const columns = [...new Set(properties)].map((property) => columnOf(meta, property, 'columns'));
    found = projection(dialect, columns);
    // Only known column names get here, so the map stays as small as the callers' distinct lists.
    sql.projections.set(key, found);
  }
  return found;
}

function columnOf(meta: TableMeta, property: string, context: string): ColumnMeta {
  const column = meta.byProperty.get(property);
  if (column === undefined) throw new Error(`${meta.name}.${context}: unknown column ${JSON.stringify(property)}`);
  return column;
}

function whereClause(meta: TableMeta, dialect: Dialect, where: Fields, params: unknown[]): string {
  const conditions: string[] = [];
  for (const property of Object.keys(where)) {
    const column = columnOf(meta, property, 'where');
    const value = where[property];
    const name = quoteIdentifier(dialect, column.name);
    if (value === undefined) {
      // Ignoring it would widen the match (a missing request field selecting every row).
      throw new TypeError(`${meta.name}.where: ${property} is undefined (use null for IS NULL)`);
    } else if (value === null) {
      conditions.push(`${name} IS NULL`);
    } else if (Array.isArray(value)) {
      if (value.length === 0) {
        conditions.push('1 = 0');
        continue;
      }
      for (const item of value) params.push(encode(meta, column, item, false, true));
      conditions.push(`${name} IN (${placeholders(value.length)})`);
    } else {
      params.push(encode(meta, column, value, false));
      conditions.push(`${name} = ?`);
    }
  }
  return conditions.length === 0 ? '' : ` WHERE ${conditions.join(' AND ')}`;
}

function setClause(meta: TableMeta, dialect: Dialect, set: Fields, params: unknown[], context: string): string {
  const assignments: string[] = [];
  for (const property of Object.keys(set)) {
    const column = columnOf(meta, property, context);
    const value = set[property];
    if (value === undefined) continue;
    if (column.primaryKey && context === 'updateWhere') throw new Error(`${meta.name}.updateWhere: cannot set the primary key`);
    params.push(encode(meta, column, value, true));
    assignments.push(`${quoteIdentifier(dialect, column.name)} = ?`);
  }
  if (assignments.length === 0) throw new Error(`${meta.name}.${context}: nothing to set`);
  return assignments.join(', ');
}

function orderByClause(
  meta: TableMeta,
  dialect: Dialect,
  orderBy: readonly (readonly [string, 'asc' | 'desc'])[] | undefined,
): string {
  if (orderBy === undefined || orderBy.length === 0) return '';
  const terms = orderBy.map(([property, direction]) => {
    const column = columnOf(meta, property, 'orderBy');
    if (direction !== 'asc' && direction !== 'desc') {
      throw new Error(`${meta.name}.orderBy: direction must be 'asc' or 'desc', got ${describeValue(direction)}`);
    }
    return `${quoteIdentifier(dialect, column.name)} ${direction.toUpperCase()}`;
  });
  return ` ORDER BY ${terms.join(', ')}`;
}

function limitClause(dialect: Dialect, limit: number | undefined, offset: number | undefined): string {
  for (const [label, n] of [['limit', limit], ['offset', offset]] as const) {
    if (n !== undefined && !(Number.isSafeInteger(n) && n >= 0)) {
      throw new RangeError(`${label} must be a non-negative integer, got ${describeValue(n)}`);
    }
  }
  if (limit === undefined && (offset === undefined || offset === 0)) return '';
  // Both engines need a LIMIT before OFFSET; "no limit" is spelled differently.
  const max = dialect === 'mysql' ? '18446744073709551615' : '-1';
  return ` LIMIT ${limit ?? max}${offset ? ` OFFSET ${offset}` : ''}`;
}

function placeholders(count: number): string {
  return count === 1 ? '?' : `?${', ?'.repeat(count - 1)}`;
}

// ---- Column codecs ------------------------------------------------------------------------

/** A JS value to the parameter stored for `column`; throws a TypeError for a value of the wrong kind. */
function encode(meta: TableMeta, column: ColumnMeta, value: unknown, isWrite: boolean, inList = false): unknown {
  const label = `${meta.name}.${column.property}`;
  if (value === null) {
    if (inList) throw new TypeError(`${label}: null inside an IN list never matches; use null alone for IS NULL`);
    if (isWrite && !column.nullable) throw new TypeError(`${label} cannot be null`);
    return null;
  }
  switch (column.type) {
    case 'int':
    case 'bigint':
    case 'tinyint':
      if (column.type === 'tinyint' && typeof value === 'boolean') return value ? 1 : 0;
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new TypeError(`${label} expects an integer, got ${describeValue(value)}`);
      }
      return value;
    case 'string':
    case 'text':
      if (typeof value !== 'string') throw new TypeError(`${label} expects a string, got ${describeValue(value)}`);
      if (isWrite && column.length !== undefined && value.length > column.length && codePoints(value) > column.length) {
        throw new RangeError(`${label} is longer than ${column.length} characters`);
      }
      return value;
    case 'datetime':
      if (!(value instanceof Date)) throw new TypeError(`${label} expects a Date, got ${describeValue(value)}`);
      return toSqlDateTime(value);
  }
}

/** A stored value back to its JS form. */
function decode(column: ColumnMeta, raw: unknown): unknown {
  if (raw === null || raw === undefined) return null;
  switch (column.type) {
    case 'int':
    case 'bigint':
    case 'tinyint':
      return typeof raw === 'number' ? raw : Number(raw);
    case 'string':
    case 'text':
      return typeof raw === 'string' ? raw : String(raw);
    case 'datetime':
      return raw instanceof Date ? raw : fromSqlDateTime(String(raw));
  }
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
