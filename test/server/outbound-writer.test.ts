/**
 * The server connection's one writer: a frame sent while a reply's body is going out (a
 * pushed event, say) is written after the body, never inside it. Real sockets, real bytes.
 */
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, type DecodedEvent } from '../../src/protocol/index.js';
import { OutboundWriter } from '../../src/server/outbound-writer.js';

interface Pair {
  server: Server;
  /** The server's end, which the writer writes to. */
  near: Socket;
  /** The client's end: everything it received, and whether it was closed. */
  far: Socket;
  received: Buffer[];
  closing: AbortController;
}

let pair: Pair | undefined;
afterEach(async () => {
  pair?.far.destroy();
  pair?.near.destroy();
  pair?.server.close();
  pair = undefined;
});

async function socketPair(): Promise<Pair> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const far = connect({ host: '127.0.0.1', port });
  const [near] = await accepted;
  const received: Buffer[] = [];
  far.on('data', (chunk: Buffer) => received.push(chunk));
  const closing = new AbortController();
  near.on('close', () => closing.abort());
  return (pair = { server, near, far, received, closing });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** What the client has received, decoded: headers, and each body joined into one string. */
function decoded(received: Buffer[]): (Record<string, unknown> | string)[] {
  const decoder = new FrameDecoder();
  decoder.append(Buffer.concat(received));
  const out: (Record<string, unknown> | string)[] = [];
  let body = '';
  for (let event: DecodedEvent | undefined = decoder.next(); event; event = decoder.next()) {
    if (event.kind === 'header') out.push(event.header);
    else {
      body += event.chunk.toString('latin1');
      if (event.remaining === 0) out.push(body), (body = '');
    }
  }
  if (body) out.push(body);
  return out;
}

async function receivedBytes(p: Pair, bytes: number): Promise<void> {
  while (p.received.reduce((n, b) => n + b.length, 0) < bytes) await once(p.far, 'data');
}

describe('outbound writer', () => {
  it('writes a frame queued during a body (and during the wait before it) after the body', async () => {
    const p = await socketPair();
    const writer = new OutboundWriter(p.near, p.closing.signal);
    const waitOver = deferred();
    const halfSent = deferred();
    const secondHalf = deferred();
    const download = writer.sendWithBody({ flag: true, file_size: 6 }, async (body) => {
      await waitOver.promise; // the non-VIP wait between the header and the bytes
      await body.write(Buffer.from('abc'));
      halfSent.resolve();
      await secondHalf.promise;
      await body.write(Buffer.from('def'));
    });
    const duringWait = writer.send({ type: 'event', n: 1 });
    waitOver.resolve();
    await halfSent.promise;
    const duringBody = writer.send({ type: 'event', n: 2 });
    let pushedEarly = false;
    void duringBody.then(() => (pushedEarly = true));
    await new Promise((resolve) => setImmediate(resolve)); // let the loop run: nothing may have been pushed yet
    expect(pushedEarly).toBe(false);
    secondHalf.resolve();
    await Promise.all([download, duringWait, duringBody]);
    const expected = [{ flag: true, file_size: 6 }, 'abcdef', { type: 'event', n: 1 }, { type: 'event', n: 2 }];
    const total = Buffer.concat(expected.map((e) => (typeof e === 'string' ? Buffer.from(e) : encodeFrame(e)))).length;
    await receivedBytes(p, total);
    expect(decoded(p.received)).toEqual(expected);
  });

  it('sends frames in the order given', async () => {
    const p = await socketPair();
    const writer = new OutboundWriter(p.near, p.closing.signal);
    const frames = Array.from({ length: 50 }, (_, n) => ({ flag: true, n }));
    await Promise.all(frames.map((frame) => writer.send(frame)));
    await receivedBytes(p, frames.reduce((sum, f) => sum + encodeFrame(f).length, 0));
    expect(decoded(p.received)).toEqual(frames);
  });

  it('cuts the connection instead of writing a last frame into the middle of a body', async () => {
    const p = await socketPair();
    const writer = new OutboundWriter(p.near, p.closing.signal);
    const halfSent = deferred();
    const download = writer.sendWithBody({ flag: true, file_size: 6 }, async (body) => {
      await body.write(Buffer.from('abc'));
      halfSent.resolve();
      await new Promise(() => undefined); // the rest never comes
    });
    void download.catch(() => undefined);
    await halfSent.promise;
    const farClosed = once(p.far, 'close');
    writer.end({ flag: false, code: 'TIMEOUT', msg: 'idle for too long, closing' });
    await farClosed;
    expect(decoded(p.received)).toEqual([{ flag: true, file_size: 6 }, 'abc']);
  });
});
