/**
 * Mistakes found on this machine before anything is sent: a file that is missing, a folder
 * named where a file was meant, an empty file. The menus and the commands say them in the
 * same words (the CLI also gives them their own exit code), and the server never sees them.
 */
import { stat } from 'node:fs/promises';

export type LocalMistakeCode =
  | 'NO_SUCH_FILE'
  | 'IS_A_DIRECTORY'
  | 'NOT_A_FILE'
  | 'EMPTY_FILE'
  | 'PERMISSION_DENIED'
  | 'DISK_FULL'
  | 'PORT_IN_USE'
  | 'NO_DATABASE'
  | 'LOCAL_ERROR';

export class LocalMistake extends Error {
  constructor(
    message: string,
    readonly code: LocalMistakeCode,
  ) {
    super(message);
    this.name = 'LocalMistake';
  }
}

/** What an upload needs: an existing, readable, regular file with at least one byte. */
export async function uploadableFile(path: string): Promise<{ size: number }> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw localMistakeOf(error, path) ?? error;
  });
  if (info.isDirectory()) throw new LocalMistake(`${path}: is a directory, not a file`, 'IS_A_DIRECTORY');
  if (!info.isFile()) throw new LocalMistake(`${path}: is not a regular file`, 'NOT_A_FILE');
  if (info.size === 0) throw new LocalMistake(`${path}: is empty (0 bytes), nothing to upload`, 'EMPTY_FILE');
  return { size: info.size };
}

const SYSTEM_ERRORS: Record<string, [LocalMistakeCode, string]> = {
  ENOENT: ['NO_SUCH_FILE', 'no such file'],
  ENOTDIR: ['NO_SUCH_FILE', 'no such file'],
  EISDIR: ['IS_A_DIRECTORY', 'is a directory, not a file'],
  EACCES: ['PERMISSION_DENIED', 'permission denied'],
  EPERM: ['PERMISSION_DENIED', 'permission denied'],
  EROFS: ['PERMISSION_DENIED', 'read-only file system'],
  ENOSPC: ['DISK_FULL', 'no space left on the disk'],
  EDQUOT: ['DISK_FULL', 'disk quota exceeded'],
};

/**
 * A file-system error (ENOENT, EISDIR, EACCES, ENOSPC…) as a LocalMistake naming the path,
 * instead of Node's `EISDIR: illegal operation on a directory, read`; undefined for others.
 */
export function localMistakeOf(error: unknown, path?: string): LocalMistake | undefined {
  if (error instanceof LocalMistake) return error;
  const system = error as NodeJS.ErrnoException | undefined;
  if (!(system instanceof Error) || typeof system.code !== 'string' || typeof system.syscall !== 'string') return undefined;
  const where = path ?? system.path;
  const known = SYSTEM_ERRORS[system.code];
  if (!known && where === undefined) return undefined; // a socket's ECONNRESET is no local mistake
  const [code, reason] = known ?? ['LOCAL_ERROR', system.message.replace(/^[A-Z]+: /, '')];
  return new LocalMistake(where ? `${where}: ${reason}` : reason, code);
}
