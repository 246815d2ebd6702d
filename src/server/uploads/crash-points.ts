/**
 * A test hook: `CINEBOX_CRASH_AT=<point>` makes the server kill itself with SIGKILL when it
 * reaches that point of publishing an upload, so the kill test (test/crash/kill.test.ts)
 * can cut it at each step and check what a restart makes of it. Unset in production: each
 * point then costs one comparison. `<point>:<n>` crashes at the n-th time instead.
 */
export const CRASH_POINTS = ['before-rename', 'after-rename', 'after-dir-sync', 'after-commit', 'mid-reply'] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

const [armedPoint, armedCount] = (process.env.CINEBOX_CRASH_AT ?? '').split(':');
let remaining = Number(armedCount ?? 1) || 1;

/** Dies here if this is the armed point; `last` runs first (e.g. writes half a reply). */
export function crashPoint(point: CrashPoint, last?: () => void): void {
  if (point !== armedPoint || --remaining > 0) return;
  last?.();
  process.kill(process.pid, 'SIGKILL');
}

/** Whether a point is armed (a handler may prepare what `last` needs only then). */
export function crashArmed(point: CrashPoint): boolean {
  return point === armedPoint;
}
