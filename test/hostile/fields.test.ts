/**
 * Every field of every message type gets the wrong JSON type, goes missing, turns empty or
 * blank, sits at its length limit and one past it, is 100 KiB long, or carries NUL, `../`,
 * an absolute path or SQL quotes; each text field gets every control character. Whether a
 * value must be accepted follows from the field rules written below (the protocol's limits,
 * characters and types), not from the server's own schemas: weakening a rule in
 * src/protocol/messages.ts fails a case here. A refused value gets flag false and a message
 * naming the field; an accepted one (a name with SQL quotes) is stored literally and harms
 * nothing else; a file_size that is no byte count breaks the framing and closes only that
 * connection. After each case the connection still works, a bystander is still served, and
 * nothing changed that should not have.
 *
 * `session` is attacked on one type per guard (loggedIn, admin with a body, viewer): its rule
 * is one, and who may call what with which token is auth.test.ts's subject.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientConnection } from '../../src/client/connection.js';
import { bodySizeOf } from '../../src/protocol/frame.js';
import type { MessageType, Reply } from '../../src/protocol/messages.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { download, expectErrorReply, sha256, startArena, waitFor, type Arena, type Changes, type Snapshot } from './arena.js';
import { baseRequest, fieldsOf, messageTypes, roleOf, trailerOf, type BaseContext } from './requests.js';

// ---- the field rules, as the protocol states them --------------------------------------

type Rule =
  /** Printable text: trimmed, then 1..max characters, none of them a control character. */
  | { kind: 'text'; max: number }
  | { kind: 'string'; min: number; max: number }
  | { kind: 'oneOf'; values: readonly string[] }
  /** A row id: an integer from 1 to 2^31 - 1. */
  | { kind: 'id' }
  /** A byte count or position: an integer from 0 to 2^53 - 1 (null too, when nullable). */
  | { kind: 'bytes'; nullable?: boolean; min?: number }
  /** A count of things (downloads, sessions): an integer from 0 to 2^31 - 1 (null too, when nullable). */
  | { kind: 'count'; nullable?: boolean }
  /** An upload's size: an integer from 0; one that is no byte count breaks the framing before any rule is read. */
  | { kind: 'fileSize' }
  | { kind: 'sha256' }
  /** The original's 0/1 flags; JSON booleans too. */
  | { kind: 'flag01'; nullable?: boolean }
  /** Only the literal `true` (a switch that is either on or absent). */
  | { kind: 'true' }
  | { kind: 'boolean' }
  /** An integer from min to max (a page size). */
  | { kind: 'integer'; min: number; max: number }
  /** An event id to resume after: an integer from 0 to 2^31 - 1. */
  | { kind: 'position' }
  /** A non-empty array of at most two of `notices`, `videos`. */
  | { kind: 'topics' };
type FieldRule = Rule & { optional?: boolean };

const CONTROL_CHARACTERS = [...Array.from({ length: 0x20 }, (_, code) => String.fromCharCode(code)), '\u007f'];
const MAX_ID = 2 ** 31 - 1;

const text = (max: number): FieldRule => ({ kind: 'text', max });
const string = (min: number, max: number, optional = false): FieldRule => ({ kind: 'string', min, max, optional });
const session = string(1, 128);
const userType: FieldRule = { kind: 'oneOf', values: ['admin', 'user'] };
const optionalSha256: FieldRule = { kind: 'sha256', optional: true };
const optionalBytes: FieldRule = { kind: 'bytes', optional: true };
/** The size of a file meant for upload: an empty file is not a video. */
const optionalVideoSize: FieldRule = { kind: 'bytes', optional: true, min: 1 };
const trailerSwitch: FieldRule = { kind: 'true', optional: true };

