/**
 * Fuzzing the frame decoder and the dispatcher of a live server with fast-check: random
 * bytes, and random valid-looking headers (a type from the protocol's list, field values
 * that are plausible or hostile, bodies that match file_size or lie about it), sent by an
 * anonymous client and by a logged-in viewer. For every run the server's replies are
 * predicted from the bytes alone: every complete request gets exactly one well-formed frame
 * with a boolean flag (never INTERNAL), and a broken framing gets one error frame and a
 * close. Bytes that end inside a frame are finished afterwards, then a last server_info and a
 * close from our side mark the end, so a reply sent while the server waited, a late or extra
 * one, or a close nothing called for is seen even when no reply was predicted. Afterwards the
 * bystander is served and nothing changed that a viewer may not change.
 *
 * `npm test` runs a few hundred cases with a fixed seed; `npm run fuzz` runs many more
 * (CINEBOX_FUZZ_RUNS per property, CINEBOX_FUZZ_SEED to replay a failure).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';
import { wirePassword } from '../../src/protocol/wire-password.js';
import { databaseKinds } from '../helpers/databases.js';
import { startArena, waitFor, type Arena, type Changes, type Peer, type Watch } from './arena.js';
import { fieldsOf, messageTypes } from './requests.js';


const RUNS = Number(process.env.CINEBOX_FUZZ_RUNS || 100);
const SEED = Number(process.env.CINEBOX_FUZZ_SEED || 5_2026);
const TIMEOUT_MS = Math.max(30_000, RUNS * 150);
const SESSION = '\u0000session\u0000'; // replaced by the run's real token before sending
const FUZZ_VIEWER = { name: 'fuzz-viewer', password: wirePassword('fuzz-pw') };

// ---- what a client might send --------------------------------------------------------

const hostileText = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('', '../../etc/passwd', '/etc/passwd', "' OR '1'='1", 'a\u0000b', '\u001b[2J', '__proto__', 'x'.repeat(300)),
);
const hostileNumber = fc.oneof(
  fc.integer(),
  fc.constantFrom(0, 1, -1, 2 ** 31 - 1, 2 ** 31, 2 ** 53, Number.MAX_SAFE_INTEGER, 1.5, -0, 1e300),
  fc.double(),
);
const anyValue = fc.oneof(hostileText, hostileNumber, fc.boolean(), fc.constant(null), fc.jsonValue({ maxDepth: 3 }));

/** Values a field of that name is likely to accept, so requests get past validation often. */
function plausible(field: string): fc.Arbitrary<unknown> {
  switch (field) {
    case 'session':
      return fc.oneof({ weight: 4, arbitrary: fc.constant(SESSION) }, { weight: 1, arbitrary: hostileText });
    case 'name':
      return fc.constantFrom('bystander', 'curator', FUZZ_VIEWER.name, 'newcomer', 'x');
    case 'password':
    case 'admin_code':
      return fc.constantFrom(FUZZ_VIEWER.password, 'guess', 'let-me-out');
    case 'user_type':
      return fc.constantFrom('admin', 'user');
    case 'movie_type':
      return fc.constantFrom('all', 'free', 'charge');
    case 'movie_id':
      return fc.integer({ min: 1, max: 4 });
    case 'is_free':
      return fc.constantFrom(0, 1, true, false);
    case 'details':
      return fc.boolean();
    case 'sha256':
      return fc.stringMatching(/^[0-9a-f]{64}$/);
    case 'offset':
    case 'size':
    case 'quota_bytes':
      return fc.nat({ max: 100_000 });
    default:
      return hostileText;
  }
}

interface Piece {
  header: Record<string, unknown>;
  /** Bytes sent after the header (matching file_size or not). */
  body: Buffer;
}

/** A header of a real type (or a made-up one) with each field plausible, hostile or left out. */
const headerArb: fc.Arbitrary<Record<string, unknown>> = fc
  .constantFrom(...messageTypes, 'no_such_type', 'constructor', '__proto__', '')
  .chain((type) => {
    const fields = Object.hasOwn(Object.fromEntries(messageTypes.map((t) => [t, 1])), type) ? fieldsOf(type as (typeof messageTypes)[number]) : [];
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const field of fields) {
      record[field] = fc.oneof(
        { weight: 6, arbitrary: plausible(field) },
        { weight: 1, arbitrary: anyValue },
        { weight: 1, arbitrary: fc.constant(undefined) },
      );
    }
    return fc.tuple(fc.record(record), fc.dictionary(fc.string({ maxLength: 8 }), anyValue, { maxKeys: 2 })).map(([values, extra]) => {
      const header: Record<string, unknown> = { ...extra, type };
      for (const [field, value] of Object.entries(values)) if (value !== undefined) header[field] = value;
      return header;
    });
  });

