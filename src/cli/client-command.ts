/**
 * What every `cinebox admin …` / `cinebox user …` command shares: the connection options,
 * credentials from flags, CINEBOX_* variables or a prompt, `--json` output, and one place
 * that turns any failure into one line on stderr (or a JSON error on stdout) and an exit
 * code from the table in exit-codes.ts.
 */
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { CineboxClient, type Role } from '../client/cinebox-client.js';
import type { ConnectOptions } from '../client/connection.js';
import { DEFAULT_RETRIES } from '../client/retry.js';
import { inquirerPrompter, terminalIO, type Prompter } from '../client/ui/io.js';
import { progressView, type ProgressView } from '../client/ui/progress.js';
import { DEFAULT_PORT } from '../protocol/defaults.js';
import { EXIT, failureOf, report, UsageError, type ExitCode, type Failure } from './exit-codes.js';

export { UsageError } from './exit-codes.js';

export interface ClientArgs {
  host: string;
  port: number;
  tls?: boolean;
  ca?: string;
  clientSecret?: string;
  connectTimeout?: number;
  retries?: number;
  name?: string;
  password?: string;
  json: boolean;
  quiet: boolean;
}

export function withClientOptions<T>(yargs: Argv<T>) {
  return yargs
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Server address', group: 'Connection:' })
    .option('port', { type: 'number', default: DEFAULT_PORT, describe: 'Server port', group: 'Connection:' })
    .option('tls', { type: 'boolean', describe: 'Speak TLS (for a server started with --tls-cert)', group: 'Connection:' })
    .option('ca', { alias: 'tls-ca', type: 'string', describe: 'Trust this CA or self-signed certificate (PEM); implies --tls', group: 'Connection:' })
    .option('client-secret', { type: 'string', describe: "The server's shared client secret, if it requires one", group: 'Connection:' })
    .option('connect-timeout', { type: 'number', default: 10, describe: 'Seconds to wait for the server to answer', group: 'Connection:' })
    .option('retries', {
      type: 'number',
      default: DEFAULT_RETRIES,
      describe: 'When the connection drops, connect again (with backoff), log in again and resume the transfer this many times; 0 = never. A notice is never sent twice, a payment never paid twice',
      group: 'Connection:',
    })
    .option('name', { type: 'string', describe: 'Account name (asked for on a terminal)', group: 'Account:' })
    .option('password', { type: 'string', describe: 'Password (asked for on a terminal)', group: 'Account:' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON (progress goes to stderr)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' });
}

export interface CommandContext {
  client: CineboxClient;
  progress: ProgressView;
  /** Human output; silent with --json. */
  say(text: string): void;
  /**
   * One item of several failed (one line on stderr); the others go on. The command then
   * exits with the highest exit code among the failed items. Returns the failure, for --json.
   */
  complain(error: unknown, item?: string): Failure;
  /** Asks on a terminal unless --yes; with neither, fails telling how to say yes. */
  confirm(question: string, yes: boolean | undefined): Promise<boolean>;
  columns: number;
}

const hasTerminal = () => Boolean(process.stdin.isTTY);
/** Prompts are drawn on stderr so stdout carries only results. */
const prompter = (): Prompter => inquirerPrompter({ output: process.stderr });

/** Name and password from flags or CINEBOX_NAME / CINEBOX_PASSWORD, else asked for (twice for a new password). */
export async function credentials(args: ClientArgs, newAccount = false): Promise<{ name: string; password: string }> {
  const ask = (what: string, env: string) => {
    if (!hasTerminal()) throw new UsageError(`no ${what} given: pass --${what} or set ${env} (there is no terminal to ask on)`);
    return prompter();
  };
  const name = args.name ?? (await ask('name', 'CINEBOX_NAME').input('Name', { validate: (v) => v.trim() !== '' || 'the name must not be empty' }));
  let password = args.password;
  if (password === undefined) {
    const prompt = ask('password', 'CINEBOX_PASSWORD');
    const typed = await prompt.password('Password', { validate: (v) => v !== '' || 'the password must not be empty' });
    if (newAccount) await prompt.password('Repeat the password', { validate: (v) => v === typed || 'the passwords do not match' });
    password = typed;
  }
  return { name: name.trim(), password };
}

export async function connect(args: ClientArgs): Promise<CineboxClient> {
  const options: ConnectOptions = { host: args.host, port: args.port, timeoutMs: (args.connectTimeout ?? 10) * 1000 };
  if (args.ca !== undefined) options.tls = { ca: await readFile(args.ca) };
  else if (args.tls) options.tls = true;
  if (args.clientSecret) options.clientSecret = args.clientSecret;
  const retries = args.retries ?? DEFAULT_RETRIES;
  if (!Number.isInteger(retries) || retries < 0) throw new UsageError(`--retries must be a whole number, 0 or more (got ${String(args.retries)})`);
  return CineboxClient.connect(options, {
    retries,
    onRetry: ({ what, attempt, delayMs, error }) =>
      args.json || args.quiet ? undefined : process.stderr.write(`cinebox: ${error.message}; ${what}: trying again in ${(delayMs / 1000).toFixed(1)} s (${attempt} of ${retries})\n`),
  });
}

/** Connects, logs in when `login`, runs `action`, prints its result with --json; never throws. */
export async function runClientCommand(
  args: ClientArgs,
  role: Role,
  login: boolean,
  action: (ctx: CommandContext) => Promise<unknown>,
): Promise<void> {
  let client: CineboxClient | undefined;
  let worst: ExitCode = EXIT.ok;
  try {
    // Missing credentials are a usage mistake, told before any connection is tried.
    const account = login ? await credentials(args) : undefined;
    client = await connect(args);
    if (account) await client.login(account.name, account.password, role);
    const ctx: CommandContext = {
      client,
      progress: progressView(args.json ? process.stderr : process.stdout, { quiet: args.quiet }),
      say: (text) => {
        if (!args.json) process.stdout.write(`${text}\n`);
      },
      complain: (error, item) => {
        const failure = failureOf(error);
        if (item !== undefined && !failure.message.startsWith(`${item}: `)) failure.message = `${item}: ${failure.message}`;
        worst = Math.max(worst, failure.exit) as ExitCode;
        process.stderr.write(`cinebox: ${failure.message}\n`);
        return failure;
      },
      confirm: async (question, yes) => {
        if (yes) return true;
        if (!hasTerminal()) throw new UsageError(`${question} Pass --yes to confirm (there is no terminal to ask on).`);
        return prompter().confirm(question, { default: false });
      },
      columns: Math.min(process.stdout.columns || 80, 120),
    };
    const result = await action(ctx);
    if (args.json && result !== undefined) process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    if (worst !== EXIT.ok) process.exitCode = worst;
  } catch (error) {
    fail(error, args.json);
  } finally {
    client?.close();
  }
}

/** The menus: `cinebox admin` / `cinebox user` without a subcommand. */
export async function runMenuCommand(
  args: ClientArgs,
  menu: (ctx: { client: CineboxClient; io: ReturnType<typeof terminalIO> }) => Promise<number>,
): Promise<void> {
  if (!hasTerminal() || !process.stdout.isTTY) {
    fail(new UsageError('the menu needs a terminal; for scripts use a subcommand (see --help)'), args.json);
    return;
  }
  let client: CineboxClient | undefined;
  try {
    client = await connect(args);
    process.exitCode = await menu({ client, io: terminalIO({ quiet: args.quiet }) });
  } catch (error) {
    fail(error, args.json);
  } finally {
    client?.close();
  }
}

/** One line on stderr (or a JSON error on stdout), never a stack trace; the exit code says what kind of failure it was. */
export function fail(error: unknown, json = false): void {
  report(error, json);
}