const RULES: Record<MessageType, Record<string, FieldRule>> = {
  register: { name: text(64), password: string(1, 256), user_type: userType, admin_code: string(0, 256, true) },
  login: { name: string(0, 256), password: string(0, 256), user_type: userType },
  logout: { session },
  server_info: {},
  check_movie: { session, file_md5: string(1, 64), sha256: optionalSha256, size: optionalVideoSize, sha256_trailer: trailerSwitch },
  update_movie: {
    session,
    file_name: text(255),
    file_size: { kind: 'fileSize' },
    file_md5: string(1, 64),
    is_free: { kind: 'flag01' },
    sha256: optionalSha256,
    offset: optionalBytes,
    sha256_trailer: trailerSwitch,
  },
  get_movie_list: {
    session,
    movie_type: { kind: 'oneOf', values: ['all', 'free', 'charge'] },
    details: { kind: 'boolean', optional: true },
    facts: { kind: 'boolean', optional: true },
    search: { ...text(255), optional: true },
    limit: { kind: 'integer', min: 1, max: 1000, optional: true },
    after: { kind: 'id', optional: true },
    order: { kind: 'oneOf', values: ['oldest', 'newest', 'name'], optional: true },
  },
  delete_movie: { session, movie_id: { kind: 'id' } },
  release_notice: { session, title: text(255), content: text(10_000) },
  buy_vip: { session },
  download_movie: { session, movie_id: { kind: 'id' }, movie_type: { kind: 'oneOf', values: ['free', 'charge'] }, offset: optionalBytes },
  download_movie_record: { session },
  check_notice: { session },
  list_users: { session },
  lock_user: { session, name: string(1, 64) },
  unlock_user: { session, name: string(1, 64) },
  set_quota: { session, name: string(1, 64), quota_bytes: { kind: 'bytes', nullable: true } },
  list_blocks: { session },
  unblock_address: { session, address: string(1, 64), name: string(1, 64, true) },
  subscribe: { session, topics: { kind: 'topics', optional: true }, since: { kind: 'position', optional: true } },
  unsubscribe: { session },
  set_policy: {
    session,
    name: string(1, 64),
    downloads: { kind: 'flag01', nullable: true, optional: true },
    speed_bps: { kind: 'bytes', nullable: true, optional: true },
    daily_bytes: { kind: 'bytes', nullable: true, optional: true },
    daily_count: { kind: 'count', nullable: true, optional: true },
    max_sessions: { kind: 'count', nullable: true, optional: true },
  },
  user_status: { session },
};

/** Whether `value` (undefined = the field left out) satisfies the rule. */
function satisfies(rule: FieldRule, value: unknown): boolean {
  if (value === undefined) return rule.optional === true;
  const integerIn = (min: number, max: number) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
  switch (rule.kind) {
    case 'text': {
      if (typeof value !== 'string') return false;
      const trimmed = value.trim();
      return trimmed.length >= 1 && trimmed.length <= rule.max && !CONTROL_CHARACTERS.some((c) => trimmed.includes(c));
    }
    case 'string':
      return typeof value === 'string' && value.length >= rule.min && value.length <= rule.max;
    case 'oneOf':
      return typeof value === 'string' && rule.values.includes(value);
    case 'id':
      return integerIn(1, MAX_ID);
    case 'bytes':
      return (rule.nullable === true && value === null) || integerIn(rule.min ?? 0, Number.MAX_SAFE_INTEGER);
    case 'fileSize':
      return integerIn(0, Number.MAX_SAFE_INTEGER);
    case 'sha256':
      return typeof value === 'string' && /^[0-9a-fA-F]{64}$/.test(value);
    case 'count':
      return (rule.nullable === true && value === null) || integerIn(0, MAX_ID);
    case 'flag01':
      return (rule.nullable === true && value === null) || value === 0 || value === 1 || typeof value === 'boolean';
    case 'true':
      return value === true;
    case 'boolean':
      return typeof value === 'boolean';
    case 'integer':
      return integerIn(rule.min, rule.max);
    case 'position':
      return integerIn(0, MAX_ID);
    case 'topics':
      return Array.isArray(value) && value.length >= 1 && value.length <= 2 && value.every((t) => t === 'notices' || t === 'videos');
  }
}

