/**
 * What a client sends as `password`: the hex MD5 of what the user typed, exactly as the
 * original Python clients do, so one account works from both. It is no protection by
 * itself; the server treats it as the secret and stores only a salted scrypt hash of it.
 */
import { createHash } from 'node:crypto';

export function wirePassword(typed: string): string {
  return createHash('md5').update(typed, 'utf8').digest('hex');
}
