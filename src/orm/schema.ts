import { type Database, type Dialect, quoteIdentifier } from './database.js';
import { type ColumnMeta, type TableMeta, tableMeta } from './decorators.js';

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type ModelClassLike = Function;

const HEADER = [
  '-- cinebox database schema for %DIALECT%.',
  '-- Generated from src/orm/models by `npm run schema`; do not edit by hand.',
].join('\n');

/** `CREATE TABLE IF NOT EXISTS` for one model (SQLite: followed by its CREATE INDEX statements). */
export function createTableSql(modelClass: ModelClassLike, dialect: Dialect): string {
  return tableStatements(tableMeta(modelClass), dialect).join(';\n');
}

/** Every statement for these models, in order, without trailing semicolons. */
export function schemaStatements(models: readonly ModelClassLike[], dialect: Dialect): string[] {
  return models.flatMap((model) => tableStatements(tableMeta(model), dialect));
}

/** The whole schema as one SQL script (sql/schema.sql is this, for MySQL). */
export function schemaSql(models: readonly ModelClassLike[], dialect: Dialect): string {
  const header = HEADER.replace('%DIALECT%', dialect === 'mysql' ? 'MySQL / MariaDB' : 'SQLite');
  return `${header}\n\n${schemaStatements(models, dialect).map((statement) => `${statement};\n`).join('\n')}`;
}

/**
 * Creates missing tables and indexes; safe to run at every start. It never alters an
 * existing table: a changed model needs a migration by hand (README, "Upgrading"), and a
 * table that lacks a model's column is reported here, at start, rather than as a failed
 * statement in the middle of a request.
 */
export async function ensureSchema(db: Database, models: readonly ModelClassLike[]): Promise<void> {
  const tables = models.map((model) => tableMeta(model));
  const statements = tables.map((meta) => tableStatements(meta, db.dialect));
  // Tables first, then the check, then (SQLite) the indexes, which would fail on a missing column.
  for (const [createTable] of statements) await db.execute(createTable!);
  await assertColumnsPresent(db, tables);
  for (const [, ...indexes] of statements) for (const statement of indexes) await db.execute(statement);
}

async function assertColumnsPresent(db: Database, tables: readonly TableMeta[]): Promise<void> {
  const stale: string[] = [];
  for (const meta of tables) {
    const present = new Set((await db.query<{ name: string }>(columnsSql(db.dialect), [meta.name])).map((row) => row.name));
    const missing = meta.columns.filter((column) => !present.has(column.name)).map((column) => column.name);
    if (missing.length) stale.push(`table ${meta.name} lacks ${missing.join(', ')}`);
  }
  if (stale.length) {
    throw new Error(`the database was made by an older cinebox (${stale.join('; ')}): see "Upgrading" in the README`);
  }
}

function columnsSql(dialect: Dialect): string {
  return dialect === 'mysql'
    ? 'SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?'
    : 'SELECT name FROM pragma_table_info(?)';
}

function tableStatements(meta: TableMeta, dialect: Dialect): string[] {
  return dialect === 'mysql' ? [mysqlTable(meta)] : [sqliteTable(meta), ...sqliteIndexes(meta)];
}

function mysqlTable(meta: TableMeta): string {
  const q = (name: string) => quoteIdentifier('mysql', name);
  const list = (columns: readonly ColumnMeta[]) => columns.map((c) => q(c.name)).join(', ');
  const lines = [
    ...meta.columns.map((column) => `${q(column.name)} ${mysqlColumn(column)}`),
    `PRIMARY KEY (${q(meta.primaryKey.name)})`,
    ...meta.unique.map((columns) => `UNIQUE KEY ${q(constraintName('uq', meta, columns))} (${list(columns)})`),
    ...meta.indexes.map((columns) => `KEY ${q(constraintName('idx', meta, columns))} (${list(columns)})`),
  ];
  // utf8mb4_bin: names compare exactly as in SQLite (the server default collation ignores case).
  return (
    `CREATE TABLE IF NOT EXISTS ${q(meta.name)} (\n  ${lines.join(',\n  ')}\n)` +
    ' ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin'
  );
}

function mysqlColumn(column: ColumnMeta): string {
  const type = {
    int: 'INT',
    bigint: 'BIGINT',
    tinyint: 'TINYINT',
    string: `VARCHAR(${column.length})`,
    text: 'TEXT',
    datetime: 'DATETIME(3)',
  }[column.type];
  return [
    type,
    column.nullable ? 'NULL' : 'NOT NULL',
    column.autoIncrement ? 'AUTO_INCREMENT' : '',
    column.hasDefault ? `DEFAULT ${literal(column.default!, 'mysql')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function sqliteTable(meta: TableMeta): string {
  const q = (name: string) => quoteIdentifier('sqlite', name);
  const lines = [
    ...meta.columns.map((column) => `${q(column.name)} ${sqliteColumn(column)}`),
    ...meta.unique.map((columns) => `UNIQUE (${columns.map((c) => q(c.name)).join(', ')})`),
  ];
  // STRICT: SQLite rejects a value of the wrong type, as MySQL's strict mode does.
  return `CREATE TABLE IF NOT EXISTS ${q(meta.name)} (\n  ${lines.join(',\n  ')}\n) STRICT`;
}

function sqliteColumn(column: ColumnMeta): string {
  const type = column.type === 'string' || column.type === 'text' || column.type === 'datetime' ? 'TEXT' : 'INTEGER';
  if (column.primaryKey) return `${type} ${column.autoIncrement ? 'PRIMARY KEY AUTOINCREMENT' : 'NOT NULL PRIMARY KEY'}`;
  return [
    type,
    column.nullable ? '' : 'NOT NULL',
    column.hasDefault ? `DEFAULT ${literal(column.default!, 'sqlite')}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

function sqliteIndexes(meta: TableMeta): string[] {
  const q = (name: string) => quoteIdentifier('sqlite', name);
  return meta.indexes.map(
    (columns) =>
      `CREATE INDEX IF NOT EXISTS ${q(constraintName('idx', meta, columns))} ` +
      `ON ${q(meta.name)} (${columns.map((c) => q(c.name)).join(', ')})`,
  );
}

/** e.g. uq_purchase_user_id_movie_id; SQLite index names are database-wide, hence the table. */
function constraintName(prefix: string, meta: TableMeta, columns: readonly ColumnMeta[]): string {
  return [prefix, meta.name, ...columns.map((c) => c.name)].join('_').slice(0, 64);
}

/** A default from metadata as an SQL literal. */
function literal(value: string | number | null, dialect: Dialect): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  const escaped = value.replace(/'/g, "''");
  return `'${dialect === 'mysql' ? escaped.replace(/\\/g, '\\\\') : escaped}'`;
}
