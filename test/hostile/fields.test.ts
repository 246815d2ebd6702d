/**
 * Every field of every message type (the list comes from requestSchemas) gets the wrong JSON
 * type, goes missing, turns empty, 100 KiB long, or carries NUL, `../`, an absolute path or
 * SQL quotes. A value the schema refuses gets flag false and a message naming the field; a
 * value it accepts (a name with SQL quotes) is stored literally and harms nothing else; a
 * file_size that is no byte count breaks the framing and closes only that connection. After
 * each case the connection still works, a bystander is still served, and nothing changed
 * that should not have.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { bodySizeOf } from '../../src/protocol/frame.js';
import { requestSchemas, type Reply } from '../../src/protocol/messages.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { download, expectErrorReply, sha256, startArena, waitFor, type Arena, type Changes, type Snapshot } from './arena.js';
import { baseRequest, fieldCases, trailerOf, roleOf, withField, type BaseContext, type FieldCase } from './requests.js';


const LOGIN_TARGET = { name: 'login-target', password: wirePassword('target-pw') };
const SAMPLE: BaseContext = {
  session: 'sample',
  unique: 'sample',
  freeMovieId: 1,
  loginName: LOGIN_TARGET.name,
  loginPassword: LOGIN_TARGET.password,
  bodySha256: '0'.repeat(64),
  bodySize: 1000,
};

// register runs last: the names it stores (`/etc/passwd`, SQL quotes) must not exist yet when
// lock_user, unlock_user and login are attacked with the same values.
const cases = fieldCases((type) => baseRequest(type, SAMPLE)).sort(
  (a, b) => Number(a.type === 'register') - Number(b.type === 'register'),
);

/** What a request the schema accepts must lead to; anything else is a failure. */
interface Outcome {
  flag: boolean | 'either';
  code?: string;
  changes(changes: Changes): void;
}

const nothing = (changes: Changes) => expect(changes).toEqual({});

function outcomeOf(c: FieldCase, accepted: Record<string, unknown>, body: Buffer, arena: Arena): Outcome {
  if (c.field === 'session') return { flag: false, code: 'NOT_LOGGED_IN', changes: nothing };
  switch (c.type) {
    case 'register':
      return {
        flag: true,
        changes: (changes) => {
          expect(Object.keys(changes)).toEqual(['user']);
          expect(changes.user).toEqual({ added: [expect.objectContaining({ name: accepted.name, user_type: 'user' })] });
        },
      };
    case 'login':
      return {
        flag: false,
        code: 'LOGIN_FAILED',
        changes: (changes) => {
          if (c.field !== 'password') return nothing(changes);
          // A wrong password counts against the account it names, and only that.
          expect(Object.keys(changes)).toEqual(['user']);
          const [{ before, after }] = changes.user!.changed!;
          expect(changes.user).toEqual({ changed: [expect.anything()] });
          expect(after).toEqual({ ...before, failed_logins: Number(before.failed_logins) + 1 });
          expect(after.name).toBe(LOGIN_TARGET.name);
        },
      };
    case 'update_movie':
      return {
        flag: true,
        changes: (changes) => {
          expect(Object.keys(changes).sort()).toEqual(['files', 'movie']);
          expect(changes.movie).toEqual({
            added: [expect.objectContaining({ name: accepted.file_name, file_md5: accepted.file_md5, size: body.length, is_delete: 0 })],
          });
          // Stored under a server-made name inside the media dir, whatever the display name says.
          expect(changes.files).toEqual({ added: [changes.movie!.added![0].path] });
          expect(String(changes.movie!.added![0].path)).toMatch(/^[0-9a-f-]{36}(\.[a-z0-9]{1,10})?$/);
        },
      };
    case 'release_notice':
      return {
        flag: true,
        changes: (changes) => {
          expect(changes).toEqual({ notice: { added: [expect.objectContaining({ title: accepted.title, content: accepted.content })] } });
        },
      };
    case 'download_movie':
      return {
        flag: true,
        changes: (changes) => {
          expect(changes).toEqual({ download_record: { added: [expect.objectContaining({ movie_id: arena.free.id })] } });
        },
      };
    case 'lock_user':
    case 'unlock_user':
    case 'set_quota':
      return { flag: false, code: 'NOT_FOUND', changes: nothing };
    default:
      // Reads: a list, or "nothing yet".
      return { flag: 'either', changes: nothing };
  }
}

