/**
 * The shared-memory batches a transfer's bytes are copied into, so the file write and a
 * hashing worker read the same memory without a copy or a transfer per batch.
 */

export const BATCH_BYTES = 1024 * 1024;
/** Slots kept for reuse after a burst of transfers (64 MiB). */
const MAX_SPARE_SLOTS = 64;

/** A batch: a slot of shared memory (so a worker can read it without a copy) and its number. */
export interface Slot {
  readonly index: number;
  readonly memory: SharedArrayBuffer;
  readonly bytes: Uint8Array;
}

const spareSlots: Slot[] = [];
let slotsMade = 0;
const droppedListeners = new Set<(index: number) => void>();

export function takeSlot(): Slot {
  const spare = spareSlots.pop();
  if (spare) return spare;
  const memory = new SharedArrayBuffer(BATCH_BYTES);
  return { index: slotsMade++, memory, bytes: new Uint8Array(memory) };
}

/** Keeps a free slot for reuse, or drops it (the listeners, the hashing pools, let go of their views). */
export function releaseSlot(slot: Slot): void {
  if (spareSlots.length < MAX_SPARE_SLOTS) spareSlots.push(slot);
  else for (const listener of droppedListeners) listener(slot.index);
}

/** Calls `listener` with the number of each slot dropped from now on; returns the way to stop. */
export function onSlotDropped(listener: (index: number) => void): () => void {
  droppedListeners.add(listener);
  return () => droppedListeners.delete(listener);
}
