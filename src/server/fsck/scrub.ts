/**
 * The scheduled scrub of a node (`--scrub-interval`, off by default): every so often a full
 * fsck (every live video hashed, at `--scrub-rate`) that reports and repairs nothing, so an
 * operator decides what to quarantine (`cinebox fsck --full --repair`). What it found is kept
 * as counters on one object, for the log now and for a metrics exporter later.
 */
import type { App } from '../context.js';
import { checkStore, type ProblemKind } from './check-store.js';

export interface ScrubStats {
  runs: number;
  /** Runs that threw (database unreachable, media directory unreadable). */
  failures: number;
  lastStartedAt?: Date;
  lastFinishedAt?: Date;
  lastSeconds: number;
  lastVideosChecked: number;
  lastBytesHashed: number;
  /** Problems the last finished run found, by kind (0 when none). */
  lastProblems: Record<ProblemKind, number>;
  /** Bytes hashed over every run. */
  bytesHashedTotal: number;
}

const NO_PROBLEMS: Record<ProblemKind, number> = {
  'missing-file': 0,
  'wrong-size': 0,
  corrupt: 0,
  'orphan-file': 0,
  unpublished: 0,
  'orphan-partial': 0,
  'partial-missing': 0,
  'row-ahead': 0,
};

export function newScrubStats(): ScrubStats {
  return { runs: 0, failures: 0, lastSeconds: 0, lastVideosChecked: 0, lastBytesHashed: 0, lastProblems: { ...NO_PROBLEMS }, bytesHashedTotal: 0 };
}

/** One scrub; updates `stats`. Never rejects. */
export async function scrubOnce(app: App, stats: ScrubStats): Promise<void> {
  stats.lastStartedAt = new Date();
  try {
    const report = await checkStore(app, { full: true, bytesPerSecond: app.config.scrubBytesPerSecond, repair: 'none' });
    const problems = { ...NO_PROBLEMS };
    for (const problem of report.problems) problems[problem.kind]++;
    Object.assign(stats, {
      runs: stats.runs + 1,
      lastFinishedAt: new Date(),
      lastSeconds: report.seconds,
      lastVideosChecked: report.videosChecked,
      lastBytesHashed: report.bytesHashed,
      lastProblems: problems,
      bytesHashedTotal: stats.bytesHashedTotal + report.bytesHashed,
    });
    app.log.info({ videos: report.videosChecked, bytes: report.bytesHashed, problems: report.problems.length, seconds: report.seconds }, 'scrub finished');
  } catch (error) {
    stats.failures++;
    app.log.error({ err: (error as Error).message }, 'scrub failed');
  }
}

/** Scrubs every `scrubIntervalSeconds` (one at a time; the first one interval after start); the timer never keeps the process alive. */
export function startScrubber(app: App, stats: ScrubStats): { stop(): void } {
  if (app.config.scrubIntervalSeconds <= 0) return { stop: () => undefined };
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    running ??= scrubOnce(app, stats).finally(() => (running = undefined));
  }, app.config.scrubIntervalSeconds * 1000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
