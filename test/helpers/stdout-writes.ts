/** Runs an in-process CLI command and returns each write it made to stdout, in order. */
import { vi } from 'vitest';

export async function stdoutWrites(run: () => Promise<unknown>): Promise<string[]> {
  const out: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  });
  try {
    await run();
  } finally {
    write.mockRestore();
  }
  return out;
}
