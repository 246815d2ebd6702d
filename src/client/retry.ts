/**
 * When the client tries a request again: after the connection dropped (a node died, a
 * rolling restart, a balancer cut it) or the server said it is going away, with exponential
 * backoff and jitter so clients cut together do not come back together. Which requests may
 * be repeated at all is the caller's decision (cinebox-client.ts).
 */
import { ERRORS } from '../protocol/error-codes.js';
import { ConnectionError, ServerError } from './connection.js';

export interface RetryOptions {
  /** Attempts after the first; 0 = never retry. Default 3. */
  retries?: number;
  /** The first pause; it doubles each time, up to `maxBackoffMs`. */
  backoffMs?: number;
  maxBackoffMs?: number;
  /** Told before each pause (progress lines, counters). */
  onRetry?: (info: RetryInfo) => void;
}

export interface RetryInfo {
  /** What is retried: a message type, `upload` or `download`. */
  what: string;
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  error: Error;
}

export const DEFAULT_RETRIES = 3;

/** The connection is gone or going: a new one (through a balancer, to another node) may succeed. */
export function isDrop(error: unknown): error is Error {
  if (error instanceof ConnectionError) return true;
  // Sent as the last frame before the server closes: it is stopping, or at its connection limit.
  const code = error instanceof ServerError ? error.code : undefined;
  return code === ERRORS.SHUTTING_DOWN.code || code === ERRORS.BUSY.code || code === ERRORS.TIMEOUT.code;
}

/** The pause before retry `attempt` (1-based): base·2^(attempt-1), capped, then between half and all of it. */
export function backoffDelay(attempt: number, options: RetryOptions, random = Math.random): number {
  const base = options.backoffMs ?? 500;
  const cap = options.maxBackoffMs ?? 8000;
  const full = Math.min(base * 2 ** (attempt - 1), cap);
  return Math.round(full * (0.5 + random() / 2));
}

export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
