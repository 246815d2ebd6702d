/** `cinebox schema`: print the DDL generated from the models (sql/schema.sql is this output for MySQL). */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { schemaSql } from '../../orm/index.js';
import { allModels } from '../../orm/models/index.js';

export const command = 'schema';
export const describe = 'Print the database schema generated from the models';

export function builder(yargs: Argv) {
  return yargs.option('dialect', { choices: ['mysql', 'sqlite'] as const, default: 'mysql' as const, describe: 'SQL dialect' });
}

export function handler(args: ArgumentsCamelCase<{ dialect: 'mysql' | 'sqlite' }>): void {
  process.stdout.write(schemaSql(allModels, args.dialect));
}
