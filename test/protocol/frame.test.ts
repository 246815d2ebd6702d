import { describe, it, expect } from 'vitest';
import { FrameDecoder, LENGTH_PREFIX_BYTES, ProtocolError, bodySizeOf, encodeFrame, hasTrailer } from '../../src/protocol/index.js';

describe('encodeFrame', () => {
  it('writes a 4-byte little-endian length, then the JSON', () => {
    const frame = encodeFrame({});
    expect(LENGTH_PREFIX_BYTES).toBe(4);
    expect(frame.toString('hex')).toBe('02000000' + Buffer.from('{}').toString('hex'));
  });

  it("matches Python's struct.pack('i', 300): 2c 01 00 00", () => {
    const header = { a: 'x'.repeat(300 - '{"a":""}'.length) };
    const frame = encodeFrame(header);
    expect(frame.length).toBe(4 + 300);
    expect([...frame.subarray(0, 4)]).toEqual([0x2c, 0x01, 0x00, 0x00]);
    expect(frame.readInt32LE(0)).toBe(300);
    expect(frame.subarray(4).toString('utf8')).toBe(JSON.stringify(header));
  });

  it('counts UTF-8 bytes, not characters: "免费" is 6 bytes', () => {
    const frame = encodeFrame({ label: '免费' });
    const json = '{"label":"免费"}';
    expect(Buffer.byteLength('免费')).toBe(6);
    expect(frame.readInt32LE(0)).toBe(json.length - 2 + 6);
    expect(frame.subarray(4).toString('utf8')).toBe(json);
    expect(frame.subarray(4).equals(Buffer.from(json, 'utf8'))).toBe(true);
  });

  it('round-trips through the decoder', () => {
    const headers = [
      { type: 'login', name: '张三', password: 'e10adc3949ba59abbe56e057f20f883e', user_type: 'user' },
      { flag: true, movie_list: [['片.mp4', '免费', 1], ['b.mkv', '收费', 2]] },
      { flag: false, msg: '没有公告' },
    ];
    const decoder = new FrameDecoder();
    decoder.append(Buffer.concat(headers.map(encodeFrame)));
    for (const header of headers) expect(decoder.next()).toEqual({ kind: 'header', header, bodySize: 0 });
    expect(decoder.next()).toBeUndefined();
  });
});

describe('bodySizeOf', () => {
  it('is 0 without file_size and the count with one', () => {
    expect(bodySizeOf({ type: 'login' })).toBe(0);
    expect(bodySizeOf({ file_size: undefined })).toBe(0);
    expect(bodySizeOf({ file_size: 0 })).toBe(0);
    expect(Object.is(bodySizeOf({ file_size: -0 }), 0)).toBe(true);
    expect(bodySizeOf({ file_size: 1_048_576 })).toBe(1_048_576);
    expect(bodySizeOf({ file_size: Number.MAX_SAFE_INTEGER })).toBe(Number.MAX_SAFE_INTEGER);
  });

  it.each([-1, 1.5, '10', 2 ** 53, Number.NaN, Number.POSITIVE_INFINITY, null, true, [3], { n: 3 }])(
    'rejects file_size %j as BAD_FILE_SIZE',
    (fileSize) => {
      let caught: unknown;
      try {
        bodySizeOf({ file_size: fileSize });
      } catch (error) {
        caught = error;
      }
      expect(caught).toBeInstanceOf(ProtocolError);
      expect((caught as ProtocolError).code).toBe('BAD_FILE_SIZE');
      expect((caught as ProtocolError).message).toMatch(/^file_size .+ is not a byte count$/);
    },
  );
});

describe('hasTrailer', () => {
  it('is true only for an update_movie with bytes and sha256_trailer: true', () => {
    const upload = { type: 'update_movie', file_size: 10, sha256_trailer: true };
    expect(hasTrailer(upload)).toBe(true);
    expect(hasTrailer({ ...upload, file_size: 0 })).toBe(true); // an empty file still ends with its sha256
    expect(hasTrailer({ ...upload, sha256_trailer: 'true' })).toBe(false);
    expect(hasTrailer({ ...upload, sha256_trailer: undefined })).toBe(false);
    expect(hasTrailer({ type: 'update_movie', sha256_trailer: true })).toBe(false);
    expect(hasTrailer({ ...upload, type: 'check_movie' })).toBe(false);
    expect(hasTrailer({ ...upload, type: 'download_movie' })).toBe(false);
  });
});
