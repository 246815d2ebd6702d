/**
 * Probing published videos and storing what ffprobe found. Every movie gets its media_facts
 * row (with its search key) in the transaction that publishes it; the probe then runs in
 * the background, so an upload's reply never waits for ffprobe, and fills the row in. A crash
 * in between leaves a row with `probed` 0, which `cinebox media scan` completes.
 */
import type { Logger } from 'pino';
import type { Database } from '../../orm/index.js';
import { MediaFacts, type Movie } from '../../orm/models/index.js';
import type { MediaFactsWire } from '../../protocol/messages.js';
import { BadRequest } from '../errors.js';
import { nameKey } from './name-key.js';
import { saveNameGrams } from './name-grams.js';
import type { MediaProber, ProbeResult } from './probe.js';

/** An upload refused by `--refuse-non-video`; its bytes are dropped, not kept for a resume. */
export class NotAVideo extends BadRequest {}

/** The columns a probe result sets (all of them, so a re-probe leaves nothing stale). */
export function factColumns(result: ProbeResult, now = new Date()): Partial<MediaFacts> {
  const empty = { container: null, duration_ms: null, width: null, height: null, video_codec: null, audio_codec: null, bit_rate: null, streamable: null };
  if (result.outcome === 'not-probed') return { probed: 0, format: null, ...empty, probed_at: null };
  if (result.outcome === 'unreadable') return { probed: 1, format: 'unknown', ...empty, probed_at: now };
  const f = result.facts;
  return {
    probed: 1,
    format: f.format,
    container: f.container,
    duration_ms: f.durationMs,
    width: f.width,
    height: f.height,
    video_codec: f.videoCodec,
    audio_codec: f.audioCodec,
    bit_rate: f.bitRate,
    streamable: f.streamable ? 1 : 0,
    probed_at: now,
  };
}

/** The row a newly published movie gets, with the facts if they are known already. */
export function newFactsRow(movie: Pick<Movie, 'id' | 'name'>, result?: ProbeResult): MediaFacts {
  return MediaFacts.from({ movie_id: movie.id, name_key: nameKey(movie.name), ...(result ? factColumns(result) : { probed: 0 }) });
}

/** Inserts a new movie's facts row and the grams of its name (name-grams.ts): what publishing writes for search. */
export async function insertFactsRows(tx: Database, movie: Pick<Movie, 'id' | 'name'>, result?: ProbeResult): Promise<void> {
  const row = newFactsRow(movie, result);
  await row.save(tx);
  await saveNameGrams(tx, movie.id, row.name_key);
}

/** How facts travel in get_movie_list replies: null = not probed (yet). */
export function factsWire(row: Partial<MediaFacts> | undefined): MediaFactsWire | null {
  if (!row || !row.probed) return null;
  return {
    format: (row.format ?? 'unknown') as MediaFactsWire['format'],
    container: row.container ?? null,
    duration_ms: row.duration_ms ?? null,
    width: row.width ?? null,
    height: row.height ?? null,
    video_codec: row.video_codec ?? null,
    audio_codec: row.audio_codec ?? null,
    bit_rate: row.bit_rate ?? null,
    streamable: row.streamable === null || row.streamable === undefined ? null : row.streamable === 1,
  };
}

/** Refuses what is not a video when the operator asked for that; `not-probed` passes (no way to tell). */
export function assertVideo(result: ProbeResult): void {
  if (result.outcome === 'unreadable') throw new NotAVideo(`this server stores videos only, and ffprobe cannot read this file (${result.reason})`);
  if (result.outcome === 'facts' && result.facts.format !== 'video') {
    throw new NotAVideo(`this server stores videos only, and this file is ${result.facts.format === 'audio' ? 'audio only' : 'a still image'}`);
  }
}

/** Background probes after publishing; `idle()` resolves once none is running (tests, shutdown). */
export class FactsRecorder {
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly db: Database,
    readonly prober: MediaProber,
    private readonly log: Logger,
  ) {}

  /** Probes the stored file of `movieId` and records the outcome; never throws. */
  probeLater(movieId: number, storedPath: string): void {
    if (!this.prober.available) return;
    const task = this.probeAndStore(movieId, storedPath)
      .then(() => undefined)
      .catch((error: unknown) => this.log.warn({ movie: movieId, err: (error as Error).message }, 'could not store media facts'))
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  async probeAndStore(movieId: number, storedPath: string): Promise<ProbeResult> {
    const result = await this.prober.probe(storedPath);
    if (result.outcome === 'not-probed') {
      this.log.warn({ movie: movieId, reason: result.reason }, 'video not probed');
      return result; // keep whatever the row holds: a scan tries again
    }
    await MediaFacts.updateWhere(this.db, factColumns(result), { movie_id: movieId });
    if (result.outcome === 'facts') this.log.info({ movie: movieId, format: result.facts.format, container: result.facts.container }, 'media facts stored');
    else this.log.info({ movie: movieId, reason: result.reason }, 'unknown format: ffprobe cannot read it');
    return result;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}
