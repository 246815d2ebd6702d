import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * A viewer paid for a video. UNIQUE (user_id, movie_id): a paid video is charged once per
 * viewer even when two downloads race (the loser gets DuplicateKeyError).
 */
@table('purchase', { unique: [['user_id', 'movie_id']] })
export class Purchase extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'int' })
  user_id!: number;

  @column({ type: 'int' })
  movie_id!: number;

  /** In cents. */
  @column({ type: 'int' })
  price!: number;

  @column({ type: 'datetime' })
  create_time!: Date;
}
