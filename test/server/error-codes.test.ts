/** Every error code a client may see is documented in the README (fastify keeps the same promise). */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/server/errors.js';

describe('error codes', () => {
  it.each(ERROR_CODES)('%s is documented in README.md', async (code) => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(`\`${code}\``);
  });
});
