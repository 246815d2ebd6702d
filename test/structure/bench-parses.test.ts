/**
 * The bench is plain JavaScript outside the typecheck, so nothing else notices when a merge
 * breaks it: every file under bench/ must at least parse (`node --check`).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const BENCH = join(import.meta.dirname, '../../bench');
const scripts = [
  ...readdirSync(BENCH).filter((f) => f.endsWith('.mjs')),
  ...readdirSync(join(BENCH, 'lib')).filter((f) => f.endsWith('.mjs')).map((f) => join('lib', f)),
];

describe('bench scripts', () => {
  it('there are scripts to check', () => expect(scripts).toContain('run.mjs'));
  it.each(scripts)('%s parses', (script) => {
    expect(() => execFileSync(process.execPath, ['--check', join(BENCH, script)], { stdio: 'pipe' })).not.toThrow();
  });
});
