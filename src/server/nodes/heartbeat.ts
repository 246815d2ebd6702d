/**
 * Node heartbeats: every node rewrites its node_beat row every `--node-beat` seconds, and a
 * graceful stop deletes it. An upload row names the node and run holding it; a run that
 * missed MISSED_BEATS of its own beats is dead, so its uploads are free at once instead of
 * after `--upload-lease` (docs/design.md, "State across nodes"). Beat times are the nodes'
 * clocks: nodes sharing a database must keep them in step (NTP), well within three beats.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { DuplicateKeyError, type Database } from '../../orm/index.js';
import { NodeBeat } from '../../orm/models/index.js';
import type { NodeIdentity } from './identity.js';

/** Beats a node may miss before it is taken for dead. */
export const MISSED_BEATS = 3;

/** What an upload row says of its holder (models/upload.ts). */
export interface HeldRow {
  holder: string | null;
  holder_node: string | null;
  holder_run: string | null;
  updated_time: Date;
}

/** The run's beat is fresh: at most MISSED_BEATS of its intervals old. */
export function beatIsFresh(beat: NodeBeat, now = Date.now()): boolean {
  return now - beat.beat_time.getTime() < MISSED_BEATS * beat.beat_ms;
}

/**
 * Whether someone holds `row` now: a holder that refreshed it within the lease, on a run that
 * still beats. `beatOf` gives the node's beat row (undefined: the node stopped or never beat).
 * A row without a holder run (an older cinebox, `cinebox fsck`) has only the lease.
 */
export function isHeld(row: HeldRow, leaseMs: number, beatOf: (node: string) => NodeBeat | undefined, now = Date.now()): boolean {
  if (row.holder === null || now - row.updated_time.getTime() >= leaseMs) return false;
  if (row.holder_node === null || row.holder_run === null) return true;
  const beat = beatOf(row.holder_node);
  return beat !== undefined && beat.run === row.holder_run && beatIsFresh(beat, now);
}

/** isHeld with the holder's beat read from the database (one row by primary key). */
export async function isHeldNow(db: Database, row: HeldRow, leaseMs: number): Promise<boolean> {
  if (row.holder === null) return false;
  const beat = row.holder_node === null ? undefined : await NodeBeat.selectOne(db, { node: row.holder_node });
  return isHeld(row, leaseMs, () => beat, Date.now());
}

/** Every beat row by node name, for a pass over many upload rows (fsck). */
export async function allBeats(db: Database): Promise<Map<string, NodeBeat>> {
  return new Map((await NodeBeat.select(db)).map((beat) => [beat.node, beat]));
}

/** The row's process ran on this host and is not running any more (killed): no need to wait for its beat to go stale. */
function processGone(beat: NodeBeat): boolean {
  if (beat.host !== hostname() || beat.pid === process.pid) return false;
  try {
    process.kill(beat.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private beating?: Promise<void>;
  private stopped = false;
  private lost = false;
  /** A beat failed (the database is away): said once, and once when it is back, not every beat. */
  private failing = false;
  /** When this run claimed its row: kept if the row is written again, since rows it made before are still its own. */
  private startedAt = new Date();

  private constructor(
    private readonly db: Database,
    readonly identity: NodeIdentity,
    private readonly beatMs: number,
    private readonly log: Logger,
  ) {}

  /**
   * Claims the node's row and starts beating. A row of this name still beating under another
   * run is either this node's previous run, killed moments ago, or another node given the
   * same name: unless its process is known gone (same host, no such pid), it waits until that
   * beat would be stale, and refuses to start if it beat again.
   */
  static async start(db: Database, identity: NodeIdentity, beatSeconds: number, log: Logger): Promise<Heartbeat> {
    const heartbeat = new Heartbeat(db, identity, Math.max(1, Math.round(beatSeconds * 1000)), log);
    await heartbeat.claim();
    heartbeat.timer = setInterval(() => {
      heartbeat.beating ??= heartbeat.beat().finally(() => (heartbeat.beating = undefined));
    }, heartbeat.beatMs);
    heartbeat.timer.unref();
    return heartbeat;
  }

  private async claim(): Promise<void> {
    const { name, run } = this.identity;
    let waitedFor: Date | undefined;
    for (;;) {
      const now = new Date();
      const row = await NodeBeat.selectOne(this.db, { node: name });
      this.startedAt = now;
      const fields = { run, beat_ms: this.beatMs, host: hostname(), pid: process.pid, started_at: now, beat_time: now };
      if (!row) {
        try {
          await NodeBeat.from({ node: name, ...fields }).save(this.db);
          return;
        } catch (error) {
          if (error instanceof DuplicateKeyError) continue; // a node of the same name started at the same moment
          throw error;
        }
      }
      if (beatIsFresh(row, now.getTime()) && !processGone(row)) {
        if (waitedFor && row.beat_time.getTime() !== waitedFor.getTime()) {
          throw new Error(`node name "${name}" is in use by a running node (it beat again while this one waited): give each node its own --node-name`);
        }
        waitedFor = row.beat_time;
        const staleIn = row.beat_time.getTime() + MISSED_BEATS * row.beat_ms - now.getTime();
        this.log.warn({ seconds: staleIn / 1000 }, 'another run of this node name beat moments ago (a killed run, or a node of the same name): waiting for it to go quiet');
        await sleep(staleIn + 50);
        continue;
      }
      // The previous run of this name is dead: its uploads are free from this moment (another run).
      const taken = await NodeBeat.updateWhere(this.db, fields, { node: name, run: row.run, beat_time: row.beat_time });
      if (taken > 0) return;
    }
  }

  /** One beat (compare-and-set on the run); a row gone (swept while this node stalled) is written again. */
  private async beat(): Promise<void> {
    const { name, run } = this.identity;
    try {
      const kept = await NodeBeat.updateWhere(this.db, { beat_time: new Date(), beat_ms: this.beatMs }, { node: name, run });
      if (this.failing) this.log.info('node heartbeat: the database answers again');
      this.failing = false;
      if (kept > 0) {
        if (this.lost) this.log.info('node heartbeat row back');
        this.lost = false;
        return;
      }
      const row = await NodeBeat.selectOne(this.db, { node: name });
      if (row && row.run !== run) {
        if (!this.lost) this.log.error({ other_run: row.run }, `another node runs under the name "${name}": give each node its own --node-name`);
        this.lost = true;
        return;
      }
      if (!row && !this.stopped) {
        await NodeBeat.from({ node: name, run, beat_ms: this.beatMs, host: hostname(), pid: process.pid, started_at: this.startedAt, beat_time: new Date() }).save(this.db);
      }
    } catch (error) {
      if (!this.failing) this.log.warn({ err: (error as Error).message }, 'node heartbeat failed; retrying every beat (uploads this node holds look dead to the others meanwhile)');
      this.failing = true;
    }
  }

  /** Graceful stop: no more beats, and the row goes, so whatever this run still held is free at once. */
  async stop(): Promise<void> {
    this.halt();
    await this.beating;
    try {
      await NodeBeat.deleteWhere(this.db, { node: this.identity.name, run: this.identity.run });
    } catch (error) {
      this.log.warn({ err: (error as Error).message }, 'could not remove the node heartbeat row');
    }
  }

  /** No more beats, the row left as it is: what a killed node leaves behind. */
  halt(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }
}
