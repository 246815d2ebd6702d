/**
 * Child processes of the benchmark (the cinebox server and the baseline servers), and what
 * /proc says about them: resident memory (VmRSS, peak VmHWM) and CPU time. Every child is
 * registered so it is killed whenever the benchmark ends, normally or not.
 */
import { spawn, execFileSync } from 'node:child_process';
import { openSync, closeSync, readFileSync, writeFileSync, writeSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const children = new Set();
const CLK_TCK = Number(safeExec('getconf', ['CLK_TCK']) || 100);

function safeExec(cmd, args) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return '';
  }
}

/** Kills every child still running, synchronously (usable from an 'exit' handler). */
export function killAllChildrenNow() {
  for (const child of children) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  children.clear();
}

/** A free TCP port on loopback (tiny race until the child binds it; fine on a quiet machine). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Spawns `node <args>` with stdout/stderr appended to `logPath`, registers it, and waits until
 * `port` accepts connections (or `readyLine` appears on stdout when given instead).
 */
export async function startChild({ name, args, cwd, env, logPath, port, nodeArgs = [], timeoutMs = 20_000 }) {
  const log = openSync(logPath, 'a');
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd, env, stdio: ['ignore', log, log] });
  closeSync(log);
  children.add(child);
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      children.delete(child);
      resolve(exited);
    });
  });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited) throw new Error(`${name} exited early (${JSON.stringify(exited)}); see ${logPath}:\n${tail(logPath)}`);
    if (await canConnect(port)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms; see ${logPath}`);
    }
    await sleep(50);
  }
  return {
    name,
    child,
    pid: child.pid,
    port,
    logPath,
    mon: new ProcMonitor(child.pid),
    /** SIGTERM (lets --cpu-prof write its profile), then SIGKILL after `graceMs`. */
    async stop(graceMs = 8_000) {
      if (exited) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
  };
}

function canConnect(port) {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export function tail(path, lines = 20) {
  try {
    return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Reads /proc/<pid>: memory in bytes, CPU in seconds; samples VmRSS to catch phase peaks. */
export class ProcMonitor {
  constructor(pid) {
    this.pid = pid;
    this.timer = undefined;
    this.peakRss = 0;
  }

  memory() {
    try {
      const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
      const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
      return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
    } catch {
      return { rss: 0, hwm: 0 };
    }
  }

  /** User + system CPU seconds used so far. */
  cpuSeconds() {
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(fields[11]) + Number(fields[12])) / CLK_TCK; // utime, stime (fields 14, 15)
    } catch {
      return 0;
    }
  }

  /** Resets the kernel's peak (VmHWM := VmRSS) so the next phase's peak is its own. */
  resetPeak() {
    try {
      writeFileSync(`/proc/${this.pid}/clear_refs`, '5');
      return true;
    } catch {
      return false;
    }
  }

  /** Starts a phase: reset the peak, sample VmRSS every `everyMs`. */
  begin(everyMs = 50) {
    this.resetPeak();
    this.peakRss = this.memory().rss;
    this.cpuAtBegin = this.cpuSeconds();
    clearInterval(this.timer);
    this.timer = setInterval(() => {
      this.peakRss = Math.max(this.peakRss, this.memory().rss);
    }, everyMs);
    this.timer.unref();
  }

  /** Ends a phase: peak RSS (max of the kernel's VmHWM and our samples), RSS now, CPU seconds used. */
  end() {
    clearInterval(this.timer);
    this.timer = undefined;
    const now = this.memory();
    return {
      peakRss: Math.max(this.peakRss, now.hwm, now.rss),
      rss: now.rss,
      cpuSeconds: this.cpuSeconds() - (this.cpuAtBegin ?? 0),
    };
  }
}

/**
 * Untimed, before each timed step: flushes dirty pages and commits the file system journal (the
 * deletes of the previous step's outputs, which on an ext4 mounted with `discard` also trim), so
 * one step's writeback does not tax the next. Returns the milliseconds it took.
 */
export function settleDisk() {
  const started = performance.now();
  execFileSync('sync');
  return performance.now() - started;
}

/** The most warmPageCache() writes: below the kernel's background-writeback threshold (10% of RAM here), so it never starts disk writes. */
export const WARM_MAX_BYTES = 1.5 * 2 ** 30;
let zeroMiB;

/**
 * Untimed, after settleDisk() and immediately before a timed step that writes about `bytes`:
 * writes a scratch file of `bytes` (zeros, 1 MiB synchronous writes, no fsync) in `dir` and
 * deletes it, so the step's writes land in just-freed guest memory like every other step's.
 *
 * Why: this VM runs virtio-balloon free page reporting; memory the guest frees (e.g. the page
 * cache of a deleted file) is reported to the host about 2 s later and discarded, and touching
 * it again costs a host fault per 4 KiB page. Writing a new 1 GiB file measured 2-3.5 s of
 * kernel CPU (~300 MB/s) into such "cold" pages, ~0.3 s (~3000 MB/s) into pages freed less than
 * ~2 s before: more than the transfer itself, so without this, whichever step happened to follow
 * a delete won. The scratch write first reuses whatever was freed just before (so earlier
 * deletes stop mattering), then all steps start from the same state. Harmless without page
 * reporting (a cached write and delete). Capped at WARM_MAX_BYTES: a step writing more runs
 * well past the ~2 s after which unused freed pages are reported anyway. Returns milliseconds.
 */
export function warmPageCache(dir, bytes) {
  const started = performance.now();
  const total = Math.min(Math.ceil(bytes / 2 ** 20), WARM_MAX_BYTES / 2 ** 20);
  zeroMiB ??= Buffer.alloc(2 ** 20);
  const path = join(dir, '.warm-page-cache.bin');
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < total; i++) writeSync(fd, zeroMiB);
  } finally {
    closeSync(fd);
    unlinkSync(path);
  }
  return performance.now() - started;
}

/**
 * Free page reporting on this machine, as far as it shows: the order on the kernel command line
 * (`page_reporting.page_reporting_order=`), the module's current order, and the KiB reported to
 * the host so far (only some kernels count it). All undefined where absent.
 */
export function pageReporting() {
  const read = (name) => {
    try {
      return readFileSync(`/sys/module/page_reporting/parameters/${name}`, 'utf8').trim();
    } catch {
      return undefined;
    }
  };
  let cmdline = '';
  try {
    cmdline = readFileSync('/proc/cmdline', 'utf8');
  } catch {
    /* not Linux */
  }
  const num = (v) => (v === undefined || v === '' || !Number.isFinite(Number(v)) ? undefined : Number(v));
  return {
    cmdlineOrder: num(/\bpage_reporting\.page_reporting_order=(\d+)/.exec(cmdline)?.[1]),
    order: num(read('page_reporting_order')),
    reportedKiB: num(read('reported_kib')),
  };
}

/**
 * Watches the whole machine (/proc/stat) against the CPU time of this process and its live
 * children, so a result can say how much of the 2 cores something else (another test run, kernel
 * writeback) was using meanwhile. Ticks of a child that exits between samples count as "other".
 */
export class MachineMonitor {
  constructor(everyMs = 500) {
    this.other = 0;
    this.total = 0;
    this.peakOtherPct = 0;
    this.last = this.read();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  read() {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = fields;
    const busy = user + nice + system + irq + softirq + (steal || 0);
    const ours = new Map();
    for (const pid of [process.pid, ...[...children].map((c) => c.pid)]) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        ours.set(pid, Number(f[11]) + Number(f[12]));
      } catch {
        /* gone */
      }
    }
    return { busy, all: busy + idle + iowait, ours };
  }

  sample() {
    const now = this.read();
    const total = now.all - this.last.all;
    let ours = 0;
    for (const [pid, ticks] of now.ours) ours += ticks - (this.last.ours.get(pid) ?? ticks);
    const other = Math.max(0, now.busy - this.last.busy - ours);
    this.other += other;
    this.total += total;
    if (total > 0) this.peakOtherPct = Math.max(this.peakOtherPct, (other / total) * 100);
    this.last = now;
  }

  /** A checkpoint; `since(checkpoint)` gives the share of all cores used by others since then. */
  checkpoint() {
    this.sample();
    return { other: this.other, total: this.total };
  }

  since(checkpoint) {
    this.sample();
    const total = this.total - checkpoint.total;
    return total > 0 ? ((this.other - checkpoint.other) / total) * 100 : 0;
  }

  stop() {
    clearInterval(this.timer);
  }
}
