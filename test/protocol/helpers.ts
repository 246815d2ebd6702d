/**
 * Test notation for byte streams (mysql2 style): `|` marks a chunk boundary, `$hh` is one
 * raw byte in hex, `<...>` is a frame (its 4-byte length prefix is computed from the bytes
 * between the brackets), and any other text is UTF-8.
 */
import { expect } from 'vitest';
import { FrameDecoder, type FrameDecoderOptions } from '../../src/protocol/index.js';

interface Parsed {
  bytes: number[];
  cuts: number[];
}

function parseInto(spec: string, out: Parsed): void {
  let i = 0;
  while (i < spec.length) {
    const char = spec[i];
    if (char === '|') {
      out.cuts.push(out.bytes.length);
      i += 1;
    } else if (char === '$') {
      const hex = spec.slice(i + 1, i + 3);
      if (!/^[0-9a-f]{2}$/i.test(hex)) throw new Error(`bad $ escape at ${i} in ${spec}`);
      out.bytes.push(Number.parseInt(hex, 16));
      i += 3;
    } else if (char === '<') {
      const close = spec.indexOf('>', i);
      if (close < 0) throw new Error(`unclosed < at ${i} in ${spec}`);
      const inner: Parsed = { bytes: [], cuts: [] };
      parseInto(spec.slice(i + 1, close), inner);
      const prefix = Buffer.alloc(4);
      prefix.writeInt32LE(inner.bytes.length);
      out.bytes.push(...prefix);
      const base = out.bytes.length;
      out.cuts.push(...inner.cuts.map((cut) => base + cut));
      out.bytes.push(...inner.bytes);
      i = close + 1;
    } else {
      let j = i;
      while (j < spec.length && !'|$<>'.includes(spec[j])) j += 1;
      out.bytes.push(...Buffer.from(spec.slice(i, j), 'utf8'));
      i = j;
    }
  }
}

/** The chunks a spec describes (empty chunks included: appending nothing must be harmless). */
export function chunksOf(spec: string): Buffer[] {
  const parsed: Parsed = { bytes: [], cuts: [] };
  parseInto(spec, parsed);
  const all = Buffer.from(parsed.bytes);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of parsed.cuts) {
    chunks.push(all.subarray(start, cut));
    start = cut;
  }
  chunks.push(all.subarray(start));
  return chunks;
}

/** The bytes a spec describes, ignoring chunk boundaries. */
export function bytesOf(spec: string): Buffer {
  return Buffer.concat(chunksOf(spec));
}

export function splitAt(bytes: Buffer, cuts: number[]): Buffer[] {
  const sorted = [...new Set(cuts)].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const cut of sorted) {
    chunks.push(bytes.subarray(start, cut));
    start = cut;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

export interface DecodedFrame {
  header: Record<string, unknown>;
  body: Buffer;
}

/**
 * Feeds every chunk, pulling events until the decoder needs more, and checks the event
 * stream's own invariants on the way (body chunks never overrun, `remaining` counts down).
 * `pull: 'at-end'` appends every chunk before the first pull, so they queue up unread.
 */
export function decodeAll(chunks: Buffer[], options?: FrameDecoderOptions, pull: 'after-each' | 'at-end' = 'after-each'): DecodedFrame[] {
  const decoder = new FrameDecoder(options);
  const frames: { header: Record<string, unknown>; parts: Buffer[] }[] = [];
  let remaining = 0;
  if (pull === 'at-end') for (const chunk of chunks) decoder.append(chunk);
  for (const chunk of pull === 'at-end' ? [Buffer.alloc(0)] : chunks) {
    decoder.append(chunk);
    for (let event = decoder.next(); event !== undefined; event = decoder.next()) {
      if (event.kind === 'header') {
        expect(remaining, 'a header arrived in the middle of a body').toBe(0);
        frames.push({ header: event.header, parts: [] });
        remaining = event.bodySize;
      } else {
        expect(event.chunk.length).toBeGreaterThan(0);
        expect(event.chunk.length).toBeLessThanOrEqual(remaining);
        expect(event.remaining).toBe(remaining - event.chunk.length);
        remaining = event.remaining;
        // Copy now: a zero-copy view is allowed to alias a caller's chunk.
        frames.at(-1)!.parts.push(Buffer.from(event.chunk));
      }
      expect(decoder.inBody).toBe(remaining > 0);
    }
  }
  expect(decoder.bufferedBytes).toBe(0);
  expect(decoder.inBody).toBe(false);
  return frames.map(({ header, parts }) => ({ header, body: Buffer.concat(parts) }));
}
