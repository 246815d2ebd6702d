export { openDatabase } from './connect.js';
export {
  type Database,
  type Dialect,
  type ExecuteResult,
  DuplicateKeyError,
  fromSqlDateTime,
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
export { type ColumnName, type ModelClass, type Row, type SelectOptions, type Where, Model } from './model.js';
export { MysqlDatabase, type MysqlOptions } from './mysql.js';
export { createTableSql, ensureSchema, schemaSql, schemaStatements } from './schema.js';
export { SqliteDatabase, type SqliteOptions } from './sqlite.js';
export * from './models/index.js';
