import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/** One download of a video by a viewer. */
@table('download_record', { indexes: [['user_id']] })
export class DownloadRecord extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'int' })
  user_id!: number;

  @column({ type: 'int' })
  movie_id!: number;

  @column({ type: 'datetime' })
  create_time!: Date;
}
