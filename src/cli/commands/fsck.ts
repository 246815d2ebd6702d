/**
 * `cinebox fsck`: checks that every live video's file is in the media store with its row's
 * size (and with --full its SHA-256, read at --rate so it can run while servers serve), that
 * every file has a row and every partial matches its upload row; --repair fixes what can
 * be fixed safely (src/server/fsck/check-store.ts). Exit code 1 while a problem remains.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { pino } from 'pino';
import { openDatabase, ensureSchema } from '../../orm/index.js';
import { allModels } from '../../orm/models/index.js';
import { configWith, defaultConfig } from '../../server/config.js';
import { LocalBus } from '../../server/events/event-bus.js';
import { EventHub } from '../../server/events/event-hub.js';
import { ensureEventSequence } from '../../server/events/event-store.js';
import { checkStore } from '../../server/fsck/check-store.js';
import { ListCache } from '../../server/media/list-cache.js';
import { MemoryCatalog } from '../../server/media/memory-catalog.js';
import { GuessWaits } from '../../server/auth/guess-waits.js';
import { HashQueue } from '../../server/auth/hash-queue.js';
import { MediaStore } from '../../server/media-store.js';
import { parseSize } from '../sizes.js';

export const command = 'fsck';
export const describe = 'Check (and with --repair fix) the media store against the database';

export function builder(yargs: Argv) {
  return yargs
    .option('db', { type: 'string', default: defaultConfig.db, describe: 'Database URL (as for `cinebox server`)' })
    .option('media-dir', { type: 'string', default: defaultConfig.mediaDir, describe: 'The media directory (as for `cinebox server`)' })
    .option('full', { type: 'boolean', default: false, describe: 'Also hash every live video and compare its SHA-256' })
    .option('rate', { type: 'string', default: '64M', describe: 'With --full: bytes per second to read at most (0 = no limit)' })
    .option('repair', {
      type: 'boolean',
      default: false,
      describe: 'Fix what can be fixed: bad files are quarantined in .quarantine/ and their videos hidden, never deleted',
    })
    .option('upload-lease', { type: 'number', default: defaultConfig.uploadLeaseSeconds, describe: "The servers' --upload-lease: uploads active within it are left alone" })
    .option('json', { type: 'boolean', default: false, describe: 'Print the report as JSON' });
}

type Args = ArgumentsCamelCase<{ db: string; mediaDir: string; full: boolean; rate: string; repair: boolean; uploadLease: number; json: boolean }>;

export async function handler(args: Args): Promise<void> {
  const config = configWith({ db: args.db, mediaDir: args.mediaDir, uploadLeaseSeconds: args.uploadLease });
  // Opening a SQLite path creates the file: a mistyped --db would check against an empty database.
  const sqlitePath = /^sqlite:(?:\/\/)?(.+)$/.exec(config.db)?.[1];
  if (sqlitePath && sqlitePath !== ':memory:' && !existsSync(resolve(sqlitePath))) throw new Error(`no database at ${resolve(sqlitePath)} (give the server's --db)`);
  if (!existsSync(config.mediaDir)) throw new Error(`no media directory at ${resolve(config.mediaDir)} (give the server's --media-dir)`);
  const db = await openDatabase(config.db);
  try {
    await ensureSchema(db, allModels);
    const media = new MediaStore(config.mediaDir);
    await media.init();
    await ensureEventSequence(db);
    // Every problem, repaired or not, is printed below: no log lines besides.
    const log = pino({ level: 'silent' });
    // A hidden video is recorded as an event; running servers deliver it with their next read of the table.
    const events = new EventHub(db, new LocalBus(), log, { queueLimit: config.subscriberQueueLimit });
    const report = await checkStore(
      // This process lists nothing; the servers' list caches see the hidden video in the catalog's version (its event, docs/media.md).
      {
        config, db, media, log, events, hashes: HashQueue.forConfig(config), guessWaits: GuessWaits.forConfig(config),
        catalog: new ListCache(), videos: new MemoryCatalog(db, async () => '', 0),
      },
      { full: args.full, bytesPerSecond: parseSize(args.rate), repair: args.repair ? 'all' : 'none' },
    );
    if (args.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      for (const problem of report.problems) {
        console.log(`${problem.kind}: ${problem.detail}${problem.repaired ? ` -> repaired: ${problem.repaired}` : ''}`);
      }
      const hashed = args.full ? `, ${report.bytesHashed} bytes hashed` : '';
      console.log(`${report.videosChecked} videos checked${hashed}: ${report.problems.length} problems, ${report.remaining} remaining`);
      if (report.refused) console.log(report.refused);
      else if (report.remaining > 0 && !args.repair) console.log('run `cinebox fsck --repair` to fix what can be fixed');
    }
    if (report.remaining > 0) process.exitCode = 1;
  } finally {
    await db.close();
  }
}
