import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * A viewer's logged-in session, on any node: the row lives while the session does, so every
 * node counts the same sessions against the viewer's cap. A session whose row is gone was
 * ended (by a newer login over the cap) and is refused on its next request.
 */
@table('live_session', { indexes: [['user_id']] })
export class LiveSession extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'int' })
  user_id!: number;

  /** Which server process holds it (logs, and status: where the sessions are). */
  @column({ type: 'string', length: 64 })
  node!: string;

  @column({ type: 'datetime' })
  created_at!: Date;
}
