/**
 * Whether the database keeps a committed transaction through a power cut, read from the
 * engine's own settings. SQLite's is ours (connect.ts sets it); MySQL's belongs to the
 * server: InnoDB writes and flushes its log at every commit only with
 * innodb_flush_log_at_trx_commit=1, and with the binary log on, sync_binlog=1 keeps the
 * binlog (which replication and crash recovery trust) in step with it.
 */
import type { Database } from './database.js';

/** What falls short of durable commits, in words an operator can act on; empty when nothing does. */
export async function durabilityWarnings(db: Database): Promise<string[]> {
  if (db.dialect === 'sqlite') {
    const [journal] = await db.query<{ journal_mode: string }>('PRAGMA journal_mode');
    const [sync] = await db.query<{ synchronous: number }>('PRAGMA synchronous');
    const warnings: string[] = [];
    if (journal && journal.journal_mode !== 'wal' && journal.journal_mode !== 'memory') warnings.push(`SQLite journal_mode is ${journal.journal_mode}, expected wal`);
    if (journal?.journal_mode === 'wal' && sync && Number(sync.synchronous) < 2) {
      warnings.push(`SQLite synchronous=${Number(sync.synchronous)} in WAL mode: the last commits may be lost in a power cut (FULL = 2 keeps them)`);
    }
    return warnings;
  }
  const [row] = await db.query<Record<string, unknown>>(
    'SELECT @@innodb_flush_log_at_trx_commit AS flush, @@sync_binlog AS sync_binlog, @@log_bin AS log_bin',
  );
  const warnings: string[] = [];
  if (Number(row?.flush) !== 1) {
    warnings.push(`MySQL innodb_flush_log_at_trx_commit=${String(row?.flush)}: commits of about the last second may be lost in a power cut (set it to 1)`);
  }
  if (Number(row?.log_bin) === 1 && Number(row?.sync_binlog) !== 1) {
    warnings.push(`MySQL sync_binlog=${String(row?.sync_binlog)} with the binary log on: the binlog may lose commits InnoDB kept in a power cut (set it to 1)`);
  }
  return warnings;
}