/** The value the server works with: text is trimmed. */
const asStored = (rule: FieldRule, value: unknown) => (rule.kind === 'text' && typeof value === 'string' ? value.trim() : value);

// ---- the hostile values ------------------------------------------------------------------

const HUNDRED_KIB = 'x'.repeat(100 * 1024);
const maxLengthOf = (rule: FieldRule) => (rule.kind === 'text' || rule.kind === 'string' ? rule.max : undefined);
const isFreeText = (rule: FieldRule) => rule.kind === 'text' || rule.kind === 'string';
const isNumeric = (rule: FieldRule) => rule.kind === 'id' || rule.kind === 'bytes' || rule.kind === 'fileSize' || rule.kind === 'integer' || rule.kind === 'position' || rule.kind === 'count';

interface Mutation {
  name: string;
  appliesTo?: (rule: FieldRule) => boolean;
  /** The value to put in the field, or `undefined` = leave the field out. */
  value: (base: unknown, rule: FieldRule) => unknown;
}

/**
 * Free text gets every string payload; a field of numbers, flags or a fixed set gets the wrong
 * type, null, missing and one string outside its set (SQL quotes): more strings would test
 * the same clause of its rule again.
 */
const MUTATIONS: Mutation[] = [
  { name: 'wrong JSON type', value: (base) => (typeof base === 'string' ? 12345 : typeof base === 'number' ? String(base) : 'true') },
  { name: 'null', value: () => null },
  { name: 'missing', value: () => undefined },
  { name: 'empty', appliesTo: isFreeText, value: () => '' },
  { name: 'blank', appliesTo: (rule) => maxLengthOf(rule) !== undefined, value: () => '   ' },
  { name: 'at the length limit', appliesTo: (rule) => maxLengthOf(rule) !== undefined, value: (_base, rule) => 'L'.repeat(maxLengthOf(rule)!) },
  { name: 'one past the length limit', appliesTo: (rule) => maxLengthOf(rule) !== undefined, value: (_base, rule) => 'L'.repeat(maxLengthOf(rule)! + 1) },
  { name: '100 KiB long', appliesTo: isFreeText, value: () => HUNDRED_KIB },
  { name: 'containing NUL', appliesTo: isFreeText, value: () => 'a\u0000b' },
  { name: '../', appliesTo: isFreeText, value: () => '../../../etc/passwd' },
  { name: 'an absolute path', appliesTo: isFreeText, value: () => '/etc/passwd' },
  { name: 'SQL quotes', value: () => `o'brien"; DROP TABLE user; -- ' OR '1'='1` },
  { name: 'negative', appliesTo: isNumeric, value: () => -1 },
  // (A file_size of 0 would announce no body; the upload cases are about fields, not bodies.)
  { name: 'zero', appliesTo: (rule) => rule.kind === 'id' || rule.kind === 'bytes' || rule.kind === 'integer' || rule.kind === 'position' || rule.kind === 'count', value: () => 0 },
  { name: 'fractional', appliesTo: isNumeric, value: () => 1.5 },
  { name: 'past 2^31 - 1', appliesTo: (rule) => rule.kind === 'id' || rule.kind === 'position' || rule.kind === 'count', value: () => MAX_ID + 1 },
  { name: 'at the maximum', appliesTo: (rule) => rule.kind === 'integer', value: (_base, rule) => (rule.kind === 'integer' ? rule.max : 0) },
  { name: 'one past the maximum', appliesTo: (rule) => rule.kind === 'integer', value: (_base, rule) => (rule.kind === 'integer' ? rule.max + 1 : 0) },
  { name: 'an unknown topic', appliesTo: (rule) => rule.kind === 'topics', value: () => ['notices', 'gossip'] },
  { name: 'an empty list', appliesTo: (rule) => rule.kind === 'topics', value: () => [] },
  { name: 'past 2^53', appliesTo: isNumeric, value: () => 2 ** 53 },
];

