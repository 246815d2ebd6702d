/**
 * The baselines, run as a child process exactly like the cinebox server (same process
 * layout, same measurement of RSS):
 *
 *   node baseline-server.mjs pipe --send-port P --send FILE --recv-port Q --recv-dir DIR [--hwm BYTES]
 *     P: every connection gets FILE streamed into it (fs read stream -> socket), then FIN.
 *     Q: every connection is streamed into a new file under DIR (socket -> fs write stream);
 *        the server closes its side once the file is fully written, which ends the client's timer.
 *     No protocol, no hashing: the least a Node program can do to move a file over loopback.
 *     --hwm sets the fs streams' highWaterMark (default: Node's, 64 KiB read / 16 KiB write).
 *     --hash 1 --expect BYTES: Q also hashes what it receives, on the same off-thread SHA-256
 *     sink cinebox uses (dist/transfer/sha256-sink.js), and closes once the file is written
 *     and the hash is done: the "hashed pipe", a diagnostic of what verification alone costs
 *     a simple Node program.
 *
 *   node baseline-server.mjs echo --port P --reply FILE.json
 *     The same framing as cinebox (4-byte LE length + JSON), one reply per request, in order:
 *     parse the request JSON, reply with the canned object in FILE.json (cinebox's own
 *     get_movie_list reply, so both send the same bytes). No database, no validation.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const [mode, ...rest] = process.argv.slice(2);
const opts = {};
for (let i = 0; i < rest.length; i += 2) opts[rest[i].replace(/^--/, '')] = rest[i + 1];

const listen = (server, port) => server.listen(Number(port), '127.0.0.1');

if (mode === 'pipe') {
  const fsOpts = Number(opts.hwm) > 0 ? { highWaterMark: Number(opts.hwm) } : {};
  listen(
    createServer((socket) => {
      socket.on('error', () => socket.destroy());
      createReadStream(opts.send, fsOpts).pipe(socket);
    }),
    opts['send-port'],
  );
  let n = 0;
  listen(
    createServer({ allowHalfOpen: true }, (socket) => {
      const file = createWriteStream(join(opts['recv-dir'], `recv-${process.pid}-${n++}.bin`), fsOpts);
      socket.on('error', () => file.destroy());
      if (opts.hash === '1') return receiveHashed(socket, file, Number(opts.expect));
      file.on('finish', () => socket.end());
      socket.pipe(file);
    }),
    opts['recv-port'],
  );
} else if (mode === 'echo') {
  const reply = JSON.parse(readFileSync(opts.reply, 'utf8'));
  listen(
    createServer((socket) => {
      socket.setNoDelay(true);
      socket.on('error', () => socket.destroy());
      let pending = Buffer.alloc(0);
      socket.on('data', (chunk) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        while (pending.length >= 4) {
          const length = pending.readInt32LE(0);
          if (pending.length < 4 + length) break;
          const request = JSON.parse(pending.toString('utf8', 4, 4 + length));
          pending = pending.subarray(4 + length);
          if (typeof request !== 'object' || request === null) return socket.destroy();
          const json = JSON.stringify(reply);
          const frame = Buffer.allocUnsafe(4 + Buffer.byteLength(json));
          frame.writeInt32LE(frame.length - 4, 0);
          frame.write(json, 4);
          socket.write(frame);
        }
      });
    }),
    opts.port,
  );
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

/** socket -> file and -> SHA-256 sink, pausing the socket while either is full. */
async function receiveHashed(socket, file, expectedBytes) {
  const { createSha256Sink } = await import('../../dist/transfer/sha256-sink.js');
  const hasher = createSha256Sink({ expectedBytes });
  socket.on('data', (chunk) => {
    const fileOk = file.write(chunk);
    const hashOk = hasher.write(chunk);
    if (fileOk && hashOk) return;
    socket.pause();
    Promise.all([fileOk || once(file, 'drain'), hashOk || hasher.drained()]).then(() => socket.resume(), () => socket.destroy());
  });
  socket.on('end', async () => {
    file.end();
    await Promise.all([once(file, 'finish'), hasher.finish()]);
    socket.end();
  });
}

process.on('SIGTERM', () => process.exit(0));
