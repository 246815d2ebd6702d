/**
 * InnoDB picks one statement of a deadlock as its victim and rolls it back. An autocommit
 * statement through the pool is run again (it had no effect); the caller never sees the
 * deadlock. A real one is made here: a heavier transaction holds row 1 and then asks for
 * row 2, which the pool's statement took on its way to row 1.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../src/orm/index.js';
import { freshDatabaseUrl, MYSQL_URL, type FreshDatabase } from '../helpers/databases.js';

describe.skipIf(MYSQL_URL === undefined)('a deadlock on MySQL', () => {
  let dir: string;
  let fresh: FreshDatabase;
  let db: Database;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cinebox-deadlock-'));
    fresh = await freshDatabaseUrl('mysql', dir);
    db = await openDatabase(fresh.url);
    await db.execute('CREATE TABLE pair (id INT PRIMARY KEY, k INT NOT NULL, v INT NOT NULL, KEY (k)) ENGINE=InnoDB');
    await db.execute('CREATE TABLE filler (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
    await db.execute('INSERT INTO pair VALUES (1, 2, 0), (2, 1, 0)');
    await db.execute(`INSERT INTO filler VALUES ${Array.from({ length: 200 }, (_, i) => `(${i}, 0)`).join(', ')}`);
  });
  afterAll(async () => {
    await db?.close();
    await fresh?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('an autocommit statement chosen as the victim runs again, and both writes land', async () => {
    const heavy = await mysql.createConnection(fresh.url);
    try {
      await heavy.query('SET SESSION innodb_lock_wait_timeout = 20');
      await heavy.beginTransaction();
      await heavy.query('UPDATE filler SET v = v + 1'); // 200 rows: the heavier side, never the victim
      await heavy.query('UPDATE pair SET v = v + 1 WHERE id = 1');
      // Through the pool, along k's index: it locks row 2 (k = 1), then waits for row 1.
      const light = db.execute('UPDATE pair FORCE INDEX (k) SET v = v + 10 WHERE k >= 0');
      for (let i = 0; i < 200; i++) {
        const [waiting] = await heavy.query("SELECT COUNT(*) AS n FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'");
        if (Number((waiting as { n: number }[])[0]!.n) > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await heavy.query('UPDATE pair SET v = v + 1 WHERE id = 2'); // the cycle: InnoDB rolls the light one back
      await heavy.commit();
      await expect(light).resolves.toMatchObject({ affectedRows: 2 });
      expect(await db.query('SELECT id, v FROM pair ORDER BY id')).toEqual([{ id: 1, v: 11 }, { id: 2, v: 11 }]);
    } finally {
      await heavy.end();
    }
  });
});
