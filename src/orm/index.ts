export { describeDatabase, openDatabase, sqliteFileOf } from './connect.js';
export {
  type Database,
  type Dialect,
  type ExecuteResult,
  DuplicateKeyError,
  fromSqlDateTime,
  quoteIdentifier,
  toSqlDateTime,
} from './database.js';
export {
  type ColumnMeta,
  type ColumnSpec,
  type ColumnType,
  type TableMeta,
  type TableOptions,
  column,
  table,
  tableMeta,
} from './decorators.js';
export { IdLoader } from './id-loader.js';
export { type ColumnName, type ModelClass, type Row, type SelectOptions, type Where, Model } from './model.js';
// Types only: a dialect's driver (mysql2 alone is ~17 MB of RSS) loads when openDatabase needs it.
export type { MysqlDatabase, MysqlOptions } from './mysql.js';
export { durabilityWarnings } from './durability.js';
export { createTableSql, ensureSchema, schemaSql, schemaStatements } from './schema.js';
export type { SqliteDatabase, SqliteOptions } from './sqlite.js';
export * from './models/index.js';
