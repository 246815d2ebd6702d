import { column, table } from '../decorators.js';
import { Model } from '../model.js';

export type UserType = 'admin' | 'user';

/** An account: an admin who uploads, or a viewer who downloads. */
@table('user')
export class User extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'string', length: 64, unique: true })
  name!: string;

  /** A scrypt hash string, never the secret the client sent. */
  @column({ type: 'string', length: 255 })
  password!: string;

  @column({ type: 'tinyint', default: 0 })
  is_locked!: number;

  @column({ type: 'tinyint', default: 0 })
  is_vip!: number;

  @column({ type: 'string', length: 16 })
  user_type!: UserType;

  @column({ type: 'datetime' })
  register_time!: Date;

  /** Per-admin upload quota override; null = the server default. */
  @column({ type: 'bigint', nullable: true })
  quota_bytes!: number | null;

  @column({ type: 'int', default: 0 })
  failed_logins!: number;

  @column({ type: 'datetime', nullable: true })
  locked_until!: Date | null;
}
