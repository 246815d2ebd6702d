/**
 * One helper builds the world an end-to-end test runs in: a real server on port 0 with a
 * temporary media dir and a fresh database (SQLite file or a new MySQL database), plus
 * clients that talk to it over real sockets.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClientConnection, type ConnectOptions } from '../../src/client/connection.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { configWith, type ServerConfig } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';
import { startServer, type RunningServer } from '../../src/server/server.js';
import { freshDatabaseUrl } from './databases.js';

export const ADMIN_CODE = 'let-me-in';

/** The normal class without limits (docs/policies.md has the real defaults). */
export const UNLIMITED_NORMAL_VIEWERS: Partial<ServerConfig> = {
  normalSpeedBps: 0,
  normalDailyBytes: 0,
  normalDailyCount: 0,
  normalMaxSessions: 0,
};

export interface World {
  dir: string;
  server: RunningServer;
  config: ServerConfig;
  connect(options?: Partial<ConnectOptions>): Promise<ClientConnection>;
  /** Registers (if needed) and logs in; returns the logged-in connection. */
  loginAs(name: string, role: 'admin' | 'user', password?: string): Promise<ClientConnection>;
  /** The server's log lines (parsed), newest last. */
  logs: Record<string, unknown>[];
  /** The same lines as written (JSON text), to check what parsing would hide (a repeated key). */
  logLines: string[];
  /** Writes `size` random bytes to a file under the world's dir. */
  makeFile(name: string, size: number): Promise<string>;
  close(): Promise<void>;
}

/** `clientDefaults`: how every client of this world connects (e.g. `{ tls: { ca } }` for a TLS server). */
export async function startWorld(kind: 'sqlite' | 'mysql', overrides: Partial<ServerConfig> = {}, clientDefaults: Partial<ConnectOptions> = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'cinebox-test-'));
  const database = await freshDatabaseUrl(kind, dir);
  const config = configWith({
    host: '127.0.0.1',
    port: 0,
    db: database.url,
    mediaDir: join(dir, 'media'),
    adminCode: ADMIN_CODE,
    freeWaitSeconds: 0,
    logLevel: 'silent',
    // Real scrypt at a lower cost: suites log in hundreds of times (story.test checks the default).
    scryptN: 1024,
    // Normal viewers unlimited, as before viewer policies: suites that test a policy set it.
    ...UNLIMITED_NORMAL_VIEWERS,
    ...overrides,
  });
  const logs: Record<string, unknown>[] = [];
  const logLines: string[] = [];
  // The server's own log setup (ISO times, rounding, no repeated keys), into memory.
  const log = createLogger('info', {
    destination: {
      write: (line: string) => {
        logLines.push(line);
        logs.push(JSON.parse(line));
      },
    },
  });
  const server = await startServer(config, log);
  const opened: ClientConnection[] = [];

  const connect = async (options: Partial<ConnectOptions> = {}) => {
    const conn = await ClientConnection.connect({ host: '127.0.0.1', port: server.port, ...clientDefaults, ...options });
    opened.push(conn);
    return conn;
  };

  return {
    dir,
    server,
    config,
    logs,
    logLines,
    connect,
    async loginAs(name, role, password = 'secret-' + name) {
      const conn = await connect();
      await conn.request({
        type: 'register',
        name,
        password: wirePassword(password),
        user_type: role,
        ...(role === 'admin' ? { admin_code: ADMIN_CODE } : {}),
      });
      const reply = await conn.call('login', { name, password: wirePassword(password), user_type: role });
      conn.session = String(reply.session);
      return conn;
    },
    async makeFile(name, size) {
      const path = join(dir, name);
      await writeFile(path, randomBytes(size));
      return path;
    },
    async close() {
      for (const conn of opened) conn.close();
      await server.close();
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