/** Mostly no body; else one that matches file_size, lies about it, or a file_size that is no byte count. */
const pieceArb: fc.Arbitrary<Piece> = fc
  .tuple(
    headerArb,
    fc.oneof(
      { weight: 6, arbitrary: fc.constant({ kind: 'none' as const }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant('exact' as const), size: fc.nat({ max: 3000 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('lie' as const), size: fc.nat({ max: 3000 }), sent: fc.nat({ max: 3000 }) }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('bad' as const), size: anyValue }) },
    ),
    fc.uint8Array({ maxLength: 3000 }),
  )
  .map(([header, plan, noise]) => {
    const bytes = (n: number) => Buffer.concat([Buffer.from(noise), Buffer.alloc(Math.max(0, n - noise.length), 0x7b)]).subarray(0, n);
    if (plan.kind === 'none') return { header: stripFileSize(header), body: Buffer.alloc(0) };
    if (plan.kind === 'exact') return { header: { ...header, file_size: plan.size }, body: bytes(plan.size) };
    if (plan.kind === 'lie') return { header: { ...header, file_size: plan.size }, body: bytes(plan.sent) };
    return { header: { ...header, file_size: plan.size }, body: Buffer.alloc(0) };
  });

function stripFileSize(header: Record<string, unknown>): Record<string, unknown> {
  const { file_size: _dropped, ...rest } = header;
  return rest;
}

/** A sequence of pieces, sometimes with raw garbage between them or a few bytes overwritten. */
const wireArb = fc
  .tuple(
    fc.array(fc.oneof({ weight: 5, arbitrary: pieceArb }, { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }) }), { minLength: 1, maxLength: 6 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
  )
  .map(([items, edits]) => ({ items, edits }));

function assemble({ items, edits }: { items: (Piece | Uint8Array)[]; edits: [number, number][] }, session: string): Buffer {
  const parts = items.map((item) => {
    if (item instanceof Uint8Array) return Buffer.from(item);
    const header = Object.fromEntries(Object.entries(item.header).map(([k, v]) => [k, v === SESSION ? session : v]));
    return Buffer.concat([encodeFrame(header), item.body]);
  });
  const wire = Buffer.concat(parts);
  for (const [at, byte] of edits) if (wire.length) wire[at % wire.length] = byte;
  return wire;
}

// ---- what the server must answer -------------------------------------------------------

interface Prediction {
  replies: number;
  /** The framing breaks (or a limit is hit): one more, final error frame, then a close. */
  closes: boolean;
  /** Without a close: the bytes that bring the framing back to a frame boundary, or undefined when that would take too many. */
  completion?: Buffer;
}

/** At most this many body bytes are sent to finish a body the fuzzer left open. */
const MAX_COMPLETION_BYTES = 1024 * 1024;
/** Ends an upload that announced `sha256_trailer` (written here, not taken from the code under test). */
const TRAILER = encodeFrame({ type: 'upload_sha256', sha256: '0'.repeat(64) });
const announcesTrailer = (header: Record<string, unknown>) =>
  header.type === 'update_movie' && header.sha256_trailer === true && header.file_size !== undefined;

/**
 * Replies follow from the bytes alone: one per complete request, in order, until the framing
 * breaks. An upload with `sha256_trailer` is complete only after the frame that follows its
 * bytes (which must carry no bytes of its own).
 */
function predict(wire: Buffer, config: Arena['world']['config']): Prediction {
  const decoder = new FrameDecoder({ maxHeaderBytes: config.maxHeaderBytes });
  decoder.append(wire);
  let replies = 0;
  let trailerDue = false;
  let bodyOfTrailerUpload = false;
  let bodyLeft = 0;
  try {
    for (let event = decoder.next(); event; event = decoder.next()) {
      if (event.kind === 'body') {
        bodyLeft = event.remaining;
        if (bodyLeft === 0) {
          if (bodyOfTrailerUpload) trailerDue = true;
          else replies++;
        }
      } else if (trailerDue) {
        if (event.bodySize > 0) return { replies, closes: true };
        trailerDue = false;
        replies++;
      } else {
        if (event.bodySize > config.maxUploadBytes) return { replies, closes: true };
        bodyOfTrailerUpload = announcesTrailer(event.header);
        bodyLeft = event.bodySize;
        if (bodyLeft === 0) {
          if (bodyOfTrailerUpload) trailerDue = true;
          else replies++;
        }
      }
    }
  } catch {
    return { replies, closes: true };
  }
  const partial = wire.subarray(wire.length - decoder.bufferedBytes);
  const completion = trailerDue
    ? TRAILER
    : decoder.inBody
      ? bodyCompletion(bodyLeft, bodyOfTrailerUpload)
      : headerCompletion(partial, config.maxHeaderBytes);
  return { replies, closes: false, completion };
}

