/**
 * `@table` on a class and `@column` on each persisted property turn a model into a table
 * description. TypeScript's `experimentalDecorators`, not TC39 ones: vitest's Oxc transform
 * does not lower the standard ones (why in docs/design.md); each column names its SQL type.
 */
export type ColumnType = 'int' | 'bigint' | 'tinyint' | 'string' | 'text' | 'datetime';

export interface ColumnSpec {
  type: ColumnType;
  /** Maximum characters of a `string` column (VARCHAR(n)); default 255. */
  length?: number;
  primaryKey?: boolean;
  autoIncrement?: boolean;
  /** Columns are NOT NULL unless this is true. */
  nullable?: boolean;
  unique?: boolean;
  /** A literal default (never an SQL expression). */
  default?: string | number | null;
  /** The column's name in the database; default: the property name. */
  name?: string;
}

export interface TableOptions {
  /** Multi-column UNIQUE constraints, by property name. */
  unique?: string[][];
  /** Secondary indexes, by property name. */
  indexes?: string[][];
}

export interface ColumnMeta {
  /** The property on the model instance. */
  readonly property: string;
  /** The column in the database. */
  readonly name: string;
  readonly type: ColumnType;
  /** VARCHAR length for `string` columns, undefined otherwise. */
  readonly length: number | undefined;
  readonly primaryKey: boolean;
  readonly autoIncrement: boolean;
  readonly nullable: boolean;
  /** Declared `unique: true` (also listed in TableMeta.unique). */
  readonly unique: boolean;
  /** True when the spec declares a default (which may be null). */
  readonly hasDefault: boolean;
  readonly default: string | number | null | undefined;
}

export interface TableMeta {
  readonly name: string;
  readonly columns: readonly ColumnMeta[];
  readonly primaryKey: ColumnMeta;
  /** UNIQUE constraints, single-column ones (`unique: true`) included. */
  readonly unique: readonly (readonly ColumnMeta[])[];
  readonly indexes: readonly (readonly ColumnMeta[])[];
  /** Column by property name; undefined for anything that is not a column. */
  readonly byProperty: ReadonlyMap<string, ColumnMeta>;
}

// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
type AnyClass = Function;

/** Columns collected by `@column`, per class, until `@table` seals them into a TableMeta. */
const columnsByClass = new WeakMap<AnyClass, ColumnMeta[]>();
const tablesByClass = new WeakMap<AnyClass, TableMeta>();

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const INTEGER_TYPES: ReadonlySet<ColumnType> = new Set(['int', 'bigint', 'tinyint']);

/** Marks a property as a column. Property decorators run before the class decorator. */
export function column(spec: ColumnSpec) {
  return (prototype: object, property: string | symbol): void => {
    if (typeof property !== 'string') throw new Error('@column: symbol properties cannot be columns');
    const cls = prototype.constructor;
    const where = `@column on ${cls.name}.${property}`;
    const meta = columnMeta(spec, property, where);
    const columns = columnsByClass.get(cls) ?? [];
    if (columns.some((c) => c.property === property || c.name === meta.name)) {
      throw new Error(`${where}: column ${meta.name} is declared twice`);
    }
    columns.push(meta);
    columnsByClass.set(cls, columns);
  };
}

