import { describe, it, expect } from 'vitest';
import { FrameDecoder, ProtocolError, encodeFrame, type ProtocolErrorCode } from '../../src/protocol/index.js';
import { bytesOf, chunksOf, decodeAll, splitAt } from './helpers.js';

type Expected = [header: Record<string, unknown>, body: string][];

/** Compares decoded frames with [header, body-spec] pairs (body specs use the `$hh` notation). */
function expectFrames(actual: ReturnType<typeof decodeAll>, expected: Expected): void {
  expect(actual.map((f) => f.header)).toEqual(expected.map(([header]) => header));
  expect(actual.map((f) => f.body.toString('hex'))).toEqual(expected.map(([, body]) => bytesOf(body).toString('hex')));
}

function thrownBy(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

function expectProtocolError(run: () => unknown, code: ProtocolErrorCode): ProtocolError {
  const error = thrownBy(run);
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).code).toBe(code);
  expect((error as ProtocolError).name).toBe('ProtocolError');
  return error as ProtocolError;
}

/** Appends every chunk of a spec and pulls until the decoder throws or needs more. */
function drain(decoder: FrameDecoder, spec: string): void {
  for (const chunk of chunksOf(spec)) {
    decoder.append(chunk);
    while (decoder.next() !== undefined);
  }
}