/** The rest of a body (and the trailer, if its upload announced one), unless it is too long to send. */
function bodyCompletion(bodyLeft: number, trailerUpload: boolean): Buffer | undefined {
  if (bodyLeft > MAX_COMPLETION_BYTES) return undefined;
  return Buffer.concat([Buffer.alloc(bodyLeft, 0x20), trailerUpload ? TRAILER : Buffer.alloc(0)]);
}

/** The rest of a header cut short (nothing at a boundary): its length prefix padded with zeros, then spaces. */
function headerCompletion(partial: Buffer, maxHeaderBytes: number): Buffer {
  if (partial.length === 0) return partial;
  const padding = Buffer.alloc(Math.max(0, 4 - partial.length));
  const length = Buffer.concat([partial.subarray(0, 4), padding]).readInt32LE(0);
  // A length over the limit breaks the framing as soon as the prefix is whole.
  const rest = length > maxHeaderBytes ? 0 : 4 + length - Math.max(partial.length, 4);
  return Buffer.concat([padding, Buffer.alloc(Math.max(0, rest), 0x20)]);
}

/**
 * What to send and what must come back. First the fuzzed bytes, which the server reads and
 * answers as far as they go, then waits (mid-frame, perhaps). Then, when they left the
 * framing intact, whatever finishes the frame they end in and a last server_info, whose reply
 * is the last frame; ending our side then closes the connection. So a reply sent while the
 * server waited, an extra or late one, or a close the bytes did not call for cannot go unseen.
 */
interface Plan {
  wire: Buffer;
  /** Replies to the fuzzed bytes alone. */
  wireReplies: number;
  /** Sent once those replies came and the server has read the fuzzed bytes. */
  rest: Buffer;
  replies: number;
  ends: 'error-close' | 'server-info' | 'body-left-open';
}

const SERVER_INFO = encodeFrame({ type: 'server_info' });

function planFor(wire: Buffer, config: Arena['world']['config']): Plan {
  const first = predict(wire, config);
  const plan = (rest: Buffer, replies: number, ends: Plan['ends']): Plan => ({ wire, wireReplies: first.replies, rest, replies, ends });
  let rest = Buffer.alloc(0);
  for (let round = 0; round < 3; round++) {
    const expected = round === 0 ? first : predict(Buffer.concat([wire, rest]), config);
    if (expected.closes) return plan(rest, expected.replies + 1, 'error-close');
    if (expected.completion === undefined) return plan(rest, expected.replies, 'body-left-open');
    if (expected.completion.length === 0) {
      const last = predict(Buffer.concat([wire, rest, SERVER_INFO]), config);
      expect(last).toMatchObject({ closes: false, replies: expected.replies + 1 });
      return plan(Buffer.concat([rest, SERVER_INFO]), last.replies, 'server-info');
    }
    rest = Buffer.concat([rest, expected.completion]);
  }
  throw new Error('the completion of the fuzzed bytes did not reach a frame boundary');
}

