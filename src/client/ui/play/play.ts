/**
 * Play while downloading: the download runs exactly as `download` (verified, resumable, a
 * paid video charged once, the non-VIP wait), and a follower reads its `.part` from the
 * first byte. When the layout says the video plays while arriving (media-layout.ts) the
 * player starts once the index and a little data are there, fed through its standard input
 * at its own pace (the download never waits for the player); otherwise it starts on the
 * finished, verified file. Either way the file is kept under its final name.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import type { Writable } from 'node:stream';
import { readMediaLayout } from '../../../protocol/media-layout.js';
import type { CineboxClient } from '../../cinebox-client.js';
import type { ProgressView } from '../progress.js';
import type { DownloadResult } from '../../download.js';
import { downloadWatched } from '../watched-transfers.js';
import { FollowStopped, GrowingFile } from './growing-file.js';
import { startPlayer, type Player } from './player.js';

export interface PlayResult {
  download: DownloadResult;
  /** True when the player started before the download was complete. */
  whileArriving: boolean;
  /** Why it could not start earlier, when it did not. */
  reason?: string;
  /** The player's exit code (null: killed by a signal). */
  playerExit: number | null;
}

export interface PlayHooks {
  /** Told once the player starts: on the stream, or on the complete file (with the reason). */
  onPlayerStart?: (whileArriving: boolean, reason?: string) => void;
}

const PIPE_READ_BYTES = 256 * 1024;

export async function playWhileDownloading(
  client: CineboxClient,
  movie: { id: number; name?: string; is_free: 0 | 1 },
  outDir: string,
  player: Player,
  view: ProgressView,
  hooks: PlayHooks = {},
): Promise<PlayResult> {
  let follower: Promise<Followed> | undefined;
  let growing: GrowingFile | undefined;
  const downloading = downloadWatched(client, movie, outDir, view, {
    onTarget: (partPath: string, total: number) => {
      // A restarted attempt (the partial did not match) writes a new .part; the first follower stays.
      follower ??= follow(partPath, total, player, hooks, (file) => (growing = file));
    },
  });
  let download: DownloadResult;
  try {
    download = await downloading;
  } catch (error) {
    growing?.stop(); // a streaming player gets what arrived and its input ends
    const followed = await follower?.catch(() => undefined);
    if (followed?.kind === 'streaming') await followed.exit.catch(() => undefined);
    throw error;
  }
  const followed: Followed = follower ? await follower : { kind: 'later', reason: 'no bytes arrived to follow' };
  if (followed.kind === 'streaming') return { download, whileArriving: true, playerExit: await followed.exit };
  hooks.onPlayerStart?.(false, followed.reason);
  const child = startPlayer(player, download.path);
  return { download, whileArriving: false, reason: followed.reason, playerExit: await exitOf(child) };
}

type Followed = { kind: 'streaming'; exit: Promise<number | null> } | { kind: 'later'; reason: string };

/**
 * Reads the layout from the growing file; if it streams, starts the player once
 * `playableFrom` bytes are there and pipes the whole file into it. Resolves as soon as the
 * player started (its exit still to come), or with why it must wait for the finished file.
 */
async function follow(partPath: string, total: number, player: Player, hooks: PlayHooks, opened: (file: GrowingFile) => void): Promise<Followed> {
  const file = await GrowingFile.open(partPath, total);
  opened(file);
  try {
    const layout = await readMediaLayout((position, length) => file.readAt(position, length), total);
    if (!layout.streamable) {
      await file.close();
      return { kind: 'later', reason: layout.reason };
    }
    await file.waitFor(layout.playableFrom);
  } catch (error) {
    await file.close();
    if (error instanceof FollowStopped) return { kind: 'later', reason: 'the download stopped' };
    throw error;
  }
  hooks.onPlayerStart?.(true);
  const child = startPlayer(player, '-');
  const exit = exitOf(child);
  const piped = pipeFile(file, child.stdin!).finally(() => file.close());
  return { kind: 'streaming', exit: Promise.all([exit, piped]).then(([code]) => code) };
}

/** Copies the whole growing file into the player, as fast as it reads; stops quietly if it leaves. */
async function pipeFile(file: GrowingFile, stdin: Writable): Promise<void> {
  let gone = false;
  stdin.on('error', () => (gone = true)); // EPIPE: the player quit early; the download goes on
  stdin.once('close', () => (gone = true));
  try {
    for (let position = 0; position < file.total && !gone; ) {
      const piece = await file.readAt(position, PIPE_READ_BYTES);
      position += piece.length;
      if (!stdin.write(piece)) await Promise.race([once(stdin, 'drain'), once(stdin, 'close')]);
    }
  } catch (error) {
    if (!(error instanceof FollowStopped)) throw error;
  } finally {
    stdin.end();
  }
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
}
