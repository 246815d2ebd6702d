/**
 * `cinebox create-admin NAME`: the operator writes an admin straight into the database,
 * so admins exist even when no admin code is configured.
 */
import { password as promptPassword } from '@inquirer/prompts';
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { DuplicateKeyError, ensureSchema, openDatabase } from '../../orm/index.js';
import { allModels, User } from '../../orm/models/index.js';
import { wirePassword } from '../../protocol/wire-password.js';
import { defaultConfig } from '../../server/config.js';
import { hashPassword } from '../../server/auth/passwords.js';

export const command = 'create-admin <name>';
export const describe = 'Create an admin account directly in the database';

export function builder(yargs: Argv) {
  return yargs
    .positional('name', { type: 'string', demandOption: true, describe: 'Admin user name' })
    .option('db', { type: 'string', default: defaultConfig.db, describe: 'Database URL (as for `cinebox server`)' })
    .option('password', { type: 'string', describe: 'Password (prompted when omitted; or CINEBOX_PASSWORD)' });
}

export async function handler(args: ArgumentsCamelCase<{ name: string; db: string; password?: string }>): Promise<void> {
  const typed = args.password ?? (await askPassword());
  const db = await openDatabase(args.db);
  try {
    await ensureSchema(db, allModels);
    const user = User.from({
      name: args.name,
      password: await hashPassword(wirePassword(typed)),
      user_type: 'admin',
      register_time: new Date(),
    });
    await user.save(db);
    console.log(`admin "${args.name}" created (id ${user.id})`);
  } catch (error) {
    if (error instanceof DuplicateKeyError) {
      console.error(`cinebox: the name "${args.name}" is taken`);
      process.exitCode = 1;
      return;
    }
    throw error;
  } finally {
    await db.close();
  }
}

async function askPassword(): Promise<string> {
  if (!process.stdin.isTTY) throw new Error('no --password given and no terminal to ask on (set CINEBOX_PASSWORD)');
  const first = await promptPassword({ message: 'Password', mask: true });
  const second = await promptPassword({ message: 'Repeat password', mask: true });
  if (first !== second) throw new Error('the passwords do not match');
  if (!first) throw new Error('the password must not be empty');
  return first;
}
