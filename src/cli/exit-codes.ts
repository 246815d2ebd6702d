/**
 * One table of exit codes for every `cinebox` command, and one way of telling a failure:
 * a line on stderr, or with --json one error object on stdout (scripts read stdout).
 *
 *   0   done
 *   1   the server refused (wrong password, no such video, quota…), or any other failure
 *   2   usage mistake: the command line is wrong (unknown option, missing or malformed argument,
 *       a question to confirm with no terminal to ask on and no --yes)
 *   3   local mistake: something on this machine (a missing file, a directory or an empty
 *       file given for upload, a folder that cannot be written, a port already in use,
 *       a database file that does not exist)
 *   4   connection failure: the server cannot be reached, or the connection was lost
 *   130 cancelled (Ctrl-C)
 *
 * The README's "Exit codes" section is this table.
 */
import { ConnectionError, ServerError } from '../client/connection.js';
import { localMistakeOf } from '../client/local-mistake.js';
import { isPromptExit } from '../client/ui/io.js';
import { Interrupted } from '../client/ui/watched-transfers.js';

/** The table as the commands' help says it. */
export const EXIT_CODES_HELP =
  'Exit codes: 0 done, 1 refused by the server, 2 usage mistake, 3 local mistake (a missing or empty file…), ' +
  '4 server unreachable or connection lost, 130 cancelled.';

export const EXIT = { ok: 0, refused: 1, usage: 2, local: 3, connection: 4, cancelled: 130 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A mistake in how the command was called (a malformed ID, missing credentials, no terminal to confirm on). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface Failure {
  exit: ExitCode;
  /** Stable, for scripts: the server's code (NOT_FOUND…), or USAGE, NO_SUCH_FILE…, CONNECTION, CANCELLED. */
  code: string;
  message: string;
}

export function failureOf(error: unknown): Failure {
  if (isPromptExit(error) || error instanceof Interrupted) return { exit: EXIT.cancelled, code: 'CANCELLED', message: 'cancelled' };
  if (error instanceof UsageError) return { exit: EXIT.usage, code: 'USAGE', message: oneLine(error.message) };
  if (error instanceof ConnectionError) return { exit: EXIT.connection, code: 'CONNECTION', message: oneLine(error.message) };
  if (error instanceof ServerError) return { exit: EXIT.refused, code: error.code ?? 'REFUSED', message: oneLine(error.message) };
  if (isNetworkError(error)) return { exit: EXIT.connection, code: 'CONNECTION', message: oneLine((error as Error).message) };
  const local = localMistakeOf(error);
  if (local) return { exit: EXIT.local, code: local.code, message: oneLine(local.message) };
  return { exit: EXIT.refused, code: 'ERROR', message: oneLine(error instanceof Error ? error.message : String(error)) };
}

/** Says what failed (stderr, or a JSON object on stdout with --json) and sets the exit code. */
export function report(error: unknown, json: boolean): Failure {
  const failure = failureOf(error);
  if (json) process.stdout.write(`${JSON.stringify(jsonError(failure))}\n`);
  else process.stderr.write(`cinebox: ${failure.message}\n`);
  process.exitCode = failure.exit;
  return failure;
}

export function jsonError(failure: Failure): { ok: false; exit: number; code: string; message: string } {
  return { ok: false, exit: failure.exit, code: failure.code, message: failure.message };
}

/** A socket that could not connect (e.g. the server's MySQL): a connection failure, not a local mistake. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'EPIPE']);
function isNetworkError(error: unknown): boolean {
  return error instanceof Error && NETWORK_CODES.has(String((error as NodeJS.ErrnoException).code));
}

export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** `--json` anywhere on the command line: yargs may fail before it parsed the flag. */
export const wantsJson = (argv: readonly string[]) => argv.includes('--json') || argv.includes('--json=true');
