/** Backpressure helper shared by both ends of a transfer. */
import type { Writable } from 'node:stream';

/**
 * Waits until `stream` asks for more data ('drain'); rejects if it fails or closes first,
 * so a writer never waits forever on a dead socket or file.
 */
export function drained(stream: Writable, onClose: () => Error = () => new Error('stream closed')): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => done(resolve);
    const onError = (error: Error) => done(() => reject(error));
    const onClosed = () => done(() => reject(onClose()));
    const done = (settle: () => void) => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClosed);
      settle();
    };
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClosed);
  });
}
