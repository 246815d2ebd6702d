/**
 * Checks the media store against the database, and repairs what can be repaired safely:
 * `cinebox fsck`, the quick pass at server start, and the scheduled scrub all run this.
 *
 * It may run while servers serve (on any node): files are listed first, then upload rows,
 * then movie rows. A publish renames its file only after its upload row exists and deletes
 * that row in the transaction that inserts the movie row, so a file seen in the listing is
 * named by one of the two reads. An upload whose holder is live is in flight and skipped.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { Movie, Upload } from '../../orm/models/index.js';
import { createSha256Sink } from '../../transfer/sha256-sink.js';
import type { App } from '../context.js';
import { recordEvent } from '../events/event-store.js';
import { allBeats, isHeld } from '../nodes/heartbeat.js';

/** What the check needs of a node (`cinebox fsck` has no prober, the check never probes). */
type StoreApp = Omit<App, 'facts' | 'node' | 'metrics'>;

export type ProblemKind =
  /** A live video's file is not in the store. */
  | 'missing-file'
  /** A live video's file has another size than its row. */
  | 'wrong-size'
  /** A live video's file has another SHA-256 than its row (--full). */
  | 'corrupt'
  /** A file in the store that no row names. */
  | 'orphan-file'
  /** A file in the store that an upload row names: a publish a crash cut between rename and commit. */
  | 'unpublished'
  /** A partial under .incoming that no upload row names. */
  | 'orphan-partial'
  /** An upload row that claims bytes while its partial is gone. */
  | 'partial-missing'
  /** An upload row that claims more bytes than its partial holds. */
  | 'row-ahead';

/** Which problems a run repairs: none, those a crash leaves (at start), or every one it safely can. */
export type RepairLevel = 'none' | 'crash' | 'all';
const CRASH_REPAIRS = new Set<ProblemKind>(['unpublished', 'orphan-partial', 'partial-missing', 'row-ahead']);

export interface Problem {
  kind: ProblemKind;
  /** What is wrong, in a line. */
  detail: string;
  movieId?: number;
  uploadId?: number;
  file?: string;
  /** What the repair did; unset while the problem remains. */
  repaired?: string;
}

export interface FsckOptions {
  /** Also hash every live video and compare with its row's SHA-256. */
  full?: boolean;
  /** The hashing's read rate limit in bytes per second; 0 = as fast as the disk goes. */
  bytesPerSecond?: number;
  repair?: RepairLevel;
}

export interface FsckReport {
  problems: Problem[];
  /** Problems not repaired. */
  remaining: number;
  /** Set when repairs were asked for but refused (the database names none of the files). */
  refused?: string;
  /** Files in the store an upload being published (a live holder) names: left alone, look again after the lease. */
  inFlight: number;
  videosChecked: number;
  bytesHashed: number;
  seconds: number;
}