describe('FrameDecoder: chunk boundaries', () => {
  // `{"type":"login"}` is 16 bytes: $10 $00 $00 $00.
  it.each<[string, string, Expected]>([
    ['one whole frame', '<{"type":"login"}>', [[{ type: 'login' }, '']]],
    ['cut after prefix byte 1', '$10|$00$00$00{"type":"login"}', [[{ type: 'login' }, '']]],
    ['cut after prefix byte 2', '$10$00|$00$00{"type":"login"}', [[{ type: 'login' }, '']]],
    ['cut after prefix byte 3', '$10$00$00|$00{"type":"login"}', [[{ type: 'login' }, '']]],
    ['cut right after the prefix', '$10$00$00$00|{"type":"login"}', [[{ type: 'login' }, '']]],
    ['cut inside the JSON', '<{"type":|"login"}>', [[{ type: 'login' }, '']]],
    ['cut in two places inside the JSON', '<{|"type":"log|in"}>', [[{ type: 'login' }, '']]],
    ['cut inside a 3-byte UTF-8 character', '<{"l":"$e5|$85$8d费"}>', [[{ l: '免费' }, '']]],
    ['Chinese text in one chunk', '<{"movie_list":[["a","免费",1]]}>', [[{ movie_list: [['a', '免费', 1]] }, '']]],
    ['empty chunks around frames', '|<{"a":1}>||<{"b":2}>|', [[{ a: 1 }, ''], [{ b: 2 }, '']]],
    ['chunks end exactly at frame ends', '<{"a":1}>|<{"b":2}>|<{"c":3}>', [[{ a: 1 }, ''], [{ b: 2 }, ''], [{ c: 3 }, '']]],
    ['header and the start of the body in one chunk', '<{"file_size":5}>he|llo', [[{ file_size: 5 }, 'hello']]],
    ['header cut, body whole', '<{"file_|size":5}>hello', [[{ file_size: 5 }, 'hello']]],
    ['body cut twice', '<{"file_size":5}>h|el|lo', [[{ file_size: 5 }, 'hello']]],
    ['body end and next header in one chunk', '<{"file_size":3}>a|bc<{"b":2}>', [[{ file_size: 3 }, 'abc'], [{ b: 2 }, '']]],
    ['body end and half the next header', '<{"file_size":3}>a|bc<{"b"|:2}>', [[{ file_size: 3 }, 'abc'], [{ b: 2 }, '']]],
    [
      'leftover header bytes then a body in the same chunk',
      '<{"fi|le_size":4}>ab|cd<{"x|":1}>',
      [[{ file_size: 4 }, 'abcd'], [{ x: 1 }, '']],
    ],
    ['file_size 0 has no body', '<{"file_size":0}><{"a":1}>', [[{ file_size: 0 }, ''], [{ a: 1 }, '']]],
    [
      'a binary body that looks like frames is passed through',
      '<{"file_size":12}>$ff$ff$ff$ff$00$00$00$00$07$00$00$00<{"a":1}>',
      [[{ file_size: 12 }, '$ff$ff$ff$ff$00$00$00$00$07$00$00$00'], [{ a: 1 }, '']],
    ],
    [
      'many frames in one chunk',
      '<{"a":1}><{"file_size":3}>abc<{"b":2}><{"file_size":0}><{"c":"免费"}><{"file_size":1}>z',
      [[{ a: 1 }, ''], [{ file_size: 3 }, 'abc'], [{ b: 2 }, ''], [{ file_size: 0 }, ''], [{ c: '免费' }, ''], [{ file_size: 1 }, 'z']],
    ],
    [
      'many frames, cut everywhere interesting',
      '$07|$00$00$00{"a":1}<{"file_|size":3}>a|b|c<{"b":2}>$0f$00|$00$00{"file_size":0}<{"file_size":1}>|z|',
      [[{ a: 1 }, ''], [{ file_size: 3 }, 'abc'], [{ b: 2 }, ''], [{ file_size: 0 }, ''], [{ file_size: 1 }, 'z']],
    ],
  ])('%s: %s', (_name, spec, expected) => {
    expectFrames(decodeAll(chunksOf(spec)), expected);
  });

  const bodyStream = bytesOf('<{"type":"download_movie","file_size":10}>0123456789<{"next":true}>');
  const bodyExpected: Expected = [
    [{ type: 'download_movie', file_size: 10 }, '0123456789'],
    [{ next: true }, ''],
  ];

  // b === a is a single cut (splitAt drops the repeat), so this covers every single cut too.
  it('every single cut and every pair of cuts, pulling after each chunk', () => {
    for (let a = 1; a < bodyStream.length; a += 1) {
      for (let b = a; b < bodyStream.length; b += 1) {
        expectFrames(decodeAll(splitAt(bodyStream, [a, b])), bodyExpected);
      }
    }
  });

  // The server pulls only when its handler is done, so chunks queue up unread meanwhile.
  it('every single cut and every pair of cuts, with all chunks appended before the first pull', () => {
    for (let a = 1; a < bodyStream.length; a += 1) {
      for (let b = a; b < bodyStream.length; b += 1) {
        expectFrames(decodeAll(splitAt(bodyStream, [a, b]), undefined, 'at-end'), bodyExpected);
      }
    }
  });

  it('one byte at a time through a multi-frame sequence with bodies', () => {
    const stream = bytesOf(
      '<{"type":"update_movie","file_name":"片.mp4","file_size":7}>$00$01$02$ff$fe$7b$7d' +
        '<{"flag":true,"msg":"ok"}><{"file_size":3}>xyz<{"file_size":0}><{"end":1}>',
    );
    const oneByteChunks = Array.from(stream, (byte) => Buffer.from([byte]));
    expectFrames(decodeAll(oneByteChunks), [
      [{ type: 'update_movie', file_name: '片.mp4', file_size: 7 }, '$00$01$02$ff$fe$7b$7d'],
      [{ flag: true, msg: 'ok' }, ''],
      [{ file_size: 3 }, 'xyz'],
      [{ file_size: 0 }, ''],
      [{ end: 1 }, ''],
    ]);
  });
});

