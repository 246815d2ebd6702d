/**
 * Uploads and downloads as a person sees them: progress for hashing and for the bytes, a
 * countdown for the non-VIP wait, and Ctrl-C that cancels the transfer (the connection is
 * closed, the partial download deleted) instead of killing the process mid-write.
 */
import { basename } from 'node:path';
import type { CineboxClient, UploadResult } from '../cinebox-client.js';
import type { Countdown, ProgressView, Tracker } from './progress.js';
import type { DownloadOptions, DownloadResult } from '../download.js';
import { formatBytesOf } from './units.js';

/** The person pressed Ctrl-C during a transfer; the connection is closed. */
export class Interrupted extends Error {
  constructor(message = 'cancelled') {
    super(message);
    this.name = 'Interrupted';
  }
}

const WAIT_MESSAGE = 'non-VIP wait before a free download (VIP viewers skip it)';

/** Runs `task`; a SIGINT meanwhile closes the connection and turns its failure into Interrupted. */
async function cancelOnCtrlC<T>(client: CineboxClient, task: () => Promise<T>): Promise<T> {
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
    client.close();
  };
  process.on('SIGINT', onSigint);
  try {
    return await task();
  } catch (error) {
    if (interrupted) throw new Interrupted();
    throw error;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export async function uploadWatched(
  client: CineboxClient,
  path: string,
  options: { isFree: boolean; name?: string },
  view: ProgressView,
): Promise<UploadResult> {
  const label = options.name ?? basename(path);
  // Shown only when the file is hashed before it is sent (a stored video shares its quick
  // fingerprint); otherwise it is hashed while it is sent, under the upload's own progress.
  let hashing: Tracker | undefined;
  const sending = view.transfer(`upload ${label}`);
  try {
    const result = await cancelOnCtrlC(client, () =>
      client.upload(path, {
        ...options,
        onHashProgress: (done, total) => (hashing ??= view.transfer(`hash ${label}`)).onProgress(done, total),
        onResume: (offset, total) => view.note(`resuming ${label}: the server already has ${formatBytesOf(offset, total)}`),
        onProgress: (done, total) => {
          hashing?.finish();
          sending.onProgress(done, total);
        },
      }),
    );
    hashing?.finish();
    sending.finish();
    return result;
  } catch (error) {
    hashing?.abort();
    sending.abort();
    throw error;
  }
}

export async function downloadWatched(
  client: CineboxClient,
  movie: { id: number; name?: string; is_free: 0 | 1 },
  outDir: string,
  view: ProgressView,
  /** More hooks into the download (play.ts follows the `.part`). */
  extra: Pick<DownloadOptions, 'onTarget'> = {},
): Promise<DownloadResult> {
  const tracker = view.transfer(`download ${movie.name ?? `#${movie.id}`}`);
  let countdown: Countdown | undefined;
  try {
    const result = await cancelOnCtrlC(client, () =>
      client.download(movie.id, movie.is_free ? 'free' : 'charge', {
        ...extra,
        outDir,
        onWait: (seconds) => (countdown = view.countdown(seconds, WAIT_MESSAGE)),
        onResume: (offset, total) => view.note(`resuming ${movie.name ?? `#${movie.id}`}: ${formatBytesOf(offset, total)} already here`),
        onProgress: (done, total) => {
          countdown?.stop();
          tracker.onProgress(done, total);
        },
      }),
    );
    countdown?.stop();
    tracker.finish();
    return result;
  } catch (error) {
    countdown?.stop();
    tracker.abort();
    throw error;
  }
}
