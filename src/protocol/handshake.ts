/**
 * The optional client handshake (from the original lessons): before any frame, the server
 * sends NONCE_BYTES random bytes and serves only a client that answers with
 * HMAC-SHA256(secret, nonce). It keeps clients that do not know the shared secret out
 * before they can send a single request. Off unless the operator sets a client secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Socket } from 'node:net';

export const NONCE_BYTES = 32;
export const PROOF_BYTES = 32;

export function handshakeProof(secret: string, nonce: Buffer): Buffer {
  return createHmac('sha256', secret).update(nonce).digest();
}

export function proofMatches(secret: string, nonce: Buffer, proof: Buffer): boolean {
  const expected = handshakeProof(secret, nonce);
  return proof.length === expected.length && timingSafeEqual(proof, expected);
}

/**
 * Reads exactly `n` raw bytes before any framing starts. Returns them and whatever came
 * after them in the same chunks (the first frames), and leaves the socket paused so the
 * caller can hand it to the frame reader without losing a byte.
 */
export function readExactly(socket: Socket, n: number, timeoutMs: number): Promise<{ bytes: Buffer; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => done(new Error(`no handshake within ${timeoutMs} ms`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= n) done();
    };
    const onEnd = () => done(new Error('connection closed during the handshake'));
    const done = (error?: Error) => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onEnd);
      socket.off('end', onEnd);
      if (error) return reject(error);
      const all = Buffer.concat(chunks);
      resolve({ bytes: all.subarray(0, n), rest: all.subarray(n) });
    };
    socket.on('data', onData);
    socket.once('close', onEnd);
    socket.once('end', onEnd);
    socket.resume();
  });
}
