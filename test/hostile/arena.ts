/**
 * The stage every hostile case plays on: a world with an admin, two stored videos (free and
 * paid) and a viewer account for the bystander, plus the three checks each case makes:
 * (a) the attacker got an error frame or a closed socket (the case asserts that itself),
 * (b) a bystander connected before the attack still logs in, lists and downloads (bytes
 *     verified), and (c) no row of user/movie/notice/purchase/download_record and no file
 *     under the media dir changed that should not have.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { expect } from 'vitest';
import type { ClientConnection, ConnectOptions } from '../../src/client/connection.js';
import { encodeFrame, FrameDecoder, ProtocolError } from '../../src/protocol/index.js';
import type { Reply } from '../../src/protocol/messages.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import type { ServerConfig } from '../../src/server/config.js';
import type { DatabaseKind } from '../helpers/databases.js';
import { startWorld, type World } from '../helpers/world.js';

export const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

export interface StoredVideo {
  id: number;
  name: string;
  bytes: Buffer;
}

/** The tables the harm check covers; rows are keyed by id. */
export const WATCHED_TABLES = ['user', 'movie', 'notice', 'purchase', 'download_record'] as const;
type Table = (typeof WATCHED_TABLES)[number];
type Row = Record<string, unknown>;

export interface Snapshot {
  /** Each table's rows as JSON text, by id. */
  rows: Record<Table, Map<string, string>>;
  /** Relative path (`.incoming/x.part` for uploads in progress) -> size and mtime. */
  files: Map<string, string>;
}

export interface TableChanges {
  added?: Row[];
  removed?: Row[];
  changed?: { before: Row; after: Row }[];
}

/** Only what changed: `{}` means nothing did. */
export type Changes = Partial<Record<Table, TableChanges>> & {
  files?: { added?: string[]; removed?: string[]; changed?: string[] };
};

export interface Watch {
  /** What changed since the watch began. */
  changes(): Promise<Changes>;
  /** (b): the bystander, connected since the watch began, logs in, lists and downloads. */
  served(): Promise<void>;
  /** (c) with no change allowed, then (b). */
  unharmed(): Promise<void>;
}

export interface Arena {
  kind: DatabaseKind;
  world: World;
  port: number;
  admin: ClientConnection;
  free: StoredVideo;
  paid: StoredVideo;
  snapshot(): Promise<Snapshot>;
  changesSince(before: Snapshot): Promise<Changes>;
  /** Snapshots now and connects a bystander that keeps talking to the server until served(). */
  watch(): Promise<Watch>;
  /** A raw socket from a fresh loopback address (so failed logins never add up on one address). */
  peer(): Promise<Peer>;
  /** Whether the server still holds a connection for this client end (take it before the socket closes). */
  serves(client: Endpoint): boolean;
  rows<T = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

export const BYSTANDER = { name: 'bystander', password: 'bystander-pw' };

export async function startArena(kind: DatabaseKind, overrides: Partial<ServerConfig> = {}, clientDefaults: Partial<ConnectOptions> = {}): Promise<Arena> {
  // The login guard's and the password queue's limits are off unless a case is about them.
  const limitsOff = { loginMaxFailures: 1_000_000, addressMaxAccounts: 1_000_000, accountMaxFailures: 1_000_000, hashQueueMax: 100_000, hashQueuePerAddress: 100_000 };
  const world = await startWorld(kind, { ...limitsOff, ...overrides }, clientDefaults);
  const admin = await world.loginAs('curator', 'admin');
  const free = await storeVideo(admin, 'free.mp4', true);
  const paid = await storeVideo(admin, 'paid.mkv', false);
  const setup = await world.connect();
  await setup.request({ type: 'register', name: BYSTANDER.name, password: wirePassword(BYSTANDER.password), user_type: 'user' });
  setup.close();
  const mediaDir = world.config.mediaDir;
  const peers: Peer[] = [];

  const rows = <T = Row>(sql: string, params: unknown[] = []) => world.server.app.db.query<T>(sql, params);

  const snapshot = async (): Promise<Snapshot> => {
    const tables = {} as Snapshot['rows'];
    const read = WATCHED_TABLES.map(async (table) => {
      const all = await rows(`SELECT * FROM ${table} ORDER BY id`);
      tables[table] = new Map(all.map((row) => [String(row.id), toJson(row)]));
    });
    const [files] = await Promise.all([listFiles(mediaDir), ...read]);
    return { rows: tables, files };
  };

  const changesSince = async (before: Snapshot): Promise<Changes> => diff(before, await snapshot());

  const watch = async (): Promise<Watch> => {
    const before = await snapshot();
    const bystander = await Bystander.connect(world, free, { rows });
    return {
      changes: () => changesSince(before),
      served: () => bystander.served(),
      async unharmed() {
        expect(await changesSince(before)).toEqual({});
        await bystander.served();
      },
    };
  };

  return {
    kind,
    world,
    port: world.server.port,
    admin,
    free,
    paid,
    snapshot,
    changesSince,
    watch,
    rows,
    serves(client) {
      if (client.port === undefined) throw new Error('serves(): the client end is unknown');
      for (const conn of world.server.connections) {
        if (conn.socket.remotePort === client.port && conn.socket.remoteAddress === client.address) return true;
      }
      return false;
    },
    async peer() {
      const peer = await Peer.open(world.server.port, nextLoopback());
      peers.push(peer);
      return peer;
    },
    async close() {
      for (const peer of peers) peer.destroy();
      await world.close();
    },
  };
}

/** Uploads random bytes as a video (the plain protocol: header, then the body). */
export async function storeVideo(admin: ClientConnection, name: string, isFree: boolean, size = 48 * 1024): Promise<StoredVideo> {
  const bytes = randomBytes(size);
  const reply = await admin.sendWithBody(
    { type: 'update_movie', session: admin.session, file_name: name, file_size: bytes.length, file_md5: sha256(bytes).slice(0, 32), is_free: isFree ? 1 : 0, sha256: sha256(bytes) },
    Readable.from([bytes]),
  );
  expect(reply).toMatchObject({ flag: true });
  return { id: Number(reply.movie_id), name, bytes };
}

/**
 * Downloads a video over `conn` and returns its bytes. With `arena`, it also waits for the
 * download record, which the server writes just after the last byte went out.
 */
export async function download(
  conn: ClientConnection,
  movieId: number,
  movieType: 'free' | 'charge',
  arena?: Pick<Arena, 'rows'>,
): Promise<{ reply: Reply; bytes: Buffer }> {
  const records = async () => Number((await arena!.rows<{ n: number }>('SELECT COUNT(*) AS n FROM download_record'))[0].n);
  const recordsBefore = arena ? await records() : 0;
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const reply = await conn.requestWithBody(
    { type: 'download_movie', session: conn.session, movie_id: movieId, movie_type: movieType },
    async () => ({ sink }),
  );
  if (arena && reply.flag) await waitFor(async () => (await records()) > recordsBefore, 5000, 'the download record');
  return { reply, bytes: Buffer.concat(chunks) };
}

/**
 * The normal client of check (b). It connects when the watch begins and sends server_info
 * every 200 ms meanwhile (it is served *during* the attack, and no idle timeout takes it).
 */
class Bystander {
  private failure?: unknown;
  private readonly timer: NodeJS.Timeout;

