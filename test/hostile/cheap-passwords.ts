/**
 * A cheap stand-in for src/server/passwords.ts, for the hostile suites only. Every case logs
 * a bystander in (and many log attackers in); at ~120 ms of scrypt each on a 2-core machine
 * that alone would blow the suite's time budget, and password hashing is not what these
 * cases attack. Login, lockout and session code all still run; only the hash is plain.
 * Use in a test file (vi.mock is hoisted there):
 *
 *   vi.mock('../../src/server/passwords.js', async (original) => (await import('./cheap-passwords.js')).cheapPasswords(original));
 */
type PasswordsModule = typeof import('../../src/server/passwords.js');

export async function cheapPasswords(importOriginal: () => Promise<PasswordsModule>): Promise<PasswordsModule> {
  return {
    ...(await importOriginal()),
    hashPassword: async (secret: string) => `plain$${secret}`,
    verifyPassword: async (secret: string, stored: string) => stored === `plain$${secret}`,
    decoyHash: Promise.resolve('plain$\u0000no-such-secret'),
  };
}
