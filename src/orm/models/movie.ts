import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * A stored video. Deleting is soft: `is_delete` = 1 hides it from every list while its file
 * stays (and counts against its admin's quota); `cinebox purge` removes the file later and
 * sets 2. The row stays either way: download histories keep its name.
 */
@table('movie', { indexes: [['file_md5'], ['sha256'], ['is_delete', 'is_free'], ['is_delete', 'id']] })
export class Movie extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  /** The display name the uploader gave. */
  @column({ type: 'string', length: 255 })
  name!: string;

  /** The server-generated storage name, relative to the media directory. */
  @column({ type: 'string', length: 255 })
  path!: string;

  @column({ type: 'tinyint' })
  is_free!: number;

  @column({ type: 'tinyint', default: 0 })
  is_delete!: number;

  @column({ type: 'datetime' })
  create_time!: Date;

  /** When it was deleted (null while live, and for videos deleted before this column existed). */
  @column({ type: 'datetime', nullable: true })
  delete_time!: Date | null;

  /** The original clients' quick fingerprint (10 sampled bytes): for spotting their duplicates only. */
  @column({ type: 'string', length: 64 })
  file_md5!: string;

  /** The SHA-256 of the whole file, hex. */
  @column({ type: 'string', length: 64 })
  sha256!: string;

  /**
   * The SHA-256 while the video is live, NULL once deleted. Its UNIQUE key lets only one
   * live copy of a file exist even when uploads race, on one node or many.
   */
  @column({ type: 'string', length: 64, nullable: true, unique: true })
  live_sha256!: string | null;

  /** Size in bytes. */
  @column({ type: 'bigint' })
  size!: number;

  /** The uploading admin. */
  @column({ type: 'int' })
  user_id!: number;
}