describe.each(databaseKinds)('fuzzing a live server (%s)', (kind) => {
  let arena: Arena;
  let watch: Watch;
  const ends: Record<Plan['ends'], number> = { 'error-close': 0, 'server-info': 0, 'body-left-open': 0 };
  beforeAll(async () => {
    arena = await startArena(kind);
    const setup = await arena.world.connect();
    await setup.request({ type: 'register', name: FUZZ_VIEWER.name, password: FUZZ_VIEWER.password, user_type: 'user' });
    setup.close();
    watch = await arena.watch();
  });
  afterAll(async () => arena?.close());

  /** Whether the server's end of the peer's connection has read all the peer wrote (or is gone). */
  function serverHasRead(peer: Peer): boolean {
    for (const conn of arena.world.server.connections) {
      if (conn.socket.remotePort === peer.local.port && conn.socket.remoteAddress === peer.local.address) return conn.socket.bytesRead >= peer.socket.bytesWritten;
    }
    return true;
  }

  /** Sends `wire` (built once the session is known) on a fresh connection and checks every reply it gets. */
  async function exchange(build: (session: string) => Buffer, login: boolean): Promise<void> {
    const peer = await arena.peer();
    try {
      let session = 'no-session';
      if (login) {
        const reply = await peer.request({ type: 'login', name: FUZZ_VIEWER.name, password: FUZZ_VIEWER.password, user_type: 'user' });
        expect(reply.flag).toBe(true);
        session = String(reply.session);
      }
      const already = peer.replies.length;
      const plan = planFor(build(session), arena.world.config);
      const got = (n: number) => peer.replies.length - already >= n || peer.closed || peer.framingError !== undefined;
      peer.write(plan.wire);
      if (plan.rest.length > 0) {
        // The server has read the fuzzed bytes and answered what they hold: it is waiting now.
        await waitFor(() => got(plan.wireReplies) && serverHasRead(peer), 10_000, `${plan.wireReplies} replies to the fuzzed bytes`);
        peer.write(plan.rest);
      }
      await waitFor(() => got(plan.replies), 10_000, `${plan.replies} replies`);
      if (plan.ends === 'error-close') {
        expect(await peer.closedWithin(5000)).toBe(true);
      } else {
        // Still open after its last reply; then our end closes, and so must the server's.
        expect(peer.closed).toBe(false);
        peer.socket.end();
        expect(await peer.closedWithin(5000)).toBe(true);
      }
      expect(peer.framingError).toBeUndefined();
      const replies = peer.replies.slice(already);
      expect(replies).toHaveLength(plan.replies);
      for (const reply of replies) {
        expect(typeof reply.flag).toBe('boolean');
        expect(reply.code).not.toBe('INTERNAL');
        if (!reply.flag) expect(typeof reply.msg).toBe('string');
      }
      if (plan.ends === 'error-close') expect(replies.at(-1)?.code).toMatch(/^(BAD_FRAME|TOO_LARGE)$/);
      if (plan.ends === 'server-info') expect(replies.at(-1)).toMatchObject({ flag: true, version: expect.any(String), free_wait_seconds: expect.any(Number) });
      ends[plan.ends]++;
    } finally {
      peer.destroy();
    }
  }

  const settings = { seed: SEED, numRuns: RUNS };

  it('random bytes', { timeout: TIMEOUT_MS }, async () => {
    const bytesArb = fc.oneof(
      fc.uint8Array({ maxLength: 600 }).map((b) => Buffer.from(b)),
      // A plausible small length first, so the bytes reach the UTF-8, JSON and object checks.
      fc.tuple(fc.integer({ min: -3, max: 200 }), fc.uint8Array({ maxLength: 300 })).map(([length, rest]) => {
        const prefix = Buffer.alloc(4);
        prefix.writeInt32LE(length);
        return Buffer.concat([prefix, Buffer.from(rest)]);
      }),
    );
    await fc.assert(fc.asyncProperty(bytesArb, (bytes) => exchange(() => bytes, false)), settings);
  });

  it('random valid-looking headers from an anonymous client', { timeout: TIMEOUT_MS }, async () => {
    await fc.assert(fc.asyncProperty(wireArb, (wire) => exchange((session) => assemble(wire, session), false)), settings);
  });

  it('random valid-looking headers from a logged-in viewer', { timeout: TIMEOUT_MS }, async () => {
    await fc.assert(fc.asyncProperty(wireArb, (wire) => exchange((session) => assemble(wire, session), true)), settings);
  });

  it('left no error in the server log, changed only what a viewer may change, and the bystander is served', async () => {
    // The runs ended both ways that check every reply: a broken framing, and a last server_info.
    expect(ends['error-close']).toBeGreaterThan(0);
    expect(ends['server-info']).toBeGreaterThan(0);
    expect(arena.world.logs.filter((line) => Number(line.level) >= 50)).toEqual([]);
    expectOnlyViewerChanges(await watch.changes(), await viewerId(arena));
    await watch.served();
  });
});

async function viewerId(arena: Arena): Promise<number> {
  const [row] = await arena.rows<{ id: number }>('SELECT id FROM user WHERE name = ?', [FUZZ_VIEWER.name]);
  return Number(row.id);
}

/**
 * A viewer may register new viewers, fail logins (counted on the account named), buy VIP,
 * and buy and download videos for itself. Nothing else may move.
 */
function expectOnlyViewerChanges(changes: Changes, viewer: number): void {
  expect(Object.keys(changes).filter((key) => !['user', 'purchase', 'download_record'].includes(key))).toEqual([]);
  for (const row of changes.user?.added ?? []) expect(row.user_type).toBe('user');
  expect(changes.user?.removed).toBeUndefined();
  for (const { before, after } of changes.user?.changed ?? []) {
    const moved = Object.keys(after).filter((key) => JSON.stringify(after[key]) !== JSON.stringify(before[key]));
    const allowed = Number(after.id) === viewer ? ['is_vip', 'failed_logins', 'locked_until'] : ['failed_logins', 'locked_until'];
    expect(moved.filter((key) => !allowed.includes(key))).toEqual([]);
  }
  for (const table of ['purchase', 'download_record'] as const) {
    expect(changes[table]?.removed ?? changes[table]?.changed).toBeUndefined();
    for (const row of changes[table]?.added ?? []) expect(Number(row.user_id)).toBe(viewer);
  }
}
