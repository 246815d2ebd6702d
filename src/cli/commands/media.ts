/**
 * `cinebox media scan`: the operator fills in the media facts of videos stored before the
 * server probed them (or while ffprobe was missing), straight against the database and the
 * media directory, as create-admin does.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ensureSchema, openDatabase } from '../../orm/index.js';
import { allModels } from '../../orm/models/index.js';
import { defaultConfig } from '../../server/config.js';
import { MediaStore } from '../../server/media-store.js';
import { scanMedia } from '../../server/media/scan.js';
import { checkedProber } from '../../server/media/setup.js';
import { createLogger } from '../../server/logger.js';

export const command = 'media <action>';
export const describe = 'Operator tools for stored media (scan: read facts of older videos with ffprobe)';

export function builder(yargs: Argv) {
  return yargs
    .positional('action', { choices: ['scan'] as const, demandOption: true, describe: 'scan: probe the videos that have no facts yet' })
    .option('db', { type: 'string', default: defaultConfig.db, describe: 'Database URL (as for `cinebox server`)' })
    .option('media-dir', { type: 'string', default: defaultConfig.mediaDir, describe: 'Where video files are stored (as for `cinebox server`)' })
    .option('ffprobe', { type: 'string', default: defaultConfig.ffprobePath, describe: 'ffprobe program' })
    .option('probe-timeout', { type: 'number', default: defaultConfig.probeTimeoutSeconds, describe: 'Seconds before a running ffprobe is killed' })
    .option('probe-concurrency', { type: 'number', default: defaultConfig.probeConcurrency, describe: 'ffprobe runs at once' })
    .option('again', { type: 'boolean', default: false, describe: 'Probe every live video, also those with facts' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the summary as JSON' });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export async function handler(args: Args): Promise<void> {
  const config = {
    ...defaultConfig,
    ffprobePath: args.ffprobe,
    probeTimeoutSeconds: args.probeTimeout,
    probeConcurrency: args.probeConcurrency,
  };
  const prober = await checkedProber(config, createLogger('silent'));
  if (!prober.available) {
    console.error(`cinebox: ffprobe (${args.ffprobe}) cannot run: install ffmpeg or pass --ffprobe`);
    process.exitCode = 1;
    return;
  }
  const db = await openDatabase(args.db);
  try {
    await ensureSchema(db, allModels);
    const media = new MediaStore(args.mediaDir);
    const summary = await scanMedia(db, media, prober, {
      again: args.again,
      onProgress: args.json ? undefined : (done, total) => process.stderr.write(`\rprobed ${done}/${total}`),
    });
    if (args.json) {
      console.log(JSON.stringify(summary, null, 2));
    } else {
      if (summary.scanned > 0) process.stderr.write('\n');
      console.log(
        `scanned ${summary.scanned} videos: ${summary.withFacts} with facts, ${summary.unknownFormat} unknown format` +
          `, ${summary.notProbed} not probed (timeout or crash), ${summary.missingFiles} missing files`,
      );
    }
    if (summary.notProbed > 0 || summary.missingFiles > 0) process.exitCode = 1;
  } finally {
    await db.close();
  }
}
