#!/usr/bin/env node
/** The `cinebox` command: one yargs program, one module per subcommand. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import * as admin from './commands/admin.js';
import * as createAdmin from './commands/create-admin.js';
import * as schema from './commands/schema.js';
import * as server from './commands/server.js';
import * as user from './commands/user.js';

export function buildCli(argv: string[]) {
  return yargs(argv)
    .scriptName('cinebox')
    .env('CINEBOX')
    .command(server)
    .command(admin)
    .command(user)
    .command(createAdmin)
    .command(schema)
    .demandCommand(1, 'name a command, e.g. `cinebox server`')
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .epilogue('Every option can also be set as CINEBOX_<OPTION> (e.g. CINEBOX_PORT=1688).');
}

await buildCli(hideBin(process.argv)).parseAsync();
