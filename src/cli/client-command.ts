/**
 * What every `cinebox admin …` / `cinebox user …` command shares: the connection options,
 * credentials from flags, CINEBOX_* variables or a prompt, `--json` output, and one place
 * that turns any failure into one line on stderr and an exit code.
 *
 * Exit codes: 0 done; 1 the server refused (or a local problem, e.g. a missing file);
 * 2 the server could not be reached or the connection was lost; 130 cancelled (Ctrl-C).
 */
import { readFile } from 'node:fs/promises';
import type { Argv } from 'yargs';
import { CineboxClient, type Role } from '../client/cinebox-client.js';
import { ConnectionError, type ConnectOptions } from '../client/connection.js';
import { inquirerPrompter, isPromptExit, terminalIO, type Prompter } from '../client/ui/io.js';
import { progressView, type ProgressView } from '../client/ui/progress.js';
import { Interrupted } from '../client/ui/watched-transfers.js';
import { DEFAULT_PORT } from '../protocol/defaults.js';

export interface ClientArgs {
  host: string;
  port: number;
  tls?: boolean;
  ca?: string;
  clientSecret?: string;
  connectTimeout?: number;
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
    .option('name', { type: 'string', describe: 'Account name (asked for on a terminal)', group: 'Account:' })
    .option('password', { type: 'string', describe: 'Password (asked for on a terminal)', group: 'Account:' })
    .option('json', { type: 'boolean', default: false, describe: 'Print the result as JSON (progress goes to stderr)' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'No progress output' });
}

/** A mistake in how the command was called (missing credentials, no terminal to confirm on). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CommandContext {
  client: CineboxClient;
  progress: ProgressView;
  /** Human output; silent with --json. */
  say(text: string): void;
  /** A problem with one item of several (one line on stderr); the command then exits 1. */
  complain(text: string): void;
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
  return CineboxClient.connect(options);
}

/** Connects, logs in when `login`, runs `action`, prints its result with --json; never throws. */
export async function runClientCommand(
  args: ClientArgs,
  role: Role,
  login: boolean,
  action: (ctx: CommandContext) => Promise<unknown>,
): Promise<void> {
  let client: CineboxClient | undefined;
  let complained = false;
  try {
    client = await connect(args);
    if (login) {
      const { name, password } = await credentials(args);
      await client.login(name, password, role);
    }
    const ctx: CommandContext = {
      client,
      progress: progressView(args.json ? process.stderr : process.stdout, { quiet: args.quiet }),
      say: (text) => {
        if (!args.json) process.stdout.write(`${text}\n`);
      },
      complain: (text) => {
        complained = true;
        process.stderr.write(`cinebox: ${oneLine(text)}\n`);
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
    if (complained) process.exitCode = 1;
  } catch (error) {
    fail(error);
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
    fail(new UsageError('the menu needs a terminal; for scripts use a subcommand (see --help)'));
    return;
  }
  let client: CineboxClient | undefined;
  try {
    client = await connect(args);
    process.exitCode = await menu({ client, io: terminalIO({ quiet: args.quiet }) });
  } catch (error) {
    fail(error);
  } finally {
    client?.close();
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** One line on stderr, never a stack trace; the exit code says what kind of failure it was. */
export function fail(error: unknown): void {
  if (isPromptExit(error) || error instanceof Interrupted) {
    process.stderr.write('cinebox: cancelled\n');
    process.exitCode = 130;
    return;
  }
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`cinebox: ${oneLine(message)}\n`);
  process.exitCode = error instanceof ConnectionError ? 2 : 1;
}
