import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * Failed logins of one account name from one client address (the pair the login guard
 * slows down and then blocks). Kept in the database, not in a node's memory, so a block
 * holds on every node behind the balancer. A guess is counted here before its password is
 * checked (and uncounted if it was right), so parallel guesses cannot pass the limit.
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

  @column({ type: 'datetime' })
  last_failure!: Date;

  @column({ type: 'datetime', nullable: true })
  blocked_until!: Date | null;
}
