/**
 * Which databases the suites run against, and a fresh, private database per suite.
 * SQLite always; MySQL when MYSQL_URL is set (e.g. mysql://root@127.0.0.1:3306/test).
 * CI sets CINEBOX_REQUIRE_MYSQL=1 so that a missing MYSQL_URL fails instead of skipping.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { ensureSchema, openDatabase, type Database } from '../../src/orm/index.js';
import { allModels } from '../../src/orm/models/index.js';

export type DatabaseKind = 'sqlite' | 'mysql';

export const MYSQL_URL: string | undefined = process.env.MYSQL_URL || undefined;

if (MYSQL_URL === undefined) {
  if (process.env.CINEBOX_REQUIRE_MYSQL === '1') {
    throw new Error('CINEBOX_REQUIRE_MYSQL=1 but MYSQL_URL is not set: the MySQL suites cannot run');
  }
  console.warn('MYSQL_URL is not set: MySQL suites are skipped');
}

export const databaseKinds: DatabaseKind[] = MYSQL_URL === undefined ? ['sqlite'] : ['sqlite', 'mysql'];

export interface FreshDatabase {
  url: string;
  /** Removes the database (SQLite: the file and its WAL files). Close connections first. */
  drop(): Promise<void>;
}

/**
 * A database no other test file touches: a new SQLite file under `dir`, or a new MySQL
 * database `cinebox_t_<hex>` on the MYSQL_URL server (so files running in parallel never
 * share tables).
 */
export async function freshDatabaseUrl(kind: DatabaseKind, dir: string): Promise<FreshDatabase> {
  const suffix = randomBytes(6).toString('hex');
  if (kind === 'sqlite') {
    const path = `${dir}/cinebox-${suffix}.db`;
    return {
      url: `sqlite:${path}`,
      drop: async () => {
        for (const file of [path, `${path}-wal`, `${path}-shm`]) await rm(file, { force: true });
      },
    };
  }
  if (MYSQL_URL === undefined) throw new Error('freshDatabaseUrl("mysql") needs MYSQL_URL');
  const name = `cinebox_t_${suffix}`;
  await onServer((connection) =>
    connection.query(`CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`),
  );
  const url = new URL(MYSQL_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => onServer((connection) => connection.query(`DROP DATABASE IF EXISTS \`${name}\``)),
  };
}

/** Runs `fn` on a short-lived connection to the MYSQL_URL server. */
async function onServer(fn: (connection: mysql.Connection) => Promise<unknown>): Promise<void> {
  const connection = await mysql.createConnection(MYSQL_URL!);
  try {
    await fn(connection);
  } finally {
    await connection.end();
  }
}

export interface TestDatabase {
  db: Database;
  /** Closes the handle, drops the database and removes the temp dir. */
  close(): Promise<void>;
}

/** A fresh database of `kind` with every model's table, open and ready (ORM suites). */
export async function openTestDatabase(kind: DatabaseKind): Promise<TestDatabase> {
  const dir = await mkdtemp(join(tmpdir(), 'cinebox-orm-'));
  const fresh = await freshDatabaseUrl(kind, dir);
  const db = await openDatabase(fresh.url);
  await ensureSchema(db, allModels);
  return {
    db,
    async close() {
      await db.close();
      await fresh.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
