/**
 * Broken framing over a real socket: length prefixes that are negative, 0, 2^31-1 or over
 * the limit; headers cut off mid-way (then the client leaves, or stalls); bytes that are no
 * UTF-8, no JSON, or JSON that is no object; 10,000 nested brackets. A broken frame gets an
 * error frame and a closed socket; a well-formed but senseless header gets flag false and
 * the connection stays. Each case also checks the bystander and that nothing changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseKinds } from '../helpers/databases.js';
import { frame, prefixed } from '../helpers/raw.js';
import { expectErrorReply, startArena, waitFor, type Arena } from './arena.js';


const utf8 = (text: string) => Buffer.from(text, 'utf8');
const json = (text: string) => prefixed(Buffer.byteLength(text), text);
const bytes = (...values: number[]) => Buffer.from(values);
/** A header whose JSON holds raw bytes between two strings. */
const withRaw = (raw: Buffer) => {
  const payload = Buffer.concat([utf8('{"type":"login","name":"'), raw, utf8('","password":"x","user_type":"user"}')]);
  return prefixed(payload.length, payload);
};

/** A valid server_info header of exactly `length` bytes. */
const padded = (length: number) => {
  const head = '{"type":"server_info","pad":"';
  return `${head}${'x'.repeat(length - head.length - 2)}"}`;
};

const NESTED = 10_000;
const nestedArrays = '['.repeat(NESTED) + ']'.repeat(NESTED);
const nestedObjects = '{"a":'.repeat(NESTED) + '1' + '}'.repeat(NESTED);

/** Frames that break the framing: an error frame (BAD_FRAME, a message matching), then a close. */
const broken: [string, Buffer, RegExp][] = [
  ['a length of -1', prefixed(-1, '{}'), /negative/],
  ['a length of -2^31', prefixed(-(2 ** 31), '{}'), /negative/],
  ['a length of 0', prefixed(0), /prefix is 0/],
  ['a length of 0 followed by a valid frame', Buffer.concat([prefixed(0), frame({ type: 'server_info' })]), /prefix is 0/],
  ['a length of 2^31-1 alone', prefixed(2 ** 31 - 1), /exceeds/],
  ['a length of 2^31-1 with 1 MiB following', prefixed(2 ** 31 - 1, Buffer.alloc(1024 * 1024, 0x7b)), /exceeds/],
  ['a length one past the 64 KiB limit, with all its bytes', json(padded(64 * 1024 + 1)), /exceeds/],
  ['a header with a 100 KiB field at the default limit', frame({ type: 'login', name: 'x'.repeat(100 * 1024), password: 'p', user_type: 'user' }), /exceeds/],
  ['ASCII text instead of a prefix', utf8('GET / HTTP/1.1\r\nHost: cinebox\r\n\r\n'), /exceeds/],
  ['a lone UTF-8 continuation byte', withRaw(bytes(0x80)), /UTF-8/],
  ['an overlong UTF-8 "/"', withRaw(bytes(0xc0, 0xaf)), /UTF-8/],
  ['a UTF-16 surrogate in UTF-8', withRaw(bytes(0xed, 0xa0, 0x80)), /UTF-8/],
  ['a UTF-8 sequence cut short', withRaw(bytes(0xe2, 0x82)), /UTF-8/],
  ['the byte 0xFF', withRaw(bytes(0xff)), /UTF-8/],
  ['JSON with a trailing comma', json('{"type":"server_info",}'), /JSON/],
  ['JSON with single quotes', json("{'type':'server_info'}"), /JSON/],
  ['an unterminated JSON string', json('{"type":"server_info'), /JSON/],
  ['NaN in JSON', json('{"type":"server_info","n":NaN}'), /JSON/],
  ['two JSON objects in one frame', json('{"type":"server_info"}{"type":"server_info"}'), /JSON/],
  ['a raw NUL inside a JSON string', withRaw(bytes(0x00)), /JSON/],
  ['a JSON array', json('[]'), /array/],
  ['a request wrapped in an array', json('[{"type":"server_info"}]'), /array/],
  ['a JSON string', json('"server_info"'), /string/],
  ['a JSON number', json('42'), /number/],
  ['JSON true', json('true'), /boolean/],
  ['JSON null', json('null'), /null/],
  [`${NESTED} nested brackets`, json(nestedArrays), /array|JSON/],
  ['a valid request, then a broken frame in the same packet', Buffer.concat([frame({ type: 'server_info' }), prefixed(-7)]), /negative/],
];

