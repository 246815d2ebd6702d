import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * An admin's overrides of one viewer's policy; a null field follows the viewer's class
 * (normal or VIP) as the server's settings define it. No row = every field follows the class.
 * A table of its own, so existing databases need no migration of `user`.
 */
@table('viewer_policy')
export class ViewerPolicy extends Model {
  @column({ type: 'int', primaryKey: true })
  user_id!: number;

  /** 1 = may download, 0 = may not. */
  @column({ type: 'tinyint', nullable: true })
  downloads!: number | null;

  /** Bytes per second shared by all of the account's downloads; 0 = unlimited. */
  @column({ type: 'bigint', nullable: true })
  speed_bps!: number | null;

  /** Bytes a day; 0 = unlimited. */
  @column({ type: 'bigint', nullable: true })
  daily_bytes!: number | null;

  /** Completed downloads a day; 0 = unlimited. */
  @column({ type: 'int', nullable: true })
  daily_count!: number | null;

  /** Live sessions at once; 0 = unlimited. */
  @column({ type: 'int', nullable: true })
  max_sessions!: number | null;
}
