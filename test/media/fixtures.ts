/**
 * Real media files for the tests, made by ffmpeg from its test sources (lavfi): nothing is
 * checked in, and the facts the server stores are compared with what ffprobe itself says.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Why real media files cannot be made here (ffmpeg or ffprobe missing), or undefined. The
 * suites that need them skip with this warning; CI sets CINEBOX_REQUIRE_FFMPEG=1, which
 * turns it into a failure.
 */
export const ffmpegMissing: string | undefined = missingTools();

function missingTools(): string | undefined {
  const missing = ['ffmpeg', 'ffprobe'].filter((tool) => {
    try {
      execFileSync(tool, ['-version'], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length === 0) return undefined;
  const why = `${missing.join(' and ')} not installed (Debian's ffmpeg package has both)`;
  if (process.env.CINEBOX_REQUIRE_FFMPEG === '1') throw new Error(`CINEBOX_REQUIRE_FFMPEG=1 but ${why}`);
  console.warn(`the media suites that make real video files are skipped: ${why}`);
  return why;
}

export interface Fixtures {
  /** H.264 + AAC in MP4, index (moov) first. */
  faststart: string;
  /** The same, index last (ffmpeg's default). */
  moovLast: string;
  /** VP8 + Opus in WebM. */
  webm: string;
  /** AAC only, in an .m4a. */
  audioOnly: string;
  /** Random bytes. */
  random: string;
}

const VIDEO_IN = ['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];

/** Makes the five files under `dir`; `seconds` sets how long (and so how large) the videos are. */
export async function makeFixtures(dir: string, seconds = 2, tag = ''): Promise<Fixtures> {
  const path = (name: string) => join(dir, `${tag}${name}`);
  const t = ['-t', String(seconds)];
  const h264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];
  const files: Fixtures = {
    faststart: path('faststart.mp4'),
    moovLast: path('moov-last.mp4'),
    webm: path('clip.webm'),
    audioOnly: path('tone.m4a'),
    random: path('noise.bin'),
  };
  await Promise.all([
    ffmpeg([...VIDEO_IN, ...t, ...h264, '-movflags', '+faststart', files.faststart]),
    ffmpeg([...VIDEO_IN, ...t, ...h264, files.moovLast]),
    ffmpeg([...VIDEO_IN, ...t, '-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '300k', '-c:a', 'libopus', files.webm]),
    ffmpeg(['-f', 'lavfi', '-i', 'sine=frequency=330', ...t, '-c:a', 'aac', files.audioOnly]),
    writeFile(files.random, randomBytes(200_000)),
  ]);
  return files;
}

/** A larger file for playing while it arrives: noise does not compress, so `seconds` of it is several MB. */
export async function makeNoiseVideo(path: string, seconds: number, faststart: boolean): Promise<string> {
  await ffmpeg([
    '-f', 'lavfi', '-i', 'nullsrc=size=320x240:rate=25,geq=random(1)*255:128:128',
    '-f', 'lavfi', '-i', 'anoisesrc',
    '-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
    ...(faststart ? ['-movflags', '+faststart'] : []),
    path,
  ]);
  return path;
}

async function ffmpeg(args: string[]): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-y', ...args]);
}

/** What ffprobe says, as the server should have stored it. */
export async function ffprobeFacts(path: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  const json = JSON.parse(stdout) as {
    streams: { codec_type: string; codec_name: string; width?: number; height?: number }[];
    format: { format_name: string; duration?: string; bit_rate?: string };
  };
  const video = json.streams.find((s) => s.codec_type === 'video');
  const audio = json.streams.find((s) => s.codec_type === 'audio');
  return {
    format: video ? 'video' : 'audio',
    container: json.format.format_name,
    duration_ms: json.format.duration === undefined ? null : Math.round(Number(json.format.duration) * 1000),
    width: video?.width ?? null,
    height: video?.height ?? null,
    video_codec: video?.codec_name ?? null,
    audio_codec: audio?.codec_name ?? null,
    bit_rate: json.format.bit_rate === undefined ? null : Number(json.format.bit_rate),
  };
}
