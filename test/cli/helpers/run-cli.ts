/** Runs the built `cinebox` as a child process without a terminal, the way scripts and cron do. */
import { spawn } from 'node:child_process';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(main: string, args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  // Nothing from the developer's own CINEBOX_* settings may leak into a test.
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('CINEBOX_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], {
      cwd: options.cwd,
      env: { ...env, NO_COLOR: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The non-empty lines of a stream's text. */
export const linesOf = (text: string) => text.split('\n').filter((line) => line.trim() !== '');
