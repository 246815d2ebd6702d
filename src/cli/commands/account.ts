/**
 * `cinebox account NAME --lock | --unlock | --quota SIZE`: the operator acts on any account
 * straight in the database, including what admins may not do to each other (lock or unlock
 * an admin, lower another admin's quota; see docs/security.md). The server reads the user
 * on every request, so a lock takes effect at once on every node.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ensureSchema, openDatabase } from '../../orm/index.js';
import { allModels, User } from '../../orm/models/index.js';
import { forgetAccountFailures } from '../../server/auth/login-guard.js';
import { defaultConfig } from '../../server/config.js';
import { formatSize } from '../../server/uploads/quota.js';
import { parseQuota } from '../sizes.js';

export const command = 'account <name>';
export const describe = 'Operator: lock, unlock or set the quota of any account, in the database';

export function builder(yargs: Argv) {
  return yargs
    .positional('name', { type: 'string', demandOption: true, describe: 'Account name' })
    .option('lock', { type: 'boolean', describe: 'Lock the account (admins included)' })
    .option('unlock', { type: 'boolean', describe: 'Unlock it, and clear a temporary lock and its failure count' })
    .option('quota', { type: 'string', describe: "An admin's storage quota: 500M, 2G, unlimited, default" })
    .option('db', { type: 'string', default: defaultConfig.db, describe: 'Database URL (as for `cinebox server`)' })
    .conflicts('lock', 'unlock')
    .check((args) => {
      if (!args.lock && !args.unlock && args.quota === undefined) throw new Error('say what to do: --lock, --unlock or --quota SIZE');
      return true;
    })
    .example('$0 account alice --lock', 'lock an admin out (only the operator can)')
    .example('$0 account alice --quota 500M', "lower an admin's quota");
}

type Args = ArgumentsCamelCase<{ name: string; lock?: boolean; unlock?: boolean; quota?: string; db: string }>;

export async function handler(args: Args): Promise<void> {
  const quota = args.quota === undefined ? undefined : parseQuota(args.quota);
  const db = await openDatabase(args.db);
  try {
    await ensureSchema(db, allModels);
    const user = await User.selectOne(db, { name: args.name });
    if (!user) {
      console.error(`cinebox: no account "${args.name}"`);
      process.exitCode = 1;
      return;
    }
    if (quota !== undefined && user.user_type !== 'admin') {
      console.error('cinebox: quotas apply to admins only');
      process.exitCode = 1;
      return;
    }
    const set: Partial<Pick<User, 'is_locked' | 'failed_logins' | 'locked_until' | 'quota_bytes'>> = {};
    if (args.lock) set.is_locked = 1;
    if (args.unlock) Object.assign(set, { is_locked: 0, failed_logins: 0, locked_until: null });
    if (quota !== undefined) set.quota_bytes = quota;
    await User.updateWhere(db, set, { id: user.id });
    if (args.unlock) await forgetAccountFailures(db, user.name);
    const said = [
      args.lock ? 'locked' : args.unlock ? 'unlocked' : undefined,
      quota === undefined ? undefined : `quota ${quota === null ? 'the server default' : quota === 0 ? 'no limit' : formatSize(quota)}`,
    ].filter(Boolean);
    console.log(`${args.name}: ${said.join(', ')}`);
  } finally {
    await db.close();
  }
}
