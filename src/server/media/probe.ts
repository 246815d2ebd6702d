/**
 * Media facts from ffprobe (FFmpeg), run as a child process so the event loop never waits
 * on it: at most `concurrency` probes run at once (p-limit; the rest queue), each killed
 * with its process group after `timeoutMs`. ffprobe reads the already-open file through
 * /proc/self/fd on Linux, so it probes exactly the verified bytes and judges them by content,
 * not by a file name's extension (with a `.bin` name it calls random bytes "bintext video"),
 * and it may use only the demuxers of FORMAT_WHITELIST.
 */
import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import pLimit, { type LimitFunction } from 'p-limit';
import { readMediaLayout } from '../../protocol/media-layout.js';

export interface Facts {
  /** 'video' (a moving picture), 'audio' (sound only), 'image' (a still picture). */
  format: 'video' | 'audio' | 'image';
  container: string;
  durationMs: number | null;
  width: number | null;
  height: number | null;
  videoCodec: string | null;
  audioCodec: string | null;
  bitRate: number | null;
  streamable: boolean;
}

export type ProbeResult =
  | { outcome: 'facts'; facts: Facts }
  /** ffprobe ran and could not read it: shown as "unknown format". */
  | { outcome: 'unreadable'; reason: string }
  /** No answer about the file (no ffprobe, a timeout, a crash): not probed, a scan may try again. */
  | { outcome: 'not-probed'; reason: string };

export interface ProberOptions {
  ffprobePath: string;
  timeoutMs: number;
  concurrency: number;
}

/** What ffprobe prints with our -show_entries. */
interface FfprobeJson {
  streams?: { codec_type?: string; codec_name?: string; width?: number; height?: number; disposition?: { attached_pic?: number } }[];
  format?: { format_name?: string; duration?: string; bit_rate?: string };
}

/**
 * The demuxers ffprobe may use, and only the file protocol: an uploaded playlist (HLS,
 * concat) would otherwise make ffprobe open the files (or URLs) it names, probing other
 * files of the server instead of the upload.
 */
const FORMAT_WHITELIST = [
  'mov', 'mp4', 'matroska', 'webm', 'avi', 'flv', 'mpegts', 'mpeg', 'mpegvideo', 'ogg', 'asf', 'mp3', 'aac', 'wav', 'flac',
  'h264', 'hevc', 'm4v', 'yuv4mpegpipe', 'image2', 'png_pipe', 'jpeg_pipe', 'webp_pipe', 'bmp_pipe', 'gif',
].join(',');
const ENTRIES = 'format=format_name,duration,bit_rate:stream=codec_type,codec_name,width,height:stream_disposition=attached_pic';
const MAX_OUTPUT_BYTES = 1024 * 1024;
/** Demuxers that read a single picture: a file they read is an image, not a video. */
const IMAGE_CONTAINER = /^(image2|.*_pipe|gif|webp|apng)$/;

export class MediaProber {
  private readonly limit: LimitFunction;
  /** False once ffprobe proved missing: no more spawns, no facts. */
  available = true;

  constructor(readonly options: ProberOptions) {
    this.limit = pLimit(Math.max(1, options.concurrency));
  }

  /** Runs `ffprobe -version` once; false (and `available` false) when it cannot run. */
  async check(): Promise<{ ok: true; version: string } | { ok: false; reason: string }> {
    const run = await runProcess(this.options.ffprobePath, ['-version'], undefined, this.options.timeoutMs);
    if (run.kind === 'spawn-error' || run.kind === 'timeout' || run.code !== 0) {
      this.available = false;
      return { ok: false, reason: run.kind === 'spawn-error' ? run.message : run.kind === 'timeout' ? 'it did not answer' : `it exited with ${run.code}` };
    }
    return { ok: true, version: run.stdout.split('\n')[0] ?? '' };
  }

  /** Probes the file at `path` (already verified by its caller). */
  probe(path: string): Promise<ProbeResult> {
    if (!this.available) return Promise.resolve({ outcome: 'not-probed', reason: 'ffprobe is not installed' });
    return this.limit(() => this.probeNow(path));
  }

