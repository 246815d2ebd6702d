/**
 * Whether a player can start on a video before all of it has arrived, read from the
 * container's layout rather than from ffprobe: the server stores it as a media fact, and
 * the client decides from the bytes it is receiving when to start a player (so both sides
 * share this one reading, and a client needs no ffprobe).
 *
 * - ISO BMFF (MP4, MOV, M4V): the top-level boxes are walked from the start; the index
 *   (`moov`) before the data (`mdat`) is streamable ("faststart"), the data first is not.
 * - Matroska/WebM (EBML magic) and MPEG-TS (sync bytes every 188) are made to be streamed.
 * - Anything else: not known to be streamable, so a player gets the complete file.
 */

/** Up to `length` bytes at `position`; fewer only where the file ends. */
export type ReadAt = (position: number, length: number) => Promise<Uint8Array>;

export type MediaLayout =
  | { container: 'iso-bmff'; streamable: true; /** Bytes a player needs first: the index and a little data. */ playableFrom: number }
  | { container: 'iso-bmff'; streamable: false; reason: string }
  | { container: 'matroska' | 'mpeg-ts'; streamable: true; playableFrom: number }
  | { container: 'other'; streamable: false; reason: string };

/** What a player gets beyond the headers before it starts: enough to begin without stalling at once. */
export const START_BUFFER_BYTES = 256 * 1024;
/** A file with more top-level boxes than this before moov or mdat is not a video we stream. */
const MAX_BOXES = 10_000;
const EBML_MAGIC = [0x1a, 0x45, 0xdf, 0xa3];
const TS_PACKET = 188;

export async function readMediaLayout(readAt: ReadAt, size: number): Promise<MediaLayout> {
  const head = await readAt(0, Math.min(size, TS_PACKET + 1));
  if (EBML_MAGIC.every((byte, i) => head[i] === byte)) {
    return { container: 'matroska', streamable: true, playableFrom: Math.min(size, START_BUFFER_BYTES) };
  }
  if (head.length > TS_PACKET && head[0] === 0x47 && head[TS_PACKET] === 0x47) {
    return { container: 'mpeg-ts', streamable: true, playableFrom: Math.min(size, START_BUFFER_BYTES) };
  }
  if (head.length >= 8 && boxType(head, 4) === 'ftyp') return isoBoxOrder(readAt, size);
  return { container: 'other', streamable: false, reason: 'not a container known to play while arriving' };
}

async function isoBoxOrder(readAt: ReadAt, size: number): Promise<MediaLayout> {
  let position = 0;
  for (let boxes = 0; boxes < MAX_BOXES && position + 8 <= size; boxes++) {
    const header = await readAt(position, 16);
    if (header.length < 8) break;
    const view = new DataView(header.buffer, header.byteOffset, header.byteLength);
    const size32 = view.getUint32(0);
    const type = boxType(header, 4);
    let boxSize: number;
    if (size32 === 1) {
      if (header.length < 16) break;
      boxSize = Number(view.getBigUint64(8)); // a 64-bit "largesize" follows the type
    } else {
      boxSize = size32 === 0 ? size - position : size32; // 0: the box runs to the end of the file
    }
    if (type === 'moov') return { container: 'iso-bmff', streamable: true, playableFrom: Math.min(size, position + boxSize + START_BUFFER_BYTES) };
    if (type === 'mdat') return { container: 'iso-bmff', streamable: false, reason: 'its index (moov) comes after its data (mdat)' };
    if (boxSize < 8) break;
    position += boxSize;
  }
  return { container: 'iso-bmff', streamable: false, reason: 'no index (moov) found before the end' };
}

function boxType(bytes: Uint8Array, at: number): string {
  return String.fromCharCode(bytes[at]!, bytes[at + 1]!, bytes[at + 2]!, bytes[at + 3]!);
}
