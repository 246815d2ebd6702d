import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * What one viewer downloaded on one day (`day` is the date in the server's time zone,
 * YYYY-MM-DD). `bytes` holds the bytes of running downloads too (reserved before the first
 * byte, settled to what was sent), so parallel downloads cannot together pass the allowance.
 */
@table('download_usage', { unique: [['user_id', 'day']] })
export class DownloadUsage extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'int' })
  user_id!: number;

  @column({ type: 'string', length: 10 })
  day!: string;

  @column({ type: 'bigint', default: 0 })
  bytes!: number;

  /** Downloads that day: reserved at the start, taken back when one ends unfinished. */
  @column({ type: 'int', default: 0 })
  count!: number;
}
