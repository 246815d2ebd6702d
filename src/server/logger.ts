/** Structured logs (pino, JSON lines on stdout); `--log-level silent` turns them off. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string): Logger {
  return pino({ level, base: { app: 'cinebox' } });
}
