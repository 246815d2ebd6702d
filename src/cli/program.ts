/**
 * The `cinebox` command tree: one yargs program, one module per command. Built here, apart
 * from the bin (main.ts), so tests can parse and run it in-process.
 */
import yargs, { type Argv, type CommandModule } from 'yargs';
import { LocalMistake } from '../client/local-mistake.js';
import { EXIT, report, UsageError, wantsJson } from './exit-codes.js';

/**
 * Each command's module, loaded only when that command runs (all of them for the top-level
 * help or a mistyped command), so `cinebox user list` starts without loading the server and
 * its database drivers: scripts and cron call the clients often.
 */
const commands: Record<string, () => Promise<unknown>> = {
  server: () => import('./commands/server.js'),
  admin: () => import('./commands/admin.js'),
  user: () => import('./commands/user.js'),
  'create-admin': () => import('./commands/create-admin.js'),
  media: () => import('./commands/media.js'),
  schema: () => import('./commands/schema.js'),
  fsck: () => import('./commands/fsck.js'),
  purge: () => import('./commands/purge.js'),
  account: () => import('./commands/account.js'),
};

/** The program for `argv` (the arguments after `cinebox`); parse it with `.parseAsync()`. */
export async function buildCli(argv: string[]) {
  const named = argv.find((arg) => !arg.startsWith('-'));
  const wanted = named !== undefined && Object.hasOwn(commands, named) ? [commands[named]] : Object.values(commands);
  const modules = await Promise.all(wanted.map((load) => load()));
  return withCineboxEnv(yargs(argv))
    .scriptName('cinebox')
    // Each is a command module (command, describe, builder, handler) typed in its own file.
    .command(modules as CommandModule[])
    .demandCommand(1, 'name a command, e.g. `cinebox server`')
    .fail(reportFailure)
    .strict()
    .recommendCommands()
    .help()
    .alias('h', 'help')
    .version()
    .epilogue('Every option can also be set as CINEBOX_<OPTION> (e.g. CINEBOX_PORT=1688).');
}

/**
 * A usage mistake (unknown flag, missing command) shows the help, as yargs does, and exits 2;
 * a command that fails while running (the port is taken, the database is unreachable) says
 * so in one line instead of burying the reason under the whole option list. With --json,
 * stdout gets the one JSON error object either way. Exit codes: exit-codes.ts.
 */
function reportFailure(message: string | undefined, error: Error | undefined, cli: { showHelp(level: string): unknown }): never {
  const json = wantsJson(process.argv);
  if (error && error.name !== 'YError') {
    report(describeFailure(error), json);
  } else {
    cli.showHelp('error');
    const reason = message ?? error?.message ?? 'invalid arguments';
    if (json) report(new UsageError(reason), true);
    else console.error(`\n${reason}`);
    process.exitCode = EXIT.usage;
  }
  process.exit();
}

/** Why a server could not start, as the operator can act on it. */
function describeFailure(error: Error & { code?: string; port?: number }): unknown {
  if (error.code === 'EADDRINUSE') {
    const port = error.port ? `port ${error.port}` : 'the port';
    return new LocalMistake(`${port} is already in use (another cinebox server? choose another with --port)`, 'PORT_IN_USE');
  }
  if (error.code === 'EACCES' && error.port !== undefined) {
    return new LocalMistake(`port ${error.port} needs more privileges than this user has (choose one above 1023 with --port)`, 'PERMISSION_DENIED');
  }
  return error;
}

/** CINEBOX_* variables as arguments, minus those that name no option of the command being run. */
export function withCineboxEnv<T extends Argv>(cli: T): T {
  // getOptions() is yargs API that its type definitions leave out.
  const options = () => (cli as unknown as { getOptions(): { key: Record<string, unknown> } }).getOptions().key;
  return cli.env('CINEBOX').middleware((args) => dropForeignEnv(args, options()), true) as T;
}

/**
 * `.env('CINEBOX')` turns every CINEBOX_* variable into an argument, and `.strict()` would
 * then reject a variable meant for another command (CINEBOX_NAME, set for the clients,
 * would stop `cinebox server`). Typos on the command line stay errors; variables that
 * name no option of the command being run are simply not its business.
 */
function dropForeignEnv(args: Record<string, unknown>, known: Record<string, unknown>): void {
  for (const key of Object.keys(args)) {
    if (key === '_' || key === '$0' || Object.hasOwn(known, key)) continue;
    const kebab = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    const envName = `CINEBOX_${kebab.replace(/-/g, '_').toUpperCase()}`;
    if (process.env[envName] !== undefined && !process.argv.some((a) => a === `--${kebab}` || a.startsWith(`--${kebab}=`))) delete args[key];
  }
}
