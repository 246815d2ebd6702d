/**
 * Every `code` a failed reply may carry: the one registry of the wire contract. The server's
 * error classes, its closing frames, the client's checks and the table in docs/PROTOCOL.md
 * (`npm run docs`) all come from here; a test checks each key against its code.
 */
export interface ErrorCodeSpec {
  readonly code: string;
  /** What it means for a client, as the docs say it. */
  readonly meaning: string;
  /** The server closes the connection right after this frame. */
  readonly closes?: boolean;
}

export const ERRORS = {
  BAD_REQUEST: { code: 'BAD_REQUEST', meaning: 'A field is missing, of the wrong type, or out of range.' },
  UNKNOWN_TYPE: { code: 'UNKNOWN_TYPE', meaning: 'The message type does not exist.' },
  NOT_LOGGED_IN: { code: 'NOT_LOGGED_IN', meaning: 'No valid session on this connection.' },
  FORBIDDEN: { code: 'FORBIDDEN', meaning: 'Logged in, but not allowed (a viewer calling an admin function, a wrong admin code).' },
  LOGIN_FAILED: { code: 'LOGIN_FAILED', meaning: 'Wrong name or password (one message for both, so names cannot be probed).' },
  LOGIN_BLOCKED: { code: 'LOGIN_BLOCKED', meaning: 'Too many failed logins of this account from this address, or from this address against many accounts: blocked for a while (an admin can lift it).' },
  ACCOUNT_LOCKED: { code: 'ACCOUNT_LOCKED', meaning: 'The account is locked (by an admin, or for a while after too many failed logins).' },
  NOT_FOUND: { code: 'NOT_FOUND', meaning: 'Nothing matches: no such video or user, or an empty list (no videos, no notices yet).' },
  CONFLICT: { code: 'CONFLICT', meaning: 'The thing exists already (a user name, a video, VIP status).' },
  INTEGRITY: { code: 'INTEGRITY', meaning: "An upload's bytes do not match the SHA-256 the client declared." },
  QUOTA_EXCEEDED: { code: 'QUOTA_EXCEEDED', meaning: "The upload would take the admin past their storage quota; the reply carries `used_bytes` and `quota_bytes`." },
  STORAGE_FULL: { code: 'STORAGE_FULL', meaning: "The server's disk is full; the bytes received so far are kept for a resume (`offset` = bytes held)." },
  RESUME_MISMATCH: { code: 'RESUME_MISMATCH', meaning: 'A resumed upload starts past the bytes the server holds; `offset` says where to start (check_movie tells it too).' },
  EVENTS_EXPIRED: { code: 'EVENTS_EXPIRED', meaning: 'A `subscribe` `since` older than the events kept (`--event-retention`); `oldest_id` says where they start.' },
  DAILY_LIMIT: {
    code: 'DAILY_LIMIT',
    meaning: "The download does not fit the rest of today's allowance (bytes or number of downloads); the reply carries `used_bytes`, `limit_bytes`, `used_count`, `limit_count`, `size` and `resets_at`.",
  },
  DOWNLOADS_OFF: { code: 'DOWNLOADS_OFF', meaning: 'An admin turned downloading off for this viewer (`cinebox admin policy NAME --downloads off`).' },
  INTERNAL: { code: 'INTERNAL', meaning: 'The server failed; the details are in its log, never in the reply.' },
  BAD_FRAME: { code: 'BAD_FRAME', closes: true, meaning: 'The framing is broken (bad length, header or trailer).' },
  TIMEOUT: { code: 'TIMEOUT', closes: true, meaning: 'Idle for too long, a header not completed in time, or an upload body slower than `--min-transfer-rate`.' },
  RATE_LIMITED: { code: 'RATE_LIMITED', closes: true, meaning: 'More requests per second than `--max-request-rate` allows.' },
  TOO_LARGE: { code: 'TOO_LARGE', closes: true, meaning: 'An upload larger than `--max-upload`.' },
  BUSY: { code: 'BUSY', closes: true, meaning: 'The server is at a limit, try again shortly: too many connections, in total or from this address (sent instead of serving the connection, which is then closed); or, to `login` and `register`, too many password checks waiting, in all or from this address (the connection stays open).' },
  SHUTTING_DOWN: { code: 'SHUTTING_DOWN', closes: true, meaning: 'The server is shutting down and takes no new connections.' },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Every code, in the registry's order (docs, tests). */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];