  /** Probes waiting for a slot, for tests and logs. */
  get pending(): number {
    return this.limit.pendingCount;
  }

  private async probeNow(path: string): Promise<ProbeResult> {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      const input = process.platform === 'linux' ? '/proc/self/fd/3' : path;
      const args = ['-v', 'error', '-protocol_whitelist', 'file', '-format_whitelist', FORMAT_WHITELIST, '-print_format', 'json', '-show_entries', ENTRIES, input];
      const run = await runProcess(this.options.ffprobePath, args, file.fd, this.options.timeoutMs);
      if (run.kind === 'spawn-error') {
        if (run.missing) this.available = false;
        return { outcome: 'not-probed', reason: run.message };
      }
      if (run.kind === 'timeout') return { outcome: 'not-probed', reason: `ffprobe took longer than ${this.options.timeoutMs} ms` };
      if (run.signal) return { outcome: 'not-probed', reason: `ffprobe died (${run.signal})` };
      const readAt = async (position: number, length: number) => {
        const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        return buffer.subarray(0, bytesRead);
      };
      return factsOf(run.code, run.stdout, run.stderr, (await readMediaLayout(readAt, size)).streamable);
    } finally {
      await file.close();
    }
  }
}

function factsOf(code: number | null, stdout: string, stderr: string, streamable: boolean): ProbeResult {
  let parsed: FfprobeJson;
  try {
    parsed = JSON.parse(stdout) as FfprobeJson;
  } catch {
    parsed = {};
  }
  const container = parsed.format?.format_name;
  if (code !== 0 || !container) {
    return { outcome: 'unreadable', reason: stderr.trim().split('\n').pop() || `ffprobe exited with ${code}` };
  }
  const streams = parsed.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && s.disposition?.attached_pic !== 1);
  const audio = streams.find((s) => s.codec_type === 'audio');
  if (!video && !audio) return { outcome: 'unreadable', reason: 'no video or audio stream' };
  const format = video ? (IMAGE_CONTAINER.test(container) ? 'image' : 'video') : 'audio';
  return {
    outcome: 'facts',
    facts: {
      format,
      container: container.slice(0, 64),
      durationMs: secondsToMs(parsed.format?.duration),
      width: positiveInt(video?.width),
      height: positiveInt(video?.height),
      videoCodec: video?.codec_name?.slice(0, 32) ?? null,
      audioCodec: audio?.codec_name?.slice(0, 32) ?? null,
      bitRate: positiveInt(Number(parsed.format?.bit_rate)),
      streamable: format !== 'image' && streamable,
    },
  };
}

function secondsToMs(value: string | undefined): number | null {
  const seconds = Number(value);
  return value !== undefined && Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : null;
}

function positiveInt(value: number | undefined): number | null {
  return value !== undefined && Number.isSafeInteger(value) && value > 0 ? value : null;
}

type ProcessRun =
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }
  | { kind: 'timeout' }
  | { kind: 'spawn-error'; message: string; missing: boolean };

/**
 * Runs a program in its own process group with `fd` (if any) as its fd 3; on timeout the
 * whole group is killed (a wrapper script's children too). Output beyond 1 MiB is dropped.
 */
function runProcess(command: string, args: string[], fd: number | undefined, timeoutMs: number): Promise<ProcessRun> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe', ...(fd === undefined ? [] : [fd])], detached: true });
    } catch (error) {
      resolve({ kind: 'spawn-error', message: (error as Error).message, missing: false });
      return;
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      if ((outBytes += chunk.length) <= MAX_OUTPUT_BYTES) into.push(chunk);
    };
    child.stdout!.on('data', collect(out));
    child.stderr!.on('data', collect(err));
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      killGroup(child);
      resolve({ kind: 'timeout' });
    }, timeoutMs);
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      const missing = error.code === 'ENOENT' || error.code === 'EACCES';
      resolve({ kind: 'spawn-error', message: missing ? `${command} not found or not executable` : error.message, missing });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      resolve({ kind: 'exit', code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

function killGroup(child: ReturnType<typeof spawn>): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL'); // the group is gone already, or no groups on this platform
  }
}
