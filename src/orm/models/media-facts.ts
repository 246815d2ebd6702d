import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * What ffprobe found in a stored video, one row per movie, plus the name folded for search.
 * A table of its own rather than new columns on `movie`: databases made before it get the
 * table at the next start (no hand migration), and `cinebox media scan` fills in the facts
 * of their videos. A row with `probed` 0 has only its search key (not probed yet: no ffprobe,
 * or the probe timed out); `format` 'unknown' means ffprobe could not read the file.
 */
@table('media_facts', { indexes: [['name_key', 'movie_id']] })
export class MediaFacts extends Model {
  @column({ type: 'int', primaryKey: true })
  movie_id!: number;

  /** The movie's name, NFKC-normalised and lower-cased (search/name-key.ts): searched with LIKE, ordered by. */
  @column({ type: 'string', length: 512 })
  name_key!: string;

  @column({ type: 'tinyint', default: 0 })
  probed!: number;

  /** 'video', 'audio', 'image' or 'unknown' (ffprobe could not read it); null until probed. */
  @column({ type: 'string', length: 16, nullable: true })
  format!: string | null;

  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2" or "matroska,webm". */
  @column({ type: 'string', length: 64, nullable: true })
  container!: string | null;

  @column({ type: 'bigint', nullable: true })
  duration_ms!: number | null;

  @column({ type: 'int', nullable: true })
  width!: number | null;

  @column({ type: 'int', nullable: true })
  height!: number | null;

  @column({ type: 'string', length: 32, nullable: true })
  video_codec!: string | null;

  @column({ type: 'string', length: 32, nullable: true })
  audio_codec!: string | null;

  /** Bits per second over the whole file. */
  @column({ type: 'bigint', nullable: true })
  bit_rate!: number | null;

  /** 1 when a player can start before the file is complete (media-layout.ts says how). */
  @column({ type: 'tinyint', nullable: true })
  streamable!: number | null;

  @column({ type: 'datetime', nullable: true })
  probed_at!: Date | null;
}
