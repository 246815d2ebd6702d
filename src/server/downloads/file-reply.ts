/**
 * A reply followed by raw file bytes (download_movie). The dispatcher sends the header,
 * waits `waitSeconds` (the non-VIP wait, between header and body as the original client
 * expects), then streams the file from an already opened handle, so a file deleted in
 * between cannot turn into a short body.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Reply } from '../../protocol/messages.js';
import type { DownloadGrant } from '../policies/download-grant.js';

export class FileReply {
  /** Body bytes the socket took so far (what the daily allowance is settled to). */
  sentBytes = 0;

  constructor(
    readonly header: Reply & { file_size: number },
    readonly file: FileHandle,
    readonly start: number,
    readonly waitSeconds: number,
    /** Runs once every byte was handed to the socket (e.g. write the download record). */
    readonly onSent?: () => Promise<void>,
    /** Who asked, for the log line of the transfer. */
    readonly userId?: number,
    /** The viewer policy's say: the speed budget to pace by, the allowance to settle at the end. */
    readonly grant?: DownloadGrant,
  ) {}
}
