/** The error registry is the one list of codes, and docs/PROTOCOL.md documents each of them (as fastify checks its own). */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES_PART, errorCodesTable } from '../../src/cli/docs/error-codes.js';
import { generatedPart } from '../../src/cli/docs/generated-section.js';
import { ERROR_CODES, ERRORS } from '../../src/protocol/error-codes.js';
import * as serverErrors from '../../src/server/errors.js';

const srcDir = new URL('../../src/', import.meta.url);
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

  it('docs/PROTOCOL.md has no table row for a code the registry does not have (hand-written tables too)', async () => {
    const rows = [...(await protocolDoc()).matchAll(/^\| `([A-Z][A-Z_]+)` \|/gm)].map((match) => match[1]);
    expect(rows.length).toBeGreaterThanOrEqual(ERROR_CODES.length);
    expect(rows.filter((code) => !(ERROR_CODES as string[]).includes(code))).toEqual([]);
  });

  it('every error class a handler throws carries a code of the registry', () => {
    const classes = Object.values(serverErrors as Record<string, unknown>).filter(
      (value): value is new (message: string) => serverErrors.CineboxError =>
        typeof value === 'function' && value.prototype instanceof serverErrors.CineboxError,
    );
    expect(classes.length).toBeGreaterThan(10);
    for (const ErrorClass of classes) expect(ERROR_CODES).toContain(new ErrorClass('x').code);
  });

  it('the server writes no code as a literal: each comes from the registry (ERRORS.X.code)', async () => {
    const files = (await readdir(new URL('server/', srcDir), { recursive: true })).filter((file) => file.endsWith('.ts'));
    const literals: string[] = [];
    for (const file of files) {
      const source = await readFile(new URL(join('server', file), srcDir), 'utf8');
      for (const [literal, code] of source.matchAll(/'([A-Z][A-Z_]+)'/g)) {
        if ((ERROR_CODES as string[]).includes(code)) literals.push(`src/server/${file}: ${literal}`);
      }
    }
    expect(literals).toEqual([]);
  });
});
