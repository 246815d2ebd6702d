import { column, table } from '../decorators.js';
import { Model } from '../model.js';

/**
 * A client address blocked as a whole because it failed logins against many different
 * accounts (spraying). One person's typos never get here: they block only their own
 * (address, account) pair in login_failure.
 */
@table('address_block', { unique: [['address']] })
export class AddressBlock extends Model {
  @column({ type: 'int', primaryKey: true, autoIncrement: true })
  id!: number;

  @column({ type: 'string', length: 64 })
  address!: string;

  /** Blocks so far in this spell; each one lasts twice as long as the last. */
  @column({ type: 'int', default: 0 })
  blocks!: number;

  /** How many accounts the address had failed against when it was last blocked. */
  @column({ type: 'int', default: 0 })
  accounts!: number;

  @column({ type: 'datetime' })
  last_block!: Date;

  @column({ type: 'datetime' })
  blocked_until!: Date;
}
