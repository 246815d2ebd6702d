import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * Failed logins per client address. Kept in the database, not in a node's memory, so a
 * block holds on every node behind the balancer.
 */
@table('login_failure', { unique: [['address']] })
export class LoginFailure extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'string', length: 64 })
  address!: string;

  /** Failures since the counter last reset (it resets after a quiet window). */
  @column({ type: 'int', default: 0 })
  failures!: number;

  @column({ type: 'datetime' })
  last_failure!: Date;

  @column({ type: 'datetime', nullable: true })
  blocked_until!: Date | null;
}
