import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * An upload in progress or cut short, resumable by the same admin with the same file: found
 * by its SHA-256, or, for an upload that sends its SHA-256 after its bytes and was cut before
 * that, by its size and quick fingerprint (see server/uploads/resumable.ts). Kept in the database (not in a
 * node's memory) so any node sharing the database and the media directory can resume it.
 * The bytes live in `media/.incoming/<temp_name>`.
 */
@table('upload', { unique: [['user_id', 'sha256']], indexes: [['updated_time'], ['user_id', 'file_md5']] })
export class Upload extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  /** The uploading admin. */
  @column({ type: 'int' })
  user_id!: number;

  /**
   * The SHA-256 the client declared for the whole file, hex; null while an upload that sends
   * it after the bytes (`sha256_trailer`) has not sent it yet.
   */
  @column({ type: 'string', length: 64, nullable: true })
  sha256!: string | null;

  /** The client's quick fingerprint of the file (`file_md5`): with total_size, it finds a partial whose SHA-256 is still null. */
  @column({ type: 'string', length: 64, default: '' })
  file_md5!: string;

  /** The file's name under media/.incoming (server-generated). */
  @column({ type: 'string', length: 64 })
  temp_name!: string;

  /** The declared size of the whole file, in bytes. */
  @column({ type: 'bigint' })
  total_size!: number;

  /** Bytes on disk when last recorded (the file itself is the truth). */
  @column({ type: 'bigint', default: 0 })
  received_bytes!: number;

  /**
   * The attempt writing it now (a random token), or null. A holder whose `updated_time`
   * is older than the lease is presumed dead (its node crashed) and may be replaced.
   */
  @column({ type: 'string', length: 64, nullable: true })
  holder!: string | null;

  /**
   * The node and the run of that node the holder runs on (null: an older cinebox, or a
   * repair by `cinebox fsck`). When that run stops beating (node_beat), the row is free at
   * once instead of after the lease.
   */
  @column({ type: 'string', length: 64, nullable: true })
  holder_node!: string | null;

  @column({ type: 'string', length: 32, nullable: true })
  holder_run!: string | null;

  @column({ type: 'datetime' })
  create_time!: Date;

  /** Refreshed while bytes flow; an upload untouched for the expiry time is deleted. */
  @column({ type: 'datetime' })
  updated_time!: Date;
}
