import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * Something that happened that connected clients are told about (a notice, a video added or
 * removed). Written in the same transaction as what it announces; the id comes from
 * EventSequence, so ids are gapless and commit in order on every node.
 */
@table('event', { indexes: [['create_time']] })
export class EventRecord extends Model {
  @column({ type: 'int', primaryKey: true })
  id!: number;

  /** `notice`, `video_added` or `video_removed`. */
  @column({ type: 'string', length: 32 })
  kind!: string;

  /** The event's data as JSON (what the event frame carries in `data`). */
  @column({ type: 'text' })
  payload!: string;

  @column({ type: 'datetime' })
  create_time!: Date;
}

/**
 * One row (id 1) holding the last event id handed out. A transaction that records an event
 * bumps it first, which locks the row until that transaction ends: event ids are allocated in
 * commit order, with no gap a rollback could leave (an auto-increment would do both).
 */
@table('event_sequence')
export class EventSequence extends Model {
  @column({ type: 'int', primaryKey: true })
  id!: number;

  @column({ type: 'int' })
  last_id!: number;
}
