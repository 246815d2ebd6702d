/**
 * Password hashing with scrypt and a per-user salt. The stored form carries its own
 * parameters (`scrypt$N$r$p$salt$hash`), so the cost can be raised later (`--scrypt-n`)
 * without breaking existing accounts: each hash is checked with the N it was made with.
 */
import { randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';

export const DEFAULT_SCRYPT_N = 16384;
const r = 8;
const p = 1;
const KEY_BYTES = 32;

/**
 * Where a hash runs: the server passes its HashQueue (hash-queue.ts: bounded, fair between
 * addresses, two at a time); the operator's commands hash directly.
 */
export type HashScheduler = <T>(task: () => Promise<T>) => Promise<T>;
const direct: HashScheduler = (task) => task();

function scrypt(secret: string, salt: Buffer, options: ScryptOptions, schedule: HashScheduler): Promise<Buffer> {
  return schedule(
    () =>
      new Promise<Buffer>((resolve, reject) =>
        scryptCallback(secret, salt, KEY_BYTES, { ...options, maxmem: 256 * options.N! * r }, (err, key) => (err ? reject(err) : resolve(key))),
      ),
  );
}

export async function hashPassword(secret: string, N = DEFAULT_SCRYPT_N, schedule = direct): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, { N, r, p }, schedule);
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(secret: string, stored: string, schedule = direct): Promise<boolean> {
  const [scheme, n, rr, pp, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(secret, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(rr), p: Number(pp) }, schedule);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

const decoys = new Map<number, Promise<string>>();

/**
 * A real hash of a random secret at cost N: logins for unknown names verify against it, so
 * an unknown name costs the same time as a wrong password and names cannot be probed.
 */
export function decoyHash(N = DEFAULT_SCRYPT_N): Promise<string> {
  let decoy = decoys.get(N);
  if (!decoy) decoys.set(N, (decoy = hashPassword(randomBytes(16).toString('hex'), N)));
  return decoy;
}
