/** Video IDs as typed on the command line: whole numbers from 1, said back as typed when they are not. */
import { UsageError } from './exit-codes.js';

export function parseVideoId(typed: unknown): number {
  const text = String(typed).trim();
  const id = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(id) || id <= 0) throw new UsageError(`not a video ID: ${String(typed)} (IDs are whole numbers from 1, see \`list\`)`);
  return id;
}