  private constructor(
    private readonly conn: ClientConnection,
    private readonly video: StoredVideo,
    private readonly db: Pick<Arena, 'rows'>,
  ) {
    this.timer = setInterval(() => {
      conn.request({ type: 'server_info' }).then(
        (reply) => {
          if (reply.flag !== true) this.failure ??= new Error(`server_info failed: ${JSON.stringify(reply)}`);
        },
        (error: unknown) => (this.failure ??= error),
      );
    }, 200);
    this.timer.unref();
  }

  static async connect(world: World, video: StoredVideo, db: Pick<Arena, 'rows'>): Promise<Bystander> {
    return new Bystander(await world.connect(), video, db);
  }

  async served(): Promise<void> {
    clearInterval(this.timer);
    try {
      if (this.failure) throw this.failure;
      await this.conn.call('login', { name: BYSTANDER.name, password: wirePassword(BYSTANDER.password), user_type: 'user' });
      const list = await this.conn.call('get_movie_list', { movie_type: 'all' });
      expect(list.movie_list).toContainEqual([this.video.name, '免费', this.video.id]);
      const { reply, bytes } = await download(this.conn, this.video.id, 'free', this.db);
      expect(reply).toMatchObject({ flag: true });
      expect(sha256(bytes)).toBe(sha256(this.video.bytes));
    } finally {
      this.conn.close();
    }
  }
}

function toJson(row: Row): string {
  return JSON.stringify(row, (_key, value: unknown) => (typeof value === 'bigint' ? Number(value) : value));
}

async function listFiles(mediaDir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const dir of ['', '.incoming']) {
    const names = await readdir(join(mediaDir, dir)).catch(() => [] as string[]);
    for (const name of names) {
      if (dir === '' && name === '.incoming') continue;
      const info = await stat(join(mediaDir, dir, name)).catch(() => undefined);
      if (info) files.set(join(dir, name), `${info.size}@${info.mtimeMs}`);
    }
  }
  return files;
}