describe.each(databaseKinds)('every field of every message type (%s)', (kind) => {
  let arena: Arena;
  let conns: Record<'open' | 'loggedIn' | 'admin' | 'viewer', ClientConnection>;
  let bystander: ClientConnection;
  let caseNumber = 0;

  beforeAll(async () => {
    // Headers up to 256 KiB, so 100 KiB values reach the schema instead of the frame limit.
    arena = await startArena(kind, { maxHeaderBytes: 256 * 1024 });
    const viewer = await arena.world.loginAs('field-viewer', 'user');
    const open = await arena.world.connect();
    await open.call('register', { name: LOGIN_TARGET.name, password: LOGIN_TARGET.password, user_type: 'user' });
    conns = { open, loggedIn: viewer, admin: arena.admin, viewer };
    bystander = await arena.world.loginAs('bystander', 'user', 'bystander-pw');
  });
  afterAll(async () => arena?.close());

  /** (b) for one case: the bystander, logged in before the first attack, lists and downloads. */
  async function bystanderServed() {
    const list = await bystander.call('get_movie_list', { movie_type: 'all' });
    expect(list.movie_list).toContainEqual([arena.free.name, '免费', arena.free.id]);
    const { reply, bytes } = await download(bystander, arena.free.id, 'free', arena);
    expect(reply.flag).toBe(true);
    expect(sha256(bytes)).toBe(sha256(arena.free.bytes));
  }

  async function stillUsable(conn: ClientConnection) {
    expect(await conn.request({ type: 'server_info' })).toMatchObject({ flag: true });
    if (conn.session) {
      const list = await conn.request({ type: 'get_movie_list', session: conn.session, movie_type: 'all' });
      expect(list.flag).toBe(true);
    }
  }

  it.each(cases)('$label', async (c) => {
    const role = roleOf(c.type);
    const conn = conns[role];
    const body = randomBytes(1000);
    const context: BaseContext = {
      ...SAMPLE,
      session: conn.session ?? 'none',
      unique: `case-${++caseNumber}`,
      freeMovieId: arena.free.id,
      bodySha256: sha256(body),
    };
    const request = withField(baseRequest(c.type, context), c.field, c.value);
    const before = await arena.snapshot();

    let bodySize: number | undefined;
    try {
      bodySize = bodySizeOf(request);
    } catch {
      bodySize = undefined;
    }
    if (bodySize === undefined) {
      // Nobody can tell where the next frame starts: an error frame, then only this socket closes.
      const peer = await arena.peer();
      peer.send(request);
      expectErrorReply(await peer.next(), 'BAD_FRAME');
      expect(await peer.closedWithin(3000)).toBe(true);
      return finish(before, nothing);
    }

    const parsed = (requestSchemas[c.type] as unknown as { safeParse(v: unknown): { success: boolean; data?: Record<string, unknown> } }).safeParse(request);
    const sent = await send(c, conn, request, body.subarray(0, bodySize));
    if (!parsed.success) {
      expectErrorReply(sent.reply, 'BAD_REQUEST');
      expect(sent.reply.msg).toContain(`${c.type}: ${c.field}`);
      await stillUsable(conn);
      return finish(before, nothing);
    }

    const outcome = outcomeOf(c, parsed.data!, body, arena);
    if (outcome.flag === false) expectErrorReply(sent.reply, outcome.code);
    else if (outcome.flag === true) expect(sent.reply).toMatchObject({ flag: true });
    else if (!sent.reply.flag) expectErrorReply(sent.reply, 'NOT_FOUND');
    expect(sent.reply.code).not.toBe('INTERNAL');
    if (c.type === 'download_movie' && sent.reply.flag) expect(sha256(sent.body!)).toBe(sha256(arena.free.bytes));
    if (c.type === 'update_movie' && sent.reply.flag) {
      const [movie] = await arena.rows<{ path: string }>('SELECT path FROM movie WHERE id = ?', [Number(sent.reply.movie_id)]);
      expect(sha256(await readFile(join(arena.world.config.mediaDir, movie.path)))).toBe(sha256(body));
    }
    await stillUsable(conn);
    await finish(before, outcome.changes);
  });

  it('still lets the bystander, connected before the first attack, log in again', async () => {
    await bystander.call('login', { name: 'bystander', password: wirePassword('bystander-pw'), user_type: 'user' });
    await bystanderServed();
  });

  async function finish(before: Snapshot, check: Outcome['changes']) {
    check(await arena.changesSince(before));
    await bystanderServed();
  }

  /**
   * Sends the case's request on the connection of its role (logins from a fresh address
   * each, so failures never add up to a block, and that connection must stay usable too),
   * with the upload body when one is announced.
   */
  async function send(c: FieldCase, conn: ClientConnection, request: Record<string, unknown>, body: Buffer): Promise<{ reply: Reply; body?: Buffer }> {
    if (c.type === 'login') {
      const peer = await arena.peer();
      const reply = await peer.request(request);
      expect(await peer.request({ type: 'server_info' })).toMatchObject({ flag: true });
      return { reply };
    }
    if (body.length > 0) {
      const header = request as Record<string, unknown> & { file_size: number };
      return { reply: await conn.sendWithBody(header, Readable.from([body]), trailerOf(header, sha256(body))) };
    }
    const chunks: Buffer[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        callback();
      },
    });
    const records = async () => (await arena.rows('SELECT id FROM download_record')).length;
    const recordsBefore = await records();
    const reply = await conn.requestWithBody(request, async () => ({ sink }));
    // A download's record is written just after its last byte went out.
    if (reply.flag && 'file_size' in reply) await waitFor(async () => (await records()) > recordsBefore, 5000, 'the download record');
    return { reply, body: Buffer.concat(chunks) };
  }
});
