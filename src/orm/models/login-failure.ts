import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * Failed logins of one account name from one client address (the pair the login guard
 * slows down and then blocks). Kept in the database, not in a node's memory, so a block
 * holds on every node behind the balancer. A guess reserves a place here (`pending`) before
 * its password is checked, so parallel guesses cannot pass the limit; its verdict turns the
 * place into a failure, or gives it back.
 */
@table('login_failure', { unique: [['address', 'account']], indexes: [['last_failure']] })
export class LoginFailure extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'string', length: 64 })
  address!: string;

  /** The account name tried (known or not), cut to the longest a name can be. */
  @column({ type: 'string', length: 64 })
  account!: string;

  /** Failures since the counter last reset (it resets after a quiet window). */
  @column({ type: 'int', default: 0 })
  failures!: number;

  /** Guesses in flight: reserved, their password not checked yet (they lapse after a minute: login-guard.ts). */
  @column({ type: 'int', default: 0 })
  pending!: number;

  /** The last failure or reservation. */
  @column({ type: 'datetime' })
  last_failure!: Date;

  @column({ type: 'datetime', nullable: true })
  blocked_until!: Date | null;
}
