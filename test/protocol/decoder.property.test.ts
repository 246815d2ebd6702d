import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { FrameDecoder, ProtocolError, encodeFrame } from '../../src/protocol/index.js';
import { decodeAll, splitAt } from './helpers.js';

const settings = { seed: 42, numRuns: 300 };

const headerArb = fc.dictionary(
  fc.string({ maxLength: 12 }).filter((key) => key !== 'file_size'),
  fc.jsonValue({ maxDepth: 3 }),
  { maxKeys: 6 },
);

/** A frame as a sender would write it: a header, plus a body when file_size announces one. */
const frameArb = fc
  .record({ header: headerArb, body: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: undefined }) })
  .map(({ header, body }) =>
    body === undefined
      ? { header: { ...header } as Record<string, unknown>, body: Buffer.alloc(0) }
      : { header: { ...header, file_size: body.length } as Record<string, unknown>, body: Buffer.from(body) },
  );

const cutsArb = fc.array(fc.nat(), { maxLength: 25 });

function wireOf(frames: { header: Record<string, unknown>; body: Buffer }[]): Buffer {
  return Buffer.concat(frames.flatMap(({ header, body }) => [encodeFrame(header), body]));
}

describe('FrameDecoder properties', () => {
  it('any cut of any frame sequence decodes to the same headers and bodies', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 12 }), cutsArb, (frames, cuts) => {
        const wire = wireOf(frames);
        const decoded = decodeAll(splitAt(wire, cuts.map((cut) => cut % (wire.length + 1))));
        // What the receiver can see is the JSON round trip (-0 becomes 0, and so on).
        expect(decoded.map((f) => f.header)).toEqual(frames.map((f) => JSON.parse(JSON.stringify(f.header))));
        expect(decoded.map((f) => f.body.toString('hex'))).toEqual(frames.map((f) => f.body.toString('hex')));
      }),
      settings,
    );
  });

  const int32le = (n: number) => {
    const prefix = Buffer.alloc(4);
    prefix.writeInt32LE(n);
    return prefix;
  };

  const garbageArb = fc.oneof(
    fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)),
    // A plausible small length first, so the bytes reach the UTF-8, JSON and object checks.
    fc
      .tuple(fc.integer({ min: -3, max: 80 }), fc.uint8Array({ maxLength: 200 }))
      .map(([length, rest]) => Buffer.concat([int32le(length), rest])),
    // Valid frames with a few bytes overwritten.
    fc
      .tuple(fc.array(frameArb, { minLength: 1, maxLength: 6 }), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }))
      .map(([frames, edits]) => {
        const wire = wireOf(frames);
        for (const [at, byte] of edits) wire[at % wire.length] = byte;
        return wire;
      }),
  );

  it('garbage only ever throws a ProtocolError, and never hangs', () => {
    fc.assert(
      fc.property(garbageArb, cutsArb, fc.constantFrom(undefined, 16, 1_024), (garbage, cuts, maxHeaderBytes) => {
        const decoder = new FrameDecoder({ maxHeaderBytes });
        const chunks = splitAt(garbage, cuts.map((cut) => cut % (garbage.length + 1)));
        // Every event consumes at least one byte, so this many pulls must be enough.
        let pullsLeft = garbage.length + chunks.length + 1;
        try {
          for (const chunk of chunks) {
            decoder.append(chunk);
            while (decoder.next() !== undefined) {
              pullsLeft -= 1;
              if (pullsLeft < 0) throw new Error('decoder keeps producing events without consuming bytes');
            }
          }
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
          expect(() => decoder.next()).toThrow(error as ProtocolError);
          return;
        }
        expect(decoder.bufferedBytes).toBeLessThanOrEqual(garbage.length);
      }),
      settings,
    );
  });
});