/** Marks a class as the model of table `name`. */
export function table(name: string, options: TableOptions = {}) {
  return (cls: AnyClass): void => {
    const where = `@table(${JSON.stringify(name)}) on ${cls.name}`;
    if (!IDENTIFIER.test(name)) throw new Error(`${where}: the table name must be a plain SQL identifier`);
    const columns = inheritedColumns(cls);
    if (columns.length === 0) throw new Error(`${where}: no @column properties`);
    const keys = columns.filter((c) => c.primaryKey);
    if (keys.length !== 1) throw new Error(`${where}: exactly one primaryKey column is required, found ${keys.length}`);
    const byProperty = new Map(columns.map((c) => [c.property, c]));
    const resolve = (kind: string) => (properties: string[]): ColumnMeta[] => {
      if (properties.length === 0) throw new Error(`${where}: an empty ${kind} list`);
      return properties.map((property) => {
        const found = byProperty.get(property);
        if (found === undefined) throw new Error(`${where}: ${kind} names unknown column ${JSON.stringify(property)}`);
        return found;
      });
    };
    const unique = [
      ...columns.filter((c) => c.unique && !c.primaryKey).map((c) => [c]),
      ...(options.unique ?? []).map(resolve('unique')),
    ];
    tablesByClass.set(cls, {
      name,
      columns,
      primaryKey: keys[0]!,
      unique,
      indexes: (options.indexes ?? []).map(resolve('index')),
      byProperty,
    });
  };
}

/** The table description of a `@table` class; throws a clear error for anything else. */
export function tableMeta(cls: AnyClass): TableMeta {
  const meta = tablesByClass.get(cls);
  if (meta === undefined) {
    const name = typeof cls === 'function' && cls.name ? cls.name : String(cls);
    throw new Error(`${name} is not a model: decorate the class with @table(name) and its fields with @column(spec)`);
  }
  return meta;
}

function columnMeta(spec: ColumnSpec, property: string, where: string): ColumnMeta {
  const name = spec.name ?? property;
  if (!IDENTIFIER.test(name)) throw new Error(`${where}: the column name must be a plain SQL identifier`);
  const type = spec.type;
  if (!['int', 'bigint', 'tinyint', 'string', 'text', 'datetime'].includes(type)) {
    throw new Error(`${where}: unknown type ${JSON.stringify(type)}`);
  }
  let length: number | undefined;
  if (type === 'string') {
    length = spec.length ?? 255;
    if (!Number.isInteger(length) || length < 1 || length > 16_383) {
      throw new Error(`${where}: length must be an integer from 1 to 16383`);
    }
  } else if (spec.length !== undefined) {
    throw new Error(`${where}: length applies to string columns only`);
  }
  const primaryKey = spec.primaryKey === true;
  const autoIncrement = spec.autoIncrement === true;
  const nullable = spec.nullable === true;
  if (autoIncrement && !(primaryKey && (type === 'int' || type === 'bigint'))) {
    throw new Error(`${where}: autoIncrement needs an int or bigint primaryKey`);
  }
  if (primaryKey && nullable) throw new Error(`${where}: a primaryKey cannot be nullable`);
  const hasDefault = 'default' in spec && spec.default !== undefined;
  if (hasDefault) checkDefault(spec.default!, type, nullable, where);
  return {
    property,
    name,
    type,
    length,
    primaryKey,
    autoIncrement,
    nullable,
    unique: spec.unique === true,
    hasDefault,
    default: spec.default,
  };
}

function checkDefault(value: string | number | null, type: ColumnType, nullable: boolean, where: string): void {
  if (value === null) {
    if (!nullable) throw new Error(`${where}: default null on a column that is not nullable`);
    return;
  }
  if (INTEGER_TYPES.has(type)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new Error(`${where}: the default must be an integer`);
  } else if (typeof value !== 'string') {
    throw new Error(`${where}: the default must be a string`);
  } else if (type === 'datetime' && !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,3})?$/.test(value)) {
    throw new Error(`${where}: a datetime default must be 'YYYY-MM-DD HH:MM:SS[.mmm]' (UTC)`);
  }
}

/** Own columns plus those of decorated base classes, base first; a subclass may redeclare one. */
function inheritedColumns(cls: AnyClass): ColumnMeta[] {
  const chain: AnyClass[] = [];
  for (let c: unknown = cls; typeof c === 'function' && c !== Function.prototype; c = Object.getPrototypeOf(c)) {
    chain.unshift(c as AnyClass);
  }
  const byProperty = new Map<string, ColumnMeta>();
  for (const c of chain) for (const column of columnsByClass.get(c) ?? []) byProperty.set(column.property, column);
  return [...byProperty.values()];
}
