/** The error registry is the one list of codes, and docs/PROTOCOL.md documents each of them (as fastify checks its own). */
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES_PART, errorCodesTable } from '../../src/cli/docs/error-codes.js';
import { generatedPart } from '../../src/cli/docs/generated-section.js';
import { ERROR_CODES, ERRORS } from '../../src/protocol/error-codes.js';
import * as serverErrors from '../../src/server/errors.js';

const protocolDoc = () => readFile(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');

describe('error codes', () => {
  it.each(Object.entries(ERRORS))('%s is the key of its own code', (key, spec) => {
    expect(spec.code).toBe(key);
  });

  it.each(ERROR_CODES)('%s is documented in docs/PROTOCOL.md', async (code) => {
    const part = generatedPart(await protocolDoc(), ERROR_CODES_PART);
    expect(part, 'docs/PROTOCOL.md has no generated error-codes part: run `npm run docs`').toBeDefined();
    expect(part).toContain(`| \`${code}\` |`);
  });

  it('the table in docs/PROTOCOL.md is the one the registry makes (else run `npm run docs`)', async () => {
    expect(generatedPart(await protocolDoc(), ERROR_CODES_PART)).toBe(errorCodesTable());
  });

  it('every error class a handler throws carries a code of the registry', () => {
    const classes = Object.values(serverErrors as Record<string, unknown>).filter(
      (value): value is new (message: string) => serverErrors.CineboxError =>
        typeof value === 'function' && value.prototype instanceof serverErrors.CineboxError,
    );
    expect(classes.length).toBeGreaterThan(10);
    for (const ErrorClass of classes) expect(ERROR_CODES).toContain(new ErrorClass('x').code);
  });
});
