import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/** An announcement released by an admin. */
@table('notice', { indexes: [['create_time']] })
export class Notice extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'string', length: 255 })
  title!: string;

  @column({ type: 'text' })
  content!: string;

  /** The admin who released it. */
  @column({ type: 'int' })
  user_id!: number;

  @column({ type: 'datetime' })
  create_time!: Date;
}
