/**
 * Structured logs (pino): pretty, coloured lines when stdout is a terminal (an operator
 * watching `npm start`), JSON lines otherwise (a file, journald, a log shipper). Both with
 * ISO times; numbers rounded to 3 decimals (a duration of 0.024691177000000061 s is noise);
 * a key the connection's logger already carries (conn, addr) is not repeated on a line.
 * `--log-level silent` turns them off.
 */
import pinoPretty from 'pino-pretty';
import { pino, stdTimeFunctions, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export interface LogOutput {
  /** Where the lines go; stdout by default. */
  destination?: DestinationStream;
  /** Pretty lines instead of JSON; by default when stdout is a terminal and no destination is given. */
  pretty?: boolean;
}

export function createLogger(level: string, output: LogOutput = {}): Logger {
  const options: LoggerOptions = {
    level,
    base: { app: 'cinebox' },
    timestamp: stdTimeFunctions.isoTime,
    formatters: { log: roundNumbers },
    hooks: { logMethod: withoutBoundKeys },
  };
  const pretty = output.pretty ?? (output.destination === undefined && Boolean(process.stdout.isTTY));
  if (pretty) {
    // Synchronous, in this thread: a worker transport could lose the last lines before an exit.
    const prettifier = pinoPretty({
      colorize: output.destination === undefined,
      sync: true,
      translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
      ignore: 'pid,hostname,app',
      ...(output.destination ? { destination: output.destination as NodeJS.WritableStream } : {}),
    });
    return pino(options, prettifier);
  }
  return output.destination ? pino(options, output.destination) : pino(options);
}

function roundNumbers(fields: Record<string, unknown>): Record<string, unknown> {
  let rounded: Record<string, unknown> | undefined;
  for (const [key, value] of Object.entries(fields)) {
    if (typeof value === 'number' && !Number.isInteger(value) && Number.isFinite(value)) {
      rounded ??= { ...fields };
      rounded[key] = Math.round(value * 1000) / 1000;
    }
  }
  return rounded ?? fields;
}

/**
 * pino writes a child's bindings and then the line's fields, so `log.child({ addr }).warn({ addr })`
 * printed `addr` twice (JSON readers keep one, grep sees two). A field equal to a binding is dropped.
 */
function withoutBoundKeys(this: Logger, args: Parameters<Logger['info']>, method: (...args: unknown[]) => void): void {
  const [fields, ...rest] = args as unknown[];
  if (fields === null || typeof fields !== 'object' || fields instanceof Error) return method.apply(this, args as unknown[]);
  const bound = this.bindings();
  const repeated = Object.keys(fields).filter((key) => Object.hasOwn(bound, key) && bound[key] === (fields as Record<string, unknown>)[key]);
  if (repeated.length === 0) return method.apply(this, args as unknown[]);
  const kept = { ...(fields as Record<string, unknown>) };
  for (const key of repeated) delete kept[key];
  method.apply(this, [kept, ...rest]);
}