describe('FrameDecoder: pulling', () => {
  it('returns undefined until a frame is complete, and counts buffered bytes', () => {
    const decoder = new FrameDecoder();
    expect(decoder.next()).toBeUndefined();
    decoder.append(bytesOf('$07$00'));
    expect(decoder.next()).toBeUndefined();
    expect(decoder.bufferedBytes).toBe(2);
    decoder.append(bytesOf('$00$00{"a"'));
    expect(decoder.next()).toBeUndefined();
    expect(decoder.bufferedBytes).toBe(8);
    decoder.append(bytesOf(':1}'));
    expect(decoder.next()).toEqual({ kind: 'header', header: { a: 1 }, bodySize: 0 });
    expect(decoder.bufferedBytes).toBe(0);
    expect(decoder.next()).toBeUndefined();
  });

  it('stops after a header and resumes later without losing bytes', () => {
    const decoder = new FrameDecoder();
    decoder.append(bytesOf('<{"file_size":4}>ab'));
    expect(decoder.next()).toMatchObject({ kind: 'header', bodySize: 4 });
    expect(decoder.inBody).toBe(true);
    // The handler is "busy": more bytes arrive and pile up before anyone pulls.
    decoder.append(bytesOf('cd<{"a":1}>'));
    decoder.append(bytesOf('<{"b":2}>'));
    expect(decoder.bufferedBytes).toBe(2 + 2 + 11 + 11);
    const body = decoder.next();
    expect(body).toMatchObject({ kind: 'body', remaining: 0 });
    expect((body as { chunk: Buffer }).chunk.toString()).toBe('abcd');
    expect(decoder.inBody).toBe(false);
    expect(decoder.next()).toMatchObject({ header: { a: 1 } });
    expect(decoder.next()).toMatchObject({ header: { b: 2 } });
    expect(decoder.next()).toBeUndefined();
  });

  it('never returns more body bytes than remain, even with the next frame in the same chunk', () => {
    const decoder = new FrameDecoder();
    decoder.append(bytesOf('<{"file_size":3}>abc<{"a":1}>'));
    decoder.next();
    const body = decoder.next();
    expect(body).toMatchObject({ kind: 'body', remaining: 0 });
    expect((body as { chunk: Buffer }).chunk.toString()).toBe('abc');
  });

  it('passes a body inside a received chunk through without copying', () => {
    const decoder = new FrameDecoder();
    const chunk = bytesOf('<{"file_size":5}>hello');
    decoder.append(chunk);
    decoder.next();
    const body = decoder.next() as { chunk: Buffer };
    expect(body.chunk.buffer).toBe(chunk.buffer);
  });

  it('a body chunk handed out earlier is not corrupted by later appends', () => {
    const decoder = new FrameDecoder();
    // The split header sends chunk 2 (body included) through the decoder's own buffer; the
    // split in the last frame later copies a leftover into that same buffer from offset 0.
    const chunks = chunksOf(
      '<{"fi|le_size":6}>secret|<{"x":"XXXXXXXXXX"}><{"y|":"YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY"}>',
    );
    decoder.append(chunks[0]);
    expect(decoder.next()).toBeUndefined();
    decoder.append(chunks[1]);
    expect(decoder.next()).toMatchObject({ kind: 'header', bodySize: 6 });
    const held = (decoder.next() as { chunk: Buffer }).chunk;
    expect(held.toString()).toBe('secret');
    const later: unknown[] = [];
    for (const chunk of chunks.slice(2)) {
      decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) later.push(event);
    }
    expect(later).toHaveLength(2);
    expect(held.toString()).toBe('secret');
  });

  it('keeps reusing (compacting) its own buffer over a long stream of unaligned chunks', () => {
    // Headers only: a chunk that ends inside a header leaves a leftover, so every later chunk
    // goes through the decoder's own buffer until it fills and must be compacted.
    const expected: Expected = [];
    for (let i = 0; i < 1_000; i += 1) expected.push([{ n: i, pad: 'p'.repeat(i % 13) }, '']);
    const stream = Buffer.concat(expected.map(([header]) => encodeFrame(header)));
    const cuts = Array.from({ length: Math.floor(stream.length / 997) }, (_, i) => (i + 1) * 997);
    expectFrames(decodeAll(splitAt(stream, cuts)), expected);
  });

  it('never writes into a buffer it received', () => {
    const chunks = chunksOf('<{"fi|le_size":6}>sec|ret<{"a"|:1}>$07|$00$00$00{"b":2}<{"c":|3}>');
    const snapshots = chunks.map((chunk) => Buffer.from(chunk));
    decodeAll(chunks);
    chunks.forEach((chunk, i) => expect(chunk.equals(snapshots[i])).toBe(true));
  });

  it('grows its own buffer for a large header arriving in pieces', () => {
    const header = { data: 'x'.repeat(50_000) };
    const frame = encodeFrame(header);
    const cuts = Array.from({ length: 60 }, (_, i) => 3 + i * 997);
    expectFrames(decodeAll(splitAt(frame, cuts)), [[header, '']]);
  });

  it('keeps working after a burst larger than the buffer it retains', () => {
    const huge = { data: 'h'.repeat(3_000_000) };
    const stream = Buffer.concat([encodeFrame(huge), encodeFrame({ after: 1 }), encodeFrame({ after: 2 })]);
    const cuts = [2, 1_000_000, 2_000_000, stream.length - 15, stream.length - 3];
    expectFrames(decodeAll(splitAt(stream, cuts), { maxHeaderBytes: 4_000_000 }), [
      [huge, ''],
      [{ after: 1 }, ''],
      [{ after: 2 }, ''],
    ]);
  });
});

