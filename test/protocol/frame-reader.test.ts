/** The shared pull loop: append, pause at the high-water mark, wake the reader, end at close. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameReader } from '../../src/protocol/index.js';

describe('frame reader', () => {
  it('pauses its source at the high-water mark and resumes it when the reader asks for more', async () => {
    const source = new PassThrough();
    const reader = new FrameReader(source, { maxHeaderBytes: 1024, highWaterMark: 100 });
    source.resume(); // flowing, like a socket with a 'data' listener
    const waiting = reader.more();
    source.write(encodeFrame({ type: 'x', pad: 'a'.repeat(200) }));
    await waiting;
    expect(source.isPaused()).toBe(true);
    expect(reader.next()).toMatchObject({ kind: 'header', header: { type: 'x' } });
    expect(reader.next()).toBeUndefined();
    const next = reader.more();
    expect(source.isPaused()).toBe(false);
    source.write(encodeFrame({ type: 'y' }));
    await next;
    expect(reader.next()).toMatchObject({ kind: 'header', header: { type: 'y' } });
  });

  it('wakes a waiting reader at close, and reports the end', async () => {
    const source = new PassThrough();
    const reader = new FrameReader(source, { maxHeaderBytes: 1024, highWaterMark: 100 });
    const waiting = reader.more();
    source.destroy();
    await waiting;
    expect(reader.ended).toBe(true);
    await reader.more(); // resolves at once: nothing more will come
  });

  it('interrupt() wakes a waiting reader without bytes', async () => {
    const source = new PassThrough();
    const reader = new FrameReader(source, { maxHeaderBytes: 1024, highWaterMark: 100 });
    const waiting = reader.more();
    reader.interrupt();
    await waiting;
    expect(reader.ended).toBe(false);
    expect(reader.next()).toBeUndefined();
  });
});
