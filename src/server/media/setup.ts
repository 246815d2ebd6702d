/**
 * What the server does about media facts at start: find out whether ffprobe runs (one
 * warning when it does not: the server works, videos just get no facts) and give every
 * movie stored before media_facts existed its row, so search and the name order see it.
 */
import type { Logger } from 'pino';
import { DuplicateKeyError, quoteIdentifier, type Database } from '../../orm/index.js';
import type { ServerConfig } from '../config.js';
import { FactsRecorder, newFactsRow } from './facts.js';
import { addMissingNameGrams } from './name-grams.js';
import { MediaProber } from './probe.js';

export async function startMediaFacts(db: Database, config: ServerConfig, log: Logger): Promise<FactsRecorder> {
  const prober = await checkedProber(config, log);
  const added = await addMissingFactsRows(db);
  if (added > 0) log.info({ movies: added }, 'search keys added for older videos; `cinebox media scan` fills in their facts');
  const grammed = await addMissingNameGrams(db);
  if (grammed > 0) log.info({ movies: grammed }, 'name search index (name_gram) filled in for older videos');
  return new FactsRecorder(db, prober, log);
}

export async function checkedProber(config: ServerConfig, log: Logger): Promise<MediaProber> {
  const prober = new MediaProber({
    ffprobePath: config.ffprobePath,
    timeoutMs: config.probeTimeoutSeconds * 1000,
    concurrency: config.probeConcurrency,
  });
  if (config.ffprobePath === '') {
    prober.available = false;
    return prober;
  }
  const check = await prober.check();
  if (!check.ok) {
    log.warn({ ffprobe: config.ffprobePath, reason: check.reason }, 'ffprobe cannot run: videos get no media facts (install ffmpeg, or set --ffprobe)');
  }
  return prober;
}

/** Inserts the missing media_facts rows (search key only), 500 per transaction; returns how many. */
export async function addMissingFactsRows(db: Database): Promise<number> {
  const q = (name: string) => quoteIdentifier(db.dialect, name);
  const missing =
    `SELECT m.${q('id')} AS id, m.${q('name')} AS name FROM ${q('movie')} m ` +
    `LEFT JOIN ${q('media_facts')} f ON f.${q('movie_id')} = m.${q('id')} ` +
    `WHERE f.${q('movie_id')} IS NULL ORDER BY m.${q('id')} LIMIT 500`;
  let added = 0;
  for (;;) {
    const movies = await db.query<{ id: number; name: string }>(missing);
    if (movies.length === 0) return added;
    await db.transaction(async (tx) => {
      for (const movie of movies) {
        // Another node starting at the same time may insert it first.
        await newFactsRow({ id: Number(movie.id), name: String(movie.name) }).save(tx).catch((error: unknown) => {
          if (!(error instanceof DuplicateKeyError)) throw error;
        });
      }
    });
    added += movies.length;
  }
}