describe('FrameDecoder: errors', () => {
  it('NEGATIVE_LENGTH as soon as the prefix is known', () => {
    const decoder = new FrameDecoder();
    decoder.append(bytesOf('$ff$ff$ff'));
    expect(decoder.next()).toBeUndefined();
    decoder.append(bytesOf('$ff'));
    const error = expectProtocolError(() => decoder.next(), 'NEGATIVE_LENGTH');
    expect(error.message).toBe('length prefix -1 is negative');
    expectProtocolError(() => drain(new FrameDecoder(), '$00$00$00$80'), 'NEGATIVE_LENGTH');
  });

  it('EMPTY_HEADER for a zero length', () => {
    expectProtocolError(() => drain(new FrameDecoder(), '$00$00$00$00'), 'EMPTY_HEADER');
  });

  it('accepts a header exactly at the 65536-byte limit', () => {
    const json = `{"a":"${'x'.repeat(65_536 - 8)}"}`;
    expect(Buffer.byteLength(json)).toBe(65_536);
    const frame = encodeFrame(JSON.parse(json));
    expect(frame.readInt32LE(0)).toBe(65_536);
    const decoder = new FrameDecoder();
    decoder.append(frame.subarray(0, 4));
    expect(decoder.next()).toBeUndefined();
    decoder.append(frame.subarray(4));
    expect(decoder.next()).toMatchObject({ kind: 'header', bodySize: 0 });
  });

  it('rejects one byte over the limit before the header bytes arrive', () => {
    const decoder = new FrameDecoder();
    decoder.append(bytesOf('$01$00$01$00')); // 65537
    const error = expectProtocolError(() => decoder.next(), 'HEADER_TOO_LARGE');
    expect(error.message).toBe('header of 65537 bytes exceeds the 65536-byte limit');
    expect(decoder.bufferedBytes).toBe(4);
  });

  it('honours a custom maxHeaderBytes', () => {
    const small = { maxHeaderBytes: 10 };
    expectFrames(decodeAll(chunksOf('<{"ab":12}>'), small), [[{ ab: 12 }, '']]); // 9 bytes
    expectFrames(decodeAll(chunksOf('<{"ab":123}>'), small), [[{ ab: 123 }, '']]); // 10 bytes
    const decoder = new FrameDecoder(small);
    decoder.append(bytesOf('$0b$00$00$00'));
    const error = expectProtocolError(() => decoder.next(), 'HEADER_TOO_LARGE');
    expect(error.message).toBe('header of 11 bytes exceeds the 10-byte limit');
    expect(() => new FrameDecoder({ maxHeaderBytes: 0 })).toThrow(RangeError);
  });

  it.each([
    ['a lone 0xff byte', '<{"a":"$ff"}>'],
    ['an overlong encoding of NUL', '<{"a":"$c0$80"}>'],
    ['an encoded UTF-16 surrogate', '<{"a":"$ed$a0$80"}>'],
    ['a truncated 3-byte character', '<{"a":"$e5$85"}>'],
  ])('BAD_UTF8: %s', (_name, spec) => {
    expectProtocolError(() => drain(new FrameDecoder(), spec), 'BAD_UTF8');
  });

  it.each([
    ['truncated JSON', '<{"a":>'],
    ['trailing garbage', '<{"a":1}x>'],
    ['single quotes', "<{'a':1}>"],
    ['unbalanced deep nesting', `<${'['.repeat(10_000)}>`],
  ])('BAD_JSON: %s', (_name, spec) => {
    expectProtocolError(() => drain(new FrameDecoder(), spec), 'BAD_JSON');
  });

  it.each([
    ['an array', '<[1,2]>'],
    ['a string', '<"login">'],
    ['a number', '<42>'],
    ['null', '<null>'],
    ['true', '<true>'],
  ])('NOT_OBJECT: %s', (_name, spec) => {
    expectProtocolError(() => drain(new FrameDecoder(), spec), 'NOT_OBJECT');
  });

  it.each([
    ['10,000 nested arrays', '['.repeat(10_000) + ']'.repeat(10_000)],
    ['10,000 nested objects', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)],
  ])('%s: only ever a ProtocolError', (_name, json) => {
    const decoder = new FrameDecoder();
    decoder.append(encodeFrameOfText(json));
    let result: unknown;
    try {
      result = decoder.next();
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      expect(['NOT_OBJECT', 'BAD_JSON']).toContain((error as ProtocolError).code);
      return;
    }
    // If the engine parses it, only the object form can be a header.
    expect(json.startsWith('{')).toBe(true);
    expect(result).toMatchObject({ kind: 'header' });
  });

  it.each([
    ['-1', '-1'],
    ['1.5', '1.5'],
    ['"10"', '"10"'],
    ['2**53', String(2 ** 53)],
    ['1e400 (Infinity)', '1e400'],
    ['null', 'null'],
    ['true', 'true'],
  ])('BAD_FILE_SIZE: file_size %s', (_name, value) => {
    expectProtocolError(() => drain(new FrameDecoder(), `<{"file_size":${value}}>`), 'BAD_FILE_SIZE');
  });

  it('accepts file_size up to Number.MAX_SAFE_INTEGER', () => {
    const decoder = new FrameDecoder();
    decoder.append(encodeFrame({ file_size: Number.MAX_SAFE_INTEGER }));
    expect(decoder.next()).toMatchObject({ bodySize: Number.MAX_SAFE_INTEGER });
  });

  it('stays failed: next() rethrows the same error, even after more bytes', () => {
    const decoder = new FrameDecoder();
    decoder.append(bytesOf('<[1]>'));
    const first = thrownBy(() => decoder.next());
    expect(first).toBeInstanceOf(ProtocolError);
    decoder.append(encodeFrame({ fine: true }));
    expect(thrownBy(() => decoder.next())).toBe(first);
    expect(thrownBy(() => decoder.next())).toBe(first);
  });

  it('uses a custom bodySizeOf and propagates what it throws', () => {
    const onlyUploads = (h: Record<string, unknown>) => (h.type === 'update_movie' ? Number(h.file_size) : 0);
    expectFrames(
      decodeAll(chunksOf('<{"type":"check_movie","file_size":3}><{"type":"update_movie","file_size":2}>ok'), {
        bodySizeOf: onlyUploads,
      }),
      [
        [{ type: 'check_movie', file_size: 3 }, ''],
        [{ type: 'update_movie', file_size: 2 }, 'ok'],
      ],
    );

    const boom = new Error('boom');
    const decoder = new FrameDecoder({
      bodySizeOf: () => {
        throw boom;
      },
    });
    decoder.append(bytesOf('<{"a":1}>'));
    expect(thrownBy(() => decoder.next())).toBe(boom);
    expect(thrownBy(() => decoder.next())).toBe(boom);

    const nonsense = new FrameDecoder({ bodySizeOf: () => -3 });
    nonsense.append(bytesOf('<{"a":1}>'));
    expectProtocolError(() => nonsense.next(), 'BAD_FILE_SIZE');
  });
});

function encodeFrameOfText(json: string): Buffer {
  const body = Buffer.from(json, 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeInt32LE(body.length);
  return Buffer.concat([prefix, body]);
}