/** One type per guard carries the session attacks (see the file's comment). */
const SESSION_ATTACKED_ON: readonly string[] = ['get_movie_list', 'update_movie', 'download_movie'];

interface FieldCase {
  /** `type.field: mutation`, the test's name. */
  label: string;
  type: MessageType;
  field: string;
  rule: FieldRule;
  value: unknown;
}

function fieldCases(sample: (type: string) => Record<string, unknown>): FieldCase[] {
  const cases: FieldCase[] = [];
  for (const type of messageTypes) {
    const base = sample(type);
    for (const [field, rule] of Object.entries(RULES[type])) {
      if (field === 'session' && !SESSION_ATTACKED_ON.includes(type)) continue;
      for (const mutation of MUTATIONS) {
        if (mutation.appliesTo && !mutation.appliesTo(rule)) continue;
        cases.push({ label: `${type}.${field}: ${mutation.name}`, type, field, rule, value: mutation.value(base[field], rule) });
      }
    }
  }
  return cases;
}

/** The request with one field replaced (or removed, when `value` is undefined). */
function withField(request: Record<string, unknown>, field: string, value: unknown): Record<string, unknown> {
  const copy = { ...request };
  if (value === undefined) delete copy[field];
  else copy[field] = value;
  return copy;
}

/** The request's fields as the server works with them, or undefined when a rule refuses one. */
function acceptedFields(type: MessageType, request: Record<string, unknown>): Record<string, unknown> | undefined {
  const fields: Record<string, unknown> = {};
  for (const [field, rule] of Object.entries(RULES[type])) {
    if (!satisfies(rule, request[field])) return undefined;
    fields[field] = asStored(rule, request[field]);
  }
  return fields;
}

const TEXT_FIELDS = messageTypes.flatMap((type) =>
  Object.entries(RULES[type])
    .filter(([, rule]) => rule.kind === 'text')
    .map(([field]) => ({ label: `${type}.${field}`, type, field })),
);


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

describe('the field rules', () => {
  it('name exactly the fields each message type declares, and accept every base request', () => {
    for (const type of messageTypes) {
      expect(Object.keys(RULES[type]).sort(), type).toEqual([...fieldsOf(type)].sort());
      expect(acceptedFields(type, baseRequest(type, SAMPLE)), type).toBeDefined();
    }
  });
});

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
    case 'set_policy':
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

    const accepted = acceptedFields(c.type, request);
    const sent = await send(c.type, conn, request, body.subarray(0, bodySize));
    if (accepted === undefined) {
      expectErrorReply(sent.reply, 'BAD_REQUEST');
      expect(sent.reply.msg).toContain(`${c.type}: ${c.field}`);
      await stillUsable(conn);
      return finish(before, nothing);
    }

    const outcome = outcomeOf(c, accepted, body, arena);
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

  it.each(TEXT_FIELDS)('$label: each control character inside the text is refused', async ({ type, field }) => {
    const conn = conns[roleOf(type)];
    const body = randomBytes(1000);
    const before = await arena.snapshot();
    for (const character of CONTROL_CHARACTERS) {
      const context: BaseContext = { ...SAMPLE, session: conn.session ?? 'none', unique: `control-${++caseNumber}`, freeMovieId: arena.free.id, bodySha256: sha256(body) };
      const request = withField(baseRequest(type, context), field, `a${character}b`);
      const { reply } = await send(type, conn, request, body.subarray(0, bodySizeOf(request)));
      expectErrorReply(reply, 'BAD_REQUEST');
      expect(reply.msg).toContain(`${type}: ${field}`);
    }
    await stillUsable(conn);
    await finish(before, nothing);
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
  async function send(type: MessageType, conn: ClientConnection, request: Record<string, unknown>, body: Buffer): Promise<{ reply: Reply; body?: Buffer }> {
    if (type === 'login') {
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
