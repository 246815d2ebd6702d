/**
 * Every error a handler may throw, each with a stable code. One place (replyForError)
 * turns any error into the reply frame, so handlers just `throw new NotFound('movie 3')`.
 * The codes are part of the protocol's optional `code` field and listed in the README.
 */
export class CineboxError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Extra reply fields a client may act on (e.g. `used_bytes`, `quota_bytes`). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

const kind = (code: string) =>
  class extends CineboxError {
    constructor(message: string, details?: Record<string, unknown>) {
      super(code, message, details);
    }
  };

/** A field is missing, of the wrong type, or out of range. */
export class BadRequest extends kind('BAD_REQUEST') {}
/** The message type does not exist. */
export class UnknownType extends kind('UNKNOWN_TYPE') {}
/** No valid session on this connection. */
export class NotLoggedIn extends kind('NOT_LOGGED_IN') {}
/** Logged in, but not allowed (a viewer calling an admin function, a wrong admin code). */
export class Forbidden extends kind('FORBIDDEN') {}
/** Wrong name or password (one message for both, so names cannot be probed). */
export class LoginFailed extends kind('LOGIN_FAILED') {}
/** The account is locked. */
export class AccountLocked extends kind('ACCOUNT_LOCKED') {}
export class NotFound extends kind('NOT_FOUND') {}
/** The thing exists already (a user name, a video, VIP status). */
export class Conflict extends kind('CONFLICT') {}
/** An upload's bytes do not match what the client declared. */
export class IntegrityError extends kind('INTEGRITY') {}
/** Too many failed logins from this address: it is blocked for a while. */
export class LoginBlocked extends kind('LOGIN_BLOCKED') {}
/** The upload would take the admin past their storage quota. */
export class QuotaExceeded extends kind('QUOTA_EXCEEDED') {}
/** The server's disk is full; the bytes received so far are kept for a resume. */
export class StorageFull extends kind('STORAGE_FULL') {}
/** A resumed upload starts past the bytes the server holds; ask check_movie for the offset. */
export class ResumeMismatch extends kind('RESUME_MISMATCH') {}

/** Today's download allowance (bytes or count) would be exceeded; carries used/limit and `resets_at`. */
export class DailyLimitReached extends kind('DAILY_LIMIT') {}
/** An admin turned downloading off for this viewer. */
export class DownloadsDisabled extends kind('DOWNLOADS_OFF') {}

/** All codes a client may see, for the README and its test. */
export const ERROR_CODES = [
  'BAD_FRAME',
  'BAD_REQUEST',
  'UNKNOWN_TYPE',
  'NOT_LOGGED_IN',
  'FORBIDDEN',
  'LOGIN_FAILED',
  'ACCOUNT_LOCKED',
  'NOT_FOUND',
  'CONFLICT',
  'INTEGRITY',
  'LOGIN_BLOCKED',
  'QUOTA_EXCEEDED',
  'STORAGE_FULL',
  'RESUME_MISMATCH',
  'DAILY_LIMIT',
  'DOWNLOADS_OFF',
  'TIMEOUT',
  'RATE_LIMITED',
  'TOO_LARGE',
  'BUSY',
  'SHUTTING_DOWN',
  'INTERNAL',
] as const;

export interface ErrorReply {
  flag: false;
  msg: string;
  code: string;
  [field: string]: unknown;
}

/** The reply for any error; internal details never reach the client. */
export function replyForError(error: unknown): ErrorReply {
  if (error instanceof CineboxError) return { ...error.details, flag: false, msg: error.message, code: error.code };
  return { flag: false, msg: 'internal server error', code: 'INTERNAL' };
}