/** Well-formed frames whose header makes no sense: flag false, and the connection stays usable. */
const senseless: [string, Buffer, string][] = [
  [`${NESTED} nested objects`, json(nestedObjects), 'UNKNOWN_TYPE'],
  [`a type of ${NESTED} nested arrays`, json(`{"type":${nestedArrays}}`), 'UNKNOWN_TYPE'],
  [`a name of ${NESTED} nested objects`, json(`{"type":"login","name":${nestedObjects},"password":"p","user_type":"user"}`), 'BAD_REQUEST'],
  ['an empty object', json('{}'), 'UNKNOWN_TYPE'],
  ['a type that is an Object.prototype key', json('{"type":"constructor"}'), 'UNKNOWN_TYPE'],
  ['a type that is __proto__', json('{"type":"__proto__","__proto__":{"type":"server_info"}}'), 'UNKNOWN_TYPE'],
  ['a type with NUL and escapes', json('{"type":"login\\u0000\\u001b[2J"}'), 'UNKNOWN_TYPE'],
];

describe.each(databaseKinds)('broken frames (%s)', (kind) => {
  let arena: Arena;
  beforeAll(async () => {
    arena = await startArena(kind, { headerDeadlineSeconds: 1 });
  });
  afterAll(async () => arena?.close());

  it.each(broken)('%s: an error frame, then a closed socket', async (_name, attack, msg) => {
    const watch = await arena.watch();
    const peer = await arena.peer();
    peer.write(attack);
    let reply = await peer.next();
    if (typeof reply !== 'string' && reply.flag === true) reply = await peer.next(); // the valid request's answer
    expectErrorReply(reply, 'BAD_FRAME');
    expect(reply.msg).toMatch(msg);
    expect(await peer.closedWithin(3000)).toBe(true);
    await watch.unharmed();
  });

  it.each(senseless)('%s: flag false, and the connection stays usable', async (_name, attack, code) => {
    const watch = await arena.watch();
    const peer = await arena.peer();
    peer.write(attack);
    expectErrorReply(await peer.next(), code);
    expect(await peer.request({ type: 'server_info' })).toMatchObject({ flag: true });
    peer.destroy();
    await watch.unharmed();
  });

  const login = frame({ type: 'login', name: 'bystander', password: 'x', user_type: 'user' });
  it.each([
    ['inside the length prefix', login.subarray(0, 2)],
    ['inside the JSON', login.subarray(0, 20)],
    ['one byte short', login.subarray(0, login.length - 1)],
  ])('a header cut off %s, then the client leaves: the server lets go of it', async (_where, partial) => {
    const watch = await arena.watch();
    const peer = await arena.peer();
    await waitFor(() => arena.serves(peer.local), 5000, 'the server to see the peer');
    peer.write(partial);
    await new Promise((resolve) => setTimeout(resolve, 50));
    peer.destroy();
    await waitFor(() => !arena.serves(peer.local), 5000, 'the server to drop the peer');
    await watch.unharmed();
  });

  it.each([
    ['inside the length prefix', login.subarray(0, 2)],
    ['inside the JSON', login.subarray(0, 20)],
    ['one byte short', login.subarray(0, login.length - 1)],
  ])('a header cut off %s, then the client stalls: TIMEOUT, then a closed socket', async (_where, partial) => {
    const watch = await arena.watch();
    const peer = await arena.peer();
    peer.write(partial);
    expectErrorReply(await peer.next(4000), 'TIMEOUT');
    expect(await peer.closedWithin(3000)).toBe(true);
    await watch.unharmed();
  });
});
