/**
 * The client side of the CLI (client-command.ts, `cinebox admin …`, `cinebox user …`) and
 * src/client reach no server code: they know the server only by the wire (src/protocol).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const entries = ['src/cli/client-command.ts', 'src/cli/commands/admin.ts', 'src/cli/commands/user.ts'];

/** Every project file `entry` imports, directly or not (static and dynamic imports). */
function reachable(entry: string, seen = new Set<string>()): Set<string> {
  if (seen.has(entry)) return seen;
  seen.add(entry);
  const source = readFileSync(join(root, entry), 'utf8');
  for (const [, spec] of source.matchAll(/(?:from|import\()\s*'(\.{1,2}\/[^']+)'/g)) {
    const target = relative(root, resolve(root, dirname(entry), spec)).replace(/\.js$/, '.ts');
    reachable(target, seen);
  }
  return seen;
}

describe('layers', () => {
  it.each(entries)('%s imports no server code', (entry) => {
    const files = [...reachable(entry)];
    expect(files.length).toBeGreaterThan(3);
    expect(files.filter((file) => file.startsWith('src/server/') || file.startsWith('src/orm/'))).toEqual([]);
  });
});
