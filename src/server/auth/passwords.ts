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
 * Hashes running at once. Each takes 128*N*r bytes (16 MiB at the default cost) on a thread
 * pool thread; two at a time give all the hashing two cores can do, and a login flood still
 * leaves half of the four pool threads to file reads and writes (downloads, uploads).
 * Logins beyond that wait their turn (~50 ms each). It does not bound RSS: glibc keeps the
 * freed 16 MiB in each pool thread's arena (measured: +68 MB after 100 logins, limit 1 to 4
 * alike); only MALLOC_ARENA_MAX=1 or MALLOC_MMAP_THRESHOLD_ set before start returns it.
 */
const MAX_CONCURRENT_HASHES = 2;
let hashing = 0;
const waiting: (() => void)[] = [];

async function scrypt(secret: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  if (hashing >= MAX_CONCURRENT_HASHES) await new Promise<void>((resolve) => waiting.push(resolve));
  else hashing++;
  try {
    return await new Promise((resolve, reject) =>
      scryptCallback(secret, salt, KEY_BYTES, { ...options, maxmem: 256 * options.N! * r }, (err, key) => (err ? reject(err) : resolve(key))),
    );
  } finally {
    // The slot passes straight to the next in line, or frees up.
    const next = waiting.shift();
    if (next) next();
    else hashing--;
  }
}

export async function hashPassword(secret: string, N = DEFAULT_SCRYPT_N): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(secret, salt, { N, r, p });
  return ['scrypt', N, r, p, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, rr, pp, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const key = await scrypt(secret, Buffer.from(salt, 'base64'), { N: Number(n), r: Number(rr), p: Number(pp) });
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
