/** The version server_info reports: package.json's, found upward from this file (src/ or dist/; a test build may sit deeper). */
import { existsSync, readFileSync } from 'node:fs';

function packageVersion(): string {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    const file = new URL('package.json', dir);
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'cinebox' && pkg.version) return pkg.version;
  }
  throw new Error('package.json of cinebox not found above the server code');
}

export const SERVER_VERSION = packageVersion();
