/** server_info reports the version package.json says, not a copy of it. */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '../helpers/world.js';

describe('server_info', () => {
  let world: World;
  beforeAll(async () => {
    world = await startWorld('sqlite');
  });
  afterAll(async () => world?.close());

  it('carries the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    const conn = await world.connect();
    expect(await conn.call('server_info', {})).toMatchObject({ flag: true, version });
  });
});
