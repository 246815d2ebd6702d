/** A raw socket for tests that send bytes no well-behaved client would. */
import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder } from '../../src/protocol/index.js';

export interface RawResult {
  /** Reply headers received before the server closed (or the wait ended). */
  frames: Record<string, unknown>[];
  closed: boolean;
}

export function frame(header: object): Buffer {
  return encodeFrame(header);
}

/** A length prefix followed by arbitrary bytes. */
export function prefixed(length: number, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const prefix = Buffer.alloc(4);
  prefix.writeInt32LE(length);
  return Buffer.concat([prefix, Buffer.from(payload)]);
}

/**
 * Sends `bytes`, then collects reply frames until the server closes the socket or
 * `expectFrames` frames arrived (then it closes itself); times out after `waitMs`.
 */
export function rawExchange(port: number, bytes: Buffer, expectFrames = Infinity, waitMs = 5000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder({ maxHeaderBytes: 1 << 24 });
    const frames: Record<string, unknown>[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ frames, closed: false });
    }, waitMs);
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (chunk) => {
      decoder.append(chunk);
      for (let event = decoder.next(); event; event = decoder.next()) {
        if (event.kind === 'header') frames.push(event.header);
      }
      if (frames.length >= expectFrames) {
        clearTimeout(timer);
        socket.destroy();
        resolve({ frames, closed: false });
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ frames, closed: true });
    });
    socket.on('timeout', () => reject(new Error('timeout')));
  });
}
