import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  Model,
  column,
  createTableSql,
  ensureSchema,
  openDatabase,
  schemaSql,
  table,
  tableMeta,
} from '../../src/orm/index.js';
import { allModels, Purchase, User } from '../../src/orm/models/index.js';
import { databaseKinds, freshDatabaseUrl } from '../helpers/databases.js';

const SCHEMA_FILE = fileURLToPath(new URL('../../sql/schema.sql', import.meta.url));
const REGENERATE = 'CINEBOX_WRITE_SCHEMA=1 npx vitest run test/orm/schema.test.ts';

/** Column names in the order a CREATE TABLE statement declares them. */
function declaredColumns(ddl: string): string[] {
  const body = ddl.slice(ddl.indexOf('(') + 1, ddl.lastIndexOf(')'));
  return [...body.matchAll(/^\s+[`"](\w+)[`"] /gm)].map((match) => match[1]!);
}

describe('schema', () => {
  it('sql/schema.sql is schemaSql(allModels, "mysql")', () => {
    const generated = schemaSql(allModels, 'mysql');
    if (process.env.CINEBOX_WRITE_SCHEMA === '1') writeFileSync(SCHEMA_FILE, generated);
    const onDisk = existsSync(SCHEMA_FILE) ? readFileSync(SCHEMA_FILE, 'utf8') : '';
    expect(onDisk, `sql/schema.sql is out of date with src/orm/models: regenerate it with \`${REGENERATE}\``).toBe(
      generated,
    );
    expect(generated).toMatch(/^-- .*\n-- Generated from src\/orm\/models by `npm run schema`/);
  });

  it('MySQL and SQLite DDL come from the same metadata', () => {
    for (const model of allModels) {
      const names = tableMeta(model).columns.map((c) => c.name);
      expect(declaredColumns(createTableSql(model, 'mysql'))).toEqual(names);
      expect(declaredColumns(createTableSql(model, 'sqlite'))).toEqual(names);
    }
    expect(createTableSql(User, 'mysql')).toContain('ENGINE=InnoDB DEFAULT CHARSET=utf8mb4');
    expect(createTableSql(User, 'mysql')).toContain('`id` INT NOT NULL AUTO_INCREMENT');
    expect(createTableSql(User, 'mysql')).toContain('`register_time` DATETIME(3) NOT NULL');
    expect(createTableSql(User, 'mysql')).toContain('UNIQUE KEY `uq_user_name` (`name`)');
    expect(createTableSql(User, 'sqlite')).toContain('"id" INTEGER PRIMARY KEY AUTOINCREMENT');
    expect(createTableSql(Purchase, 'sqlite')).toContain('UNIQUE ("user_id", "movie_id")');
    expect(schemaSql(allModels, 'sqlite')).toContain(
      'CREATE INDEX IF NOT EXISTS "idx_movie_is_delete_is_free" ON "movie" ("is_delete", "is_free")',
    );
  });

  it('the SQLite tables created from the metadata have exactly the model columns', async () => {
    const db = await openDatabase('sqlite::memory:');
    try {
      await ensureSchema(db, allModels);
      for (const model of allModels) {
        const meta = tableMeta(model);
        const info = await db.query<{ name: string }>(`PRAGMA table_info("${meta.name}")`);
        expect(info.map((row) => row.name)).toEqual(meta.columns.map((c) => c.name));
      }
    } finally {
      await db.close();
    }
  });
});

describe('decorators (experimentalDecorators) under vitest', () => {
  @table('gadget', { indexes: [['label']] })
  class Gadget extends Model {
    @column({ type: 'int', primaryKey: true, autoIncrement: true })
    id!: number;

    @column({ type: 'string', length: 20, name: 'gadget_label' })
    label!: string;

    @column({ type: 'datetime', nullable: true })
    seen_at!: Date | null;
  }

  it('a model declared in a test file is registered and usable', async () => {
    const meta = tableMeta(Gadget);
    expect(meta.name).toBe('gadget');
    expect(meta.columns.map((c) => [c.property, c.name, c.type])).toEqual([
      ['id', 'id', 'int'],
      ['label', 'gadget_label', 'string'],
      ['seen_at', 'seen_at', 'datetime'],
    ]);
    const gadget = Gadget.from({ label: 'lamp' });
    expect(gadget).toBeInstanceOf(Gadget);
    expect(JSON.parse(JSON.stringify(gadget))).toEqual({ label: 'lamp' });

    const db = await openDatabase('sqlite::memory:');
    try {
      await ensureSchema(db, [Gadget]);
      await gadget.save(db);
      expect(gadget).toMatchObject({ id: 1, seen_at: null });
      expect(await db.query('SELECT * FROM "gadget"')).toEqual([{ id: 1, gadget_label: 'lamp', seen_at: null }]);
      expect(await Gadget.select(db, { label: 'lamp' })).toEqual([gadget]);
    } finally {
      await db.close();
    }
  });

  it('metadata mistakes fail at class definition, with clear messages', () => {
    class Plain extends Model {}
    expect(() => tableMeta(Plain)).toThrow(/Plain is not a model: decorate the class with @table/);
    expect(() => {
      @table('two_keys')
      class TwoKeys extends Model {
        @column({ type: 'int', primaryKey: true })
        a!: number;

        @column({ type: 'int', primaryKey: true })
        b!: number;
      }
      return TwoKeys;
    }).toThrow(/exactly one primaryKey/);
    expect(() => {
      @table('bad_index', { indexes: [['missing']] })
      class BadIndex extends Model {
        @column({ type: 'int', primaryKey: true })
        id!: number;
      }
      return BadIndex;
    }).toThrow(/unknown column "missing"/);
    expect(() => column({ type: 'string', name: 'x; DROP' })(Plain.prototype, 'x')).toThrow(/plain SQL identifier/);
  });
});

describe.each(databaseKinds)('a database made by an older cinebox (%s)', (kind) => {
  it('is refused at start, naming the table and the missing column, and the README says how to upgrade', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cinebox-schema-'));
    const fresh = await freshDatabaseUrl(kind, dir);
    const db = await openDatabase(fresh.url);
    try {
      // The upload table as it was before it gained file_md5.
      await db.execute(
        kind === 'mysql'
          ? 'CREATE TABLE `upload` (`id` INT NOT NULL AUTO_INCREMENT PRIMARY KEY, `user_id` INT NOT NULL, `sha256` VARCHAR(64) NOT NULL, `temp_name` VARCHAR(64) NOT NULL, `total_size` BIGINT NOT NULL, `received_bytes` BIGINT NOT NULL DEFAULT 0, `holder` VARCHAR(64) NULL, `create_time` DATETIME(3) NOT NULL, `updated_time` DATETIME(3) NOT NULL)'
          : 'CREATE TABLE "upload" ("id" INTEGER PRIMARY KEY AUTOINCREMENT, "user_id" INTEGER NOT NULL, "sha256" TEXT NOT NULL, "temp_name" TEXT NOT NULL, "total_size" INTEGER NOT NULL, "received_bytes" INTEGER NOT NULL DEFAULT 0, "holder" TEXT, "create_time" TEXT NOT NULL, "updated_time" TEXT NOT NULL) STRICT',
      );
      await expect(ensureSchema(db, allModels)).rejects.toThrow(/older cinebox \(table upload lacks file_md5, holder_node, holder_run\).*"Upgrading" in the README/);
      expect(readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8')).toMatch(/^### Upgrading/m);
      // The README's way out: the upload table holds only cut uploads; recreated, it passes.
      await db.execute(kind === 'mysql' ? 'DROP TABLE `upload`' : 'DROP TABLE "upload"');
      await ensureSchema(db, allModels);
      expect(await db.query('SELECT * FROM upload')).toEqual([]);
    } finally {
      await db.close();
      await fresh.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
