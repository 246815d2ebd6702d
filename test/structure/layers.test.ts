/**
 * The layer picture (docs: README "Source map"), enforced: every import in src/ is read and
 * checked against who may use whom, so an arrow running up the picture fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const src = join(root, 'src');

/** Which project layers each layer may import (itself included). */
const mayImport: Record<string, string[]> = {
  protocol: ['protocol'],
  orm: ['orm'],
  transfer: ['transfer', 'protocol'],
  client: ['client', 'transfer', 'protocol'],
  server: ['server', 'orm', 'transfer', 'protocol'],
  cli: ['cli', 'server', 'client', 'orm', 'transfer', 'protocol'],
};

/** Packages and built-ins a layer must not reach for: the codec touches no files or threads, the server knows no UI, the UI no socket. */
const forbiddenModules: Record<string, RegExp> = {
  protocol: /^node:(fs|fs\/promises|worker_threads|child_process)$/,
  server: /^(inquirer|@inquirer\/.*|cli-progress|yargs.*|string-width)$/,
  'client/ui': /^node:(net|tls)$/,
};

interface Import {
  file: string;
  spec: string;
  /** src/<layer>/… of a relative import, or undefined for a package. */
  target?: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? sourceFiles(path) : entry.name.endsWith('.ts') ? [path] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^import\s+['"]([^'"]+)['"]/gm)].map(
    (m) => m[1] ?? m[2] ?? m[3]!,
  );
  return specs.map((spec) => ({
    file: relative(src, file),
    spec,
    target: spec.startsWith('.') ? relative(src, resolve(dirname(file), spec)) : undefined,
  }));
}

const layerOf = (path: string) => path.split('/')[0]!;
const files = sourceFiles(src);
const imports = files.flatMap(importsOf);

describe('layers', () => {
  it('finds the imports it checks', () => {
    // A scanner that matched nothing would pass every rule below.
    expect(files.length).toBeGreaterThan(50);
    expect(imports.filter((i) => i.target).length).toBeGreaterThan(200);
    expect(imports).toContainEqual({ file: 'server/dispatcher.ts', spec: './handlers.js', target: 'server/handlers.js' });
  });

  it('no arrow runs up the picture (protocol and orm import nothing above them; the client never imports server code)', () => {
    const upward = imports
      .filter((i) => i.target !== undefined)
      .filter((i) => !(mayImport[layerOf(i.file)] ?? []).includes(layerOf(i.target!)))
      .map((i) => `${i.file} imports ${i.spec}`);
    expect(upward).toEqual([]);
  });

  it('every file sits in a known layer', () => {
    expect(files.map((f) => layerOf(relative(src, f))).filter((layer) => !(layer in mayImport))).toEqual([]);
  });

  it('the wire client never imports the terminal UI', () => {
    const wireToUi = imports
      .filter((i) => i.file.startsWith('client/') && !i.file.startsWith('client/ui/') && i.target?.startsWith('client/ui/'))
      .map((i) => `${i.file} imports ${i.spec}`);
    expect(wireToUi).toEqual([]);
  });

  it.each(Object.entries(forbiddenModules))('%s uses none of %s', (area, forbidden) => {
    const found = imports.filter((i) => i.file.startsWith(`${area}/`) && !i.target && forbidden.test(i.spec)).map((i) => `${i.file} imports ${i.spec}`);
    expect(found).toEqual([]);
  });
});
