import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// The README's source map is the new engineer's first picture of the tree: a folder it does not
// name (or names after it is gone) makes it wrong, so it is checked against the tree.
const readme = readFileSync('README.md', 'utf8');
const map = readme.slice(readme.indexOf('## Source map'), readme.indexOf('## The clients'));
const folders = (dir: string) =>
  readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `${dir}/${entry.name}`);

describe('the README source map', () => {
  it.each([...folders('src'), ...folders('src/server'), 'src/client/ui', 'src/cli/commands'])('names %s', (folder) => {
    expect(map).toMatch(new RegExp(`^${folder}\\s`, 'm'));
  });

  it('names no folder that is gone', () => {
    const named = [...map.matchAll(/^(src\/[\w/]+)\s/gm)].map((m) => m[1]);
    for (const folder of named) expect(() => readdirSync(folder)).not.toThrow();
  });
});