function diff(before: Snapshot, after: Snapshot): Changes {
  const changes: Changes = {};
  for (const table of WATCHED_TABLES) {
    const was = before.rows[table];
    const now = after.rows[table];
    const entry: TableChanges = {};
    const row = (json: string | undefined): Row => JSON.parse(json!);
    const added = [...now.keys()].filter((id) => !was.has(id)).map((id) => row(now.get(id)));
    const removed = [...was.keys()].filter((id) => !now.has(id)).map((id) => row(was.get(id)));
    const changed = [...now.keys()]
      .filter((id) => was.has(id) && was.get(id) !== now.get(id))
      .map((id) => ({ before: row(was.get(id)), after: row(now.get(id)) }));
    if (added.length) entry.added = added;
    if (removed.length) entry.removed = removed;
    if (changed.length) entry.changed = changed;
    if (Object.keys(entry).length) changes[table] = entry;
  }
  const files: NonNullable<Changes['files']> = {};
  const added = [...after.files.keys()].filter((f) => !before.files.has(f));
  const removed = [...before.files.keys()].filter((f) => !after.files.has(f));
  const changed = [...after.files.keys()].filter((f) => before.files.has(f) && before.files.get(f) !== after.files.get(f));
  if (added.length) files.added = added;
  if (removed.length) files.removed = removed;
  if (changed.length) files.changed = changed;
  if (Object.keys(files).length) changes.files = files;
  return changes;
}

let loopbackCounter = 0;
/** 127.0.0.0/8 is all loopback on Linux: each peer gets an address of its own. */
export function nextLoopback(): string {
  loopbackCounter++;
  const n = (process.pid * 7919 + loopbackCounter) % (250 * 250);
  return `127.1.${Math.floor(n / 250) + 1}.${(n % 250) + 1}`;
}

export type PeerEvent = Reply | 'closed' | 'silent';

/** The client's end of a connection. */
export interface Endpoint {
  address?: string;
  port?: number;
}

export function endpointOf(socket: Socket): Endpoint {
  return { address: socket.localAddress, port: socket.localPort };
}

/**
 * A raw socket for bytes no well-behaved client would send. Replies are decoded as they
 * arrive (a reply that announces file_size has its body collected); a reply stream that
 * breaks the framing fails the test.
 */
export class Peer {
  readonly replies: Reply[] = [];
  readonly bodies: Buffer[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder({ maxHeaderBytes: 16 * 1024 * 1024 });
  private bodyChunks: Buffer[] = [];
  private taken = 0;
  private wake?: () => void;
  framingError?: unknown;
  /** This client's address and port, as the server sees them. */
  readonly local: Endpoint;

  private constructor(readonly socket: Socket) {
    this.local = endpointOf(socket);
    socket.on('data', (chunk: Buffer) => {
      this.decoder.append(chunk);
      try {
        for (let event = this.decoder.next(); event; event = this.decoder.next()) {
          if (event.kind === 'header') {
            this.replies.push(event.header as Reply);
          } else {
            this.bodyChunks.push(Buffer.from(event.chunk));
            if (event.remaining === 0) {
              this.bodies.push(Buffer.concat(this.bodyChunks));
              this.bodyChunks = [];
            }
          }
        }
      } catch (error) {
        this.framingError ??= error instanceof ProtocolError ? error : new Error(String(error));
      }
      this.notify();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.notify();
    });
  }

  static open(port: number, localAddress?: string): Promise<Peer> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, localAddress }, () => {
        socket.off('error', onError);
        resolve(new Peer(socket));
      });
      // Only Linux routes all of 127/8 to loopback; elsewhere every peer is 127.0.0.1.
      const onError = (error: NodeJS.ErrnoException) =>
        error.code === 'EADDRNOTAVAIL' && localAddress ? Peer.open(port).then(resolve, reject) : reject(error);
      socket.once('error', onError);
    });
  }

  write(bytes: Buffer | string): void {
    if (!this.socket.destroyed) this.socket.write(bytes);
  }

  send(header: object, body?: Buffer): void {
    this.write(body ? Buffer.concat([encodeFrame(header), body]) : encodeFrame(header));
  }

  /** The next reply not taken yet, 'closed' if the server closed first, 'silent' after `waitMs`. */
  async next(waitMs = 5000): Promise<PeerEvent> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.framingError) throw this.framingError;
      if (this.replies.length > this.taken) return this.replies[this.taken++];
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'silent';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Sends one request and returns its reply (failing the test on a close or silence). */
  async request(header: object, body?: Buffer, waitMs = 5000): Promise<Reply> {
    this.send(header, body);
    const reply = await this.next(waitMs);
    if (typeof reply === 'string') throw new Error(`no reply to ${JSON.stringify(header).slice(0, 100)}: ${reply}`);
    return reply;
  }

  /** Resolves true once the server has closed the socket, false after `waitMs`. */
  async closedWithin(waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, deadline - Date.now());
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

/** An error reply: flag false, a stable code, a short printable message. */
export function expectErrorReply(reply: unknown, code?: string | RegExp): asserts reply is Reply {
  expect(reply).toMatchObject({ flag: false });
  const r = reply as Reply;
  if (code !== undefined) expect(r.code).toMatch(typeof code === 'string' ? new RegExp(`^${code}$`) : code);
  expect(typeof r.msg).toBe('string');
  expect(String(r.msg).length).toBeGreaterThan(0);
  expect(String(r.msg).length).toBeLessThanOrEqual(400);
  expect(String(r.msg)).not.toMatch(/[\u0000-\u001f\u007f]/);
}

/** Polls `condition` until it holds. */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
