/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function, top N.
 * Usage: node bench/lib/profile-summary.mjs FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { pathToFileURL } from 'node:url';

export function summarizeProfile(path, top = 25) {
  const profile = JSON.parse(readFileSync(path, 'utf8'));
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  const deltas = profile.timeDeltas;
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (deltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map();
  for (const [id, us] of selfUs) {
    const { callFrame } = byId.get(id);
    const where = callFrame.url ? `${shorten(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
    const key = `${callFrame.functionName || '(anonymous)'} ${where}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const rows = [...byFunction.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: total / 1000,
    top: rows.map(([fn, us]) => ({ fn, selfMs: Math.round(us / 100) / 10, pct: Math.round((us / total) * 1000) / 10 })),
  };
}

function shorten(url) {
  const path = url.replace(/^file:\/\//, '');
  if (path.startsWith('/')) return relative(process.cwd(), path);
  return path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const summary = summarizeProfile(process.argv[2], Number(process.argv[3] ?? 25));
  console.log(`total sampled: ${summary.totalMs.toFixed(0)} ms`);
  for (const row of summary.top) console.log(`${String(row.pct).padStart(5)}%  ${String(row.selfMs).padStart(8)} ms  ${row.fn}`);
}
