/**
 * Every error a handler may throw, each with a stable code from the registry. One place
 * (replyForError) turns any error into the reply frame, so handlers just
 * `throw new NotFound('movie 3')`.
 */
import { ERRORS, type ErrorCode } from '../protocol/error-codes.js';

export class CineboxError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra reply fields a client may act on (e.g. `used_bytes`, `quota_bytes`). */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

const kind = (spec: { readonly code: ErrorCode }) =>
  class extends CineboxError {
    constructor(message: string, details?: Record<string, unknown>) {
      super(spec.code, message, details);
    }
  };

// What each means is said once, in the registry (src/protocol/error-codes.ts).
export class BadRequest extends kind(ERRORS.BAD_REQUEST) {}
export class UnknownType extends kind(ERRORS.UNKNOWN_TYPE) {}
export class NotLoggedIn extends kind(ERRORS.NOT_LOGGED_IN) {}
export class Forbidden extends kind(ERRORS.FORBIDDEN) {}
export class LoginFailed extends kind(ERRORS.LOGIN_FAILED) {}
export class AccountLocked extends kind(ERRORS.ACCOUNT_LOCKED) {}
export class NotFound extends kind(ERRORS.NOT_FOUND) {}
export class Conflict extends kind(ERRORS.CONFLICT) {}
/**
 * CONFLICT for content stored already: `movie_id` and `sha256` name the stored video, so a
 * client whose upload reply was lost to a dropped connection sees that its upload is stored.
 */
export function duplicateOf(movie: { id: number; name: string; sha256: string }, prefix = 'this video is already stored'): Conflict {
  return new Conflict(`${prefix} as #${movie.id} "${movie.name}"`, { movie_id: movie.id, sha256: movie.sha256 });
}
/** CONFLICT too: another attempt (or a repair) took the upload row while this one published; its partial stays for it. */
export class TakenOver extends Conflict {}
export class IntegrityError extends kind(ERRORS.INTEGRITY) {}
export class LoginBlocked extends kind(ERRORS.LOGIN_BLOCKED) {}
export class QuotaExceeded extends kind(ERRORS.QUOTA_EXCEEDED) {}
export class StorageFull extends kind(ERRORS.STORAGE_FULL) {}
export class ResumeMismatch extends kind(ERRORS.RESUME_MISMATCH) {}
export class Busy extends kind(ERRORS.BUSY) {}
export class EventsExpired extends kind(ERRORS.EVENTS_EXPIRED) {}
export class DailyLimitReached extends kind(ERRORS.DAILY_LIMIT) {}
export class DownloadsDisabled extends kind(ERRORS.DOWNLOADS_OFF) {}

export interface ErrorReply {
  flag: false;
  msg: string;
  code: ErrorCode;
  [field: string]: unknown;
}

/** The reply for any error; internal details never reach the client. */
export function replyForError(error: unknown): ErrorReply {
  if (error instanceof CineboxError) return { ...error.details, flag: false, msg: error.message, code: error.code };
  return { flag: false, msg: 'internal server error', code: ERRORS.INTERNAL.code };
}
