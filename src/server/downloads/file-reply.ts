/**
 * A reply followed by raw file bytes (download_movie). The dispatcher sends the header,
 * waits `waitSeconds` (the non-VIP wait, between header and body as the original client
 * expects), then streams the file from an already opened handle, so a file deleted in
 * between cannot turn into a short body.
 */
import type { FileHandle } from 'node:fs/promises';
import type { Reply } from '../../protocol/messages.js';

export class FileReply {
  constructor(
    readonly header: Reply & { file_size: number },
    readonly file: FileHandle,
    readonly start: number,
    readonly waitSeconds: number,
    /** Runs once every byte was handed to the socket (e.g. write the download record). */
    readonly onSent?: () => Promise<void>,
    /** Who asked, for the log line of the transfer. */
    readonly userId?: number,
  ) {}
}
