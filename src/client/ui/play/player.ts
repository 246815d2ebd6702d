/**
 * The local player `cinebox user play` starts: `--player CMD`, else the first of mpv, ffplay
 * and vlc found on PATH. The player gets `-` (read standard input) while the video is still
 * arriving, or the finished file's path; CMD is split at spaces (no shell, no quoting).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

export interface Player {
  /** For messages: "mpv", or the --player command as given. */
  label: string;
  program: string;
  args: string[];
}

/** Known players and the arguments that make each read a stream and exit at its end. */
const KNOWN: { program: string; args: string[] }[] = [
  { program: 'mpv', args: [] },
  { program: 'ffplay', args: ['-autoexit', '-loglevel', 'warning'] },
  { program: 'vlc', args: ['--play-and-exit'] },
];

export class NoPlayer extends Error {
  constructor(message = 'no player found (looked for mpv, ffplay and vlc on PATH): install one, or name yours with --player CMD') {
    super(message);
    this.name = 'NoPlayer';
  }
}

/** The player to use, or throws NoPlayer. */
export function findPlayer(command: string | undefined, path = process.env.PATH ?? ''): Player {
  if (command !== undefined && command.trim() !== '') {
    const [program, ...args] = command.trim().split(/\s+/);
    const found = program!.includes('/') ? (isExecutable(program!) ? program! : undefined) : onPath(program!, path);
    if (!found) throw new NoPlayer(`--player: "${program}" is not a program on PATH or an executable file`);
    return { label: command.trim(), program: found, args };
  }
  for (const known of KNOWN) {
    const found = onPath(known.program, path);
    if (found) return { label: known.program, program: found, args: known.args };
  }
  throw new NoPlayer();
}

function onPath(program: string, path: string): string | undefined {
  if (isAbsolute(program)) return isExecutable(program) ? program : undefined;
  for (const dir of path.split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, program);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts the player on `input` ('-' = its standard input, piped). */
export function startPlayer(player: Player, input: string): ChildProcess {
  return spawn(player.program, [...player.args, input], {
    // Its output goes to stderr: stdout carries only cinebox's result (--json).
    stdio: [input === '-' ? 'pipe' : 'ignore', 2, 2],
  });
}