export async function checkStore(app: StoreApp, options: FsckOptions = {}): Promise<FsckReport> {
  const started = performance.now();
  const level = options.repair ?? 'none';
  const problems: Problem[] = [];
  const repairs: { problem: Problem; fix: () => Promise<string | undefined> }[] = [];
  const note = (problem: Problem, fix: () => Promise<string | undefined>) => {
    problems.push(problem);
    if (level === 'all' || (level === 'crash' && CRASH_REPAIRS.has(problem.kind))) repairs.push({ problem, fix });
  };

  // The order of these three reads is what makes a concurrent publish safe (header comment).
  const stored = await app.media.listStored();
  const incoming = (await app.media.listIncoming()).filter((file) => !file.legacy);
  const uploads = await Upload.select(app.db);
  const movies = await Movie.select(app.db);
  const beats = await allBeats(app.db);

  const now = Date.now();
  // Held: refreshed within the lease by a holder whose node still beats (a dead node's is free at once).
  const live = (row: Upload) => isHeld(row, app.config.uploadLeaseSeconds * 1000, (node) => beats.get(node), now);
  const uploadByTemp = new Map(uploads.map((row) => [row.temp_name, row]));
  const named = new Set(movies.map((movie) => movie.path));
  const movedBack = new Set<string>();
  let inFlight = 0;

  for (const file of stored) {
    if (named.has(file.name)) continue;
    const row = uploadByTemp.get(app.media.tempNameForStored(file.name));
    if (row && live(row)) {
      inFlight++; // being published right now, or its node died less than a lease ago
      continue;
    }
    if (row) {
      movedBack.add(row.temp_name);
      note({ kind: 'unpublished', detail: `${file.name} has no movie row; upload #${row.id} names it (a publish cut by a crash)`, uploadId: row.id, file: file.name }, () =>
        moveBack(app, row, file.name, file.size),
      );
    } else {
      note({ kind: 'orphan-file', detail: `${file.name} (${file.size} bytes) has no movie or upload row`, file: file.name }, async () => {
        return `moved to ${await app.media.quarantine(app.media.pathOf(file.name))}`;
      });
    }
  }

  const sizes = new Map(stored.map((file) => [file.name, file.size]));
  const throttle = new Throttle(options.bytesPerSecond ?? 0);
  let videosChecked = 0;
  for (const movie of movies) {
    if (movie.is_delete !== 0) continue;
    videosChecked++;
    const path = app.media.pathOf(movie.path);
    // Published after the listing: look again before calling it missing.
    const size = sizes.get(movie.path) ?? (await sizeOrUndefined(path));
    const ids = { movieId: movie.id, file: movie.path };
    if (size === undefined) {
      note({ kind: 'missing-file', detail: `video #${movie.id} "${movie.name}": ${movie.path} is missing`, ...ids }, () => hide(app, movie, undefined));
    } else if (size !== movie.size) {
      note({ kind: 'wrong-size', detail: `video #${movie.id} "${movie.name}": ${movie.path} has ${size} bytes, its row ${movie.size}`, ...ids }, () => hide(app, movie, path));
    } else if (options.full) {
      const sha256 = await hashAtRate(path, size, throttle).catch(() => undefined);
      if (sha256 !== undefined && sha256 !== movie.sha256) {
        note({ kind: 'corrupt', detail: `video #${movie.id} "${movie.name}": ${movie.path} has SHA-256 ${sha256}, its row ${movie.sha256}`, ...ids }, () => hide(app, movie, path));
      }
    }
  }

  const partialSize = new Map(incoming.map((file) => [file.name, file.size]));
  for (const row of uploads) {
    if (live(row) || movedBack.has(row.temp_name)) continue;
    const held = partialSize.get(row.temp_name);
    if (held === undefined && row.received_bytes > 0) {
      note({ kind: 'partial-missing', detail: `upload #${row.id} claims ${row.received_bytes} bytes, its partial ${row.temp_name} is gone`, uploadId: row.id }, async () => {
        const dropped = await Upload.deleteWhere(app.db, { id: row.id, holder: row.holder, updated_time: row.updated_time });
        return dropped ? 'upload row dropped (a resume starts from 0)' : undefined;
      });
    } else if (held !== undefined && row.received_bytes > held) {
      note({ kind: 'row-ahead', detail: `upload #${row.id} claims ${row.received_bytes} bytes, its partial holds ${held}`, uploadId: row.id }, async () => {
        const fixed = await Upload.updateWhere(app.db, { received_bytes: held }, { id: row.id, holder: row.holder, updated_time: row.updated_time });
        return fixed ? `received_bytes set to ${held}` : undefined;
      });
    }
  }
  for (const file of incoming) {
    if (uploadByTemp.has(file.name)) continue;
    note({ kind: 'orphan-partial', detail: `.incoming/${file.name} (${file.size} bytes) has no upload row`, file: `.incoming/${file.name}` }, async () => {
      // The upload it belonged to is over (its row is deleted first): nothing was acknowledged from it.
      await app.media.discard(app.media.incomingPathOf(file.name));
      return 'deleted';
    });
  }

  // A database that names none of the files (a wrong --db, a new one) must not lead to repairs.
  const refused =
    repairs.length > 0 && movies.length === 0 && uploads.length === 0 && stored.length + incoming.length > 0
      ? `the database names none of the ${stored.length + incoming.length} files in ${app.media.root}: is it the right database? Nothing repaired`
      : undefined;
  if (refused) {
    app.log.error(refused);
    repairs.length = 0;
  }
  for (const { problem, fix } of repairs) {
    try {
      problem.repaired = await fix();
    } catch (error) {
      app.log.error({ err: (error as Error).message, problem: problem.kind, detail: problem.detail }, 'fsck: repair failed');
    }
  }
  for (const problem of problems) {
    const fields = { problem: problem.kind, detail: problem.detail, movie: problem.movieId, upload: problem.uploadId, repaired: problem.repaired };
    if (problem.repaired) app.log.warn(fields, 'fsck: repaired');
    else app.log.error(fields, 'fsck: problem');
  }
  return {
    problems,
    remaining: problems.filter((problem) => !problem.repaired).length,
    inFlight,
    refused,
    videosChecked,
    bytesHashed: throttle.bytes,
    seconds: (performance.now() - started) / 1000,
  };
}

