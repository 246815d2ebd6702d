/**
 * `cinebox create-admin NAME`: the operator writes an admin straight into the database,
 * so admins exist even when no admin code is configured.
 *
 * Which database: `--db` (or CINEBOX_DB), else the server's default `sqlite:data/cinebox.db`
 * in the current directory. That default must already exist (the server creates it on its
 * first start): run from another folder, create-admin would otherwise make a new, empty
 * database the server never reads. An explicit --db is created when missing. Either way the
 * output names the database written to.
 */
import { existsSync } from 'node:fs';
import { password as promptPassword } from '@inquirer/prompts';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { LocalMistake } from '../../client/local-mistake.js';
import { describeDatabase, DuplicateKeyError, ensureSchema, openDatabase, sqliteFileOf } from '../../orm/index.js';
import { allModels, User } from '../../orm/models/index.js';
import { wirePassword } from '../../protocol/wire-password.js';
import { defaultConfig } from '../../server/config.js';
import { hashPassword } from '../../server/auth/passwords.js';
import { report, UsageError } from '../exit-codes.js';

export const command = 'create-admin <name>';
export const describe = 'Create an admin account directly in the database';

export function builder(yargs: Argv) {
  return yargs
    .positional('name', { type: 'string', demandOption: true, describe: 'Admin user name' })
    .option('db', {
      type: 'string',
      describe: `Database URL, as for \`cinebox server\` (default: ${defaultConfig.db} in the current directory, which must exist)`,
    })
    .option('password', { type: 'string', describe: 'Password (prompted when omitted; or CINEBOX_PASSWORD)' });
}

export async function handler(args: ArgumentsCamelCase<{ name: string; db?: string; password?: string }>): Promise<void> {
  try {
    const url = args.db ?? defaultConfig.db;
    const file = sqliteFileOf(url);
    if (args.db === undefined && file !== undefined && !existsSync(file)) {
      throw new LocalMistake(
        `no database at ${file}: run create-admin in the folder the server runs in (its first start creates ${defaultConfig.db.replace(/^sqlite:/, '')}), ` +
          `or name the server's database with --db (e.g. --db sqlite:/srv/cinebox/data/cinebox.db, or its MySQL URL)`,
        'NO_DATABASE',
      );
    }
    const typed = args.password ?? (await askPassword());
    await createAdmin(url, args.name, typed);
  } catch (error) {
    report(error, false);
  }
}

async function createAdmin(url: string, name: string, typed: string): Promise<void> {
  const where = describeDatabase(url);
  const db = await openDatabase(url);
  try {
    await ensureSchema(db, allModels);
    const user = User.from({ name, password: await hashPassword(wirePassword(typed)), user_type: 'admin', register_time: new Date() });
    await user.save(db);
    console.log(`admin "${name}" created (id ${user.id}) in ${where}`);
  } catch (error) {
    if (error instanceof DuplicateKeyError) throw new Error(`the name "${name}" is taken in ${where}`);
    throw error;
  } finally {
    await db.close();
  }
}

async function askPassword(): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('no --password given and no terminal to ask on (or set CINEBOX_PASSWORD)');
  const first = await promptPassword({ message: 'Password', mask: true });
  const second = await promptPassword({ message: 'Repeat password', mask: true });
  if (first !== second) throw new UsageError('the passwords do not match');
  if (!first) throw new UsageError('the password must not be empty');
  return first;
}
