/** A node's name: `--node-name`, else `<hostname>:<port>`; checked like every setting; on every log line. */
import { hostname } from 'node:os';
import { describe, expect, it } from 'vitest';
import { resolveServerConfig } from '../../src/cli/server-settings.js';
import { configWith } from '../../src/server/config.js';
import { nodeIdentityFor } from '../../src/server/nodes/identity.js';
import { startWorld } from '../helpers/world.js';

describe('node identity', () => {
  it('defaults to <hostname>:<port>, is made unique for --port 0, and each start is a new run', () => {
    const host = hostname().slice(0, 40);
    expect(nodeIdentityFor(configWith({ port: 1688 })).name).toBe(`${host}:1688`);
    expect(nodeIdentityFor(configWith({ port: 1688, nodeName: 'shop-1' })).name).toBe('shop-1');
    const [a, b] = [nodeIdentityFor(configWith({ port: 0 })), nodeIdentityFor(configWith({ port: 0 }))];
    expect(a.name).toMatch(new RegExp(`^${host.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:${process.pid}\\.[0-9a-f]{6}$`));
    expect(a.name).not.toBe(b.name);
    expect(a.run).toMatch(/^[0-9a-f]{16}$/);
    expect(nodeIdentityFor(configWith({ port: 1688 })).run).not.toBe(nodeIdentityFor(configWith({ port: 1688 })).run);
  });

  it('refuses a name with spaces or over 64 characters', () => {
    expect(resolveServerConfig({ 'node-name': 'shop-2' }).nodeName).toBe('shop-2');
    expect(() => resolveServerConfig({ 'node-name': 'shop 2' })).toThrow(/--node-name must be 1 to 64 printable characters/);
    expect(() => resolveServerConfig({ 'node-name': 'x'.repeat(65) })).toThrow(/--node-name/);
  });

  it('is on every line the server logs', async () => {
    const world = await startWorld('sqlite', { nodeName: 'logging-node' });
    try {
      await world.loginAs('named', 'user');
      expect(world.logs.length).toBeGreaterThan(3);
      expect(world.logs.filter((line) => line.node !== 'logging-node')).toEqual([]);
      expect(world.logLines.every((line) => line.split('"node":').length === 2)).toBe(true); // once per line
    } finally {
      await world.close();
    }
  });
});