/**
 * Puts a cut publish's file back as its upload's partial, holding the row meanwhile (so no
 * resume starts on it and a publish still running elsewhere cannot commit), then frees it.
 */
async function moveBack(app: StoreApp, row: Upload, storedName: string, size: number): Promise<string | undefined> {
  const holder = randomUUID();
  // No node on the row: `cinebox fsck` beats nowhere, so the lease alone keeps a resume off it meanwhile.
  const taken = await Upload.updateWhere(app.db, { holder, holder_node: null, holder_run: null, updated_time: new Date() }, { id: row.id, holder: row.holder, updated_time: row.updated_time });
  if (taken === 0) return undefined; // someone resumed it meanwhile: theirs now
  try {
    await app.media.moveBackToIncoming(storedName, row.temp_name);
  } finally {
    await Upload.updateWhere(app.db, { holder: null, received_bytes: size, updated_time: new Date() }, { id: row.id, holder });
  }
  return `moved back to .incoming/${row.temp_name}: upload #${row.id} resumes with all ${size} bytes`;
}

/** Hides a video whose file is bad (as a delete does) and quarantines the file, if any. */
async function hide(app: StoreApp, movie: Movie, path: string | undefined): Promise<string> {
  // Gone from the lists as by a delete, so announced as one (video_removed), in the same transaction.
  const event = await app.db.transaction(async (tx) => {
    const changed = await Movie.updateWhere(tx, { is_delete: 1, live_sha256: null }, { id: movie.id, is_delete: 0 });
    if (changed === 0) return undefined;
    return recordEvent(tx, 'video_removed', { movie_id: movie.id, name: movie.name, is_free: movie.is_free, size: movie.size });
  });
  if (event) app.events.announce(event);
  app.catalog.invalidate();
  if (path === undefined) return `video #${movie.id} hidden`;
  return `video #${movie.id} hidden, file moved to ${await app.media.quarantine(path)}`;
}

async function sizeOrUndefined(path: string): Promise<number | undefined> {
  return stat(path).then(
    (info) => info.size,
    () => undefined,
  );
}

/** Spreads reads over time so that on average at most `bytesPerSecond` are read (0 = no limit). */
class Throttle {
  bytes = 0;
  private readonly started = performance.now();

  constructor(private readonly bytesPerSecond: number) {}

  async took(bytes: number): Promise<void> {
    this.bytes += bytes;
    if (this.bytesPerSecond <= 0) return;
    const aheadMs = (this.bytes / this.bytesPerSecond) * 1000 - (performance.now() - this.started);
    if (aheadMs > 0) await new Promise((resolve) => setTimeout(resolve, aheadMs));
  }
}

/** The SHA-256 of a file, read in 1 MiB pieces at the throttle's pace, hashed off the thread when large. */
async function hashAtRate(path: string, size: number, throttle: Throttle): Promise<string> {
  const hasher = createSha256Sink({ expectedBytes: size });
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
      if (!hasher.write(chunk as Buffer)) await hasher.drained();
      await throttle.took((chunk as Buffer).length);
    }
    return await hasher.finish();
  } finally {
    await hasher.close();
  }
}
