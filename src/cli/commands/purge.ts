/**
 * `cinebox purge --older-than 30d`: the operator removes for good the files of videos
 * deleted longer ago than that. Until then a deleted video's file stays on the disk (and
 * counts against its admin's quota), so a deletion can be undone by hand meanwhile.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ensureSchema, openDatabase } from '../../orm/index.js';
import { allModels } from '../../orm/models/index.js';
import { defaultConfig } from '../../server/config.js';
import { MediaStore } from '../../server/media-store.js';
import { purgeDeleted } from '../../server/purge.js';
import { formatSize } from '../../server/uploads/quota.js';
import { parseDuration } from '../durations.js';

export const command = 'purge';
export const describe = 'Remove the files of videos deleted longer ago than --older-than';

export function builder(yargs: Argv) {
  return yargs
    .option('older-than', { type: 'string', default: '30d', describe: 'Age of the deletion: 30d, 12h, 90m, 0 (every deleted video); a plain number is seconds' })
    .option('db', { type: 'string', default: defaultConfig.db, describe: 'Database URL (as for `cinebox server`)' })
    .option('media-dir', { type: 'string', default: defaultConfig.mediaDir, describe: 'Media directory (as for `cinebox server`)' })
    .option('dry-run', { type: 'boolean', default: false, describe: 'Only say what would be purged' })
    .example('$0 purge --older-than 30d', 'free the space of videos deleted a month ago or more');
}

type Args = ArgumentsCamelCase<{ olderThan: string; db: string; mediaDir: string; dryRun: boolean }>;

export async function handler(args: Args): Promise<void> {
  const olderThanMs = parseDuration(args.olderThan) * 1000;
  const db = await openDatabase(args.db);
  try {
    await ensureSchema(db, allModels);
    const media = new MediaStore(args.mediaDir);
    const { videos, bytes } = await purgeDeleted({ db, media }, olderThanMs, { dryRun: args.dryRun });
    const verb = args.dryRun ? 'would purge' : 'purged';
    console.log(`${verb} ${videos} deleted video${videos === 1 ? '' : 's'} (${formatSize(bytes)}) deleted more than ${args.olderThan} ago`);
  } finally {
    await db.close();
  }
}
