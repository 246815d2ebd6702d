import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * A running server node's heartbeat: each node rewrites its row every `--node-beat` seconds
 * and deletes it when it stops gracefully. A row that missed three beats belongs to a dead
 * node, whose uploads any node may take over at once (server/nodes/heartbeat.ts).
 */
@table('node_beat')
export class NodeBeat extends Model {
  /** The node's name (`--node-name`). */
  @column({ type: 'string', length: 64, primaryKey: true })
  node!: string;

  /** This run of the node (random per start): a node restarted after a kill is another run, so the dead run's uploads are free. */
  @column({ type: 'string', length: 32 })
  run!: string;

  /** The beat interval the node runs with, in milliseconds: dead after three of its own intervals, whatever the reader's setting. */
  @column({ type: 'int' })
  beat_ms!: number;

  /** Where the run's process is: a node started again on the same host sees at once that the process of a killed run is gone. */
  @column({ type: 'string', length: 255 })
  host!: string;

  @column({ type: 'int' })
  pid!: number;

  @column({ type: 'datetime' })
  started_at!: Date;

  @column({ type: 'datetime' })
  beat_time!: Date;
}
