/** Markdown rendering of a benchmark result (bench/results/*.md and the stdout summary). */
import { catalogSection } from './catalog.mjs';
import { fmt, fmtRatio, mb, ratio } from './stats.mjs';

const table = (head, rows) =>
  [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');

const mark = (pass) => (pass === null || pass === undefined ? 'info' : pass ? '**PASS**' : '**FAIL**');
const ms = (v, d = 3) => (Number.isFinite(v) ? `${v.toFixed(d)} ms` : 'n/a');
/** "212 / **305**": each baseline variant, the reference (fastest) in bold. */
const variants = (by = {}) => {
  const best = Math.max(...Object.values(by));
  return ['default', 'mib'].map((k) => (by[k] === best ? `**${fmt(by[k], 0)}**` : fmt(by[k], 0))).join(' / ');
};
const rps = (v) => (Number.isFinite(v) ? Math.round(v).toLocaleString('en-US') : 'n/a');

function targetsSection(r) {
  return [
    '## Targets',
    '',
    table(
      ['measure', 'target', 'result', 'verdict'],
      r.targets.map((t) => [t.what, t.target, t.shown, mark(t.pass)]),
    ),
  ].join('\n');
}

function transfersSection(t) {
  return [
    '## (a)/(d) Single-stream transfers, disk to disk, verified (median of reps)',
    '',
    'Baseline = a plain Node `fs read stream -> loopback socket -> fs write stream` (server side in a child process, like cinebox), no protocol, no hashing, same direction; ' +
      'run twice, with Node\'s default stream buffers and with 1 MiB fs buffers, and the **faster** median is the reference for the ratio.',
    'cinebox upload = `uploadFile` (check_movie, then update_movie + bytes: the client hashes the file on a worker thread while it sends it and sends the SHA-256 after the bytes (`sha256_trailer`); the server writes a temp file and hashes it on a worker thread as the bytes arrive, compares, renames, inserts the row).',
    'cinebox download = `downloadMovie` (server streams the file; the client writes `.part` and hashes it on a worker thread as the bytes arrive, compares, renames).',
    '"CPU s/GB" = CPU seconds of server + client together per GB moved (cinebox vs the reference baseline): a figure that other load on the machine disturbs less than MB/s.',
    '"hashed pipe" (diagnostic) = the 1 MiB baseline pipe, written the plain way (fs streams, `for await`), plus SHA-256 where verification needs it (upload: both ends; download: the receiver) on the same off-thread hasher cinebox uses, no protocol: what verification alone costs a simple Node program; its ratio is to the same reference. cinebox near or above it means its protocol, database and resume bookkeeping cost little next to the hashing.',
    '',
    table(
      ['size', 'reps', 'baseline up MB/s (defaults / 1 MiB)', 'cinebox up MB/s', 'up ratio', 'baseline down MB/s (defaults / 1 MiB)', 'cinebox down MB/s', 'down ratio', 'raw down MB/s (no hash, no disk)', 'hashed pipe up / down MB/s (ratio)', 'client whole-file hash MB/s (only for fingerprint matches)', 'up CPU s/GB cinebox vs baseline', 'down CPU s/GB cinebox vs baseline', 'up CPU s server/client', 'down CPU s server/client', 'server peak RSS'],
      t.rows.map((x) => [
        x.size,
        x.reps,
        variants(x.baselineUpByVariant),
        fmt(x.uploadMBps, 0),
        fmtRatio(x.uploadRatio),
        variants(x.baselineDownByVariant),
        fmt(x.downloadMBps, 0),
        fmtRatio(x.downloadRatio),
        fmt(x.rawDownloadMBps, 0),
        x.hashedUpMBps === undefined ? 'n/a' : `${fmt(x.hashedUpMBps, 0)} (${fmtRatio(x.hashedUpRatio)}) / ${fmt(x.hashedDownMBps, 0)} (${fmtRatio(x.hashedDownRatio)})`,
        fmt(x.clientPrehashMBps, 0),
        x.cpuSecondsPerGB ? `${fmt(x.cpuSecondsPerGB.upload, 2)} vs ${fmt(x.cpuSecondsPerGB.baselineUp, 2)} (${fmtRatio(x.uploadCpuRatio)})` : 'n/a',
        x.cpuSecondsPerGB ? `${fmt(x.cpuSecondsPerGB.download, 2)} vs ${fmt(x.cpuSecondsPerGB.baselineDown, 2)} (${fmtRatio(x.downloadCpuRatio)})` : 'n/a',
        `${fmt(x.uploadServerCpuS, 2)} / ${fmt(x.uploadClientCpuS, 2)}`,
        `${fmt(x.downloadServerCpuS, 2)} / ${fmt(x.downloadClientCpuS, 2)}`,
        mb(x.serverPeakRss),
      ]),
    ),
  ].join('\n');
}

function concurrentSection(c) {
  return [
    '## (b)/(d) Concurrent verified downloads (each client its own connection and output file)',
    '',
    'Baseline = the same number of plain pipes from the baseline child into files (both buffer variants; the faster is the reference). "raw" = the same cinebox downloads with the client dropping the bytes (no hash, no disk): what the server alone can push.',
    '',
    table(
      ['clients', 'file', 'baseline MB/s (defaults / 1 MiB)', 'cinebox MB/s', 'ratio', 'server peak RSS', 'server RSS at start / after logins', 'baseline server peak RSS', 'server CPU s', 'client CPU s', 'CPU s/GB cinebox vs baseline', 'wall s', 'slowest client MB/s', 'raw MB/s', 'raw server peak RSS'],
      c.rows.map((x) => [
        x.clients,
        x.size,
        variants(x.baselineByVariant),
        fmt(x.verifiedMBps, 0),
        fmtRatio(x.ratio),
        mb(x.serverPeakRss),
        `${mb(x.serverStartRss)} / ${mb(x.serverIdleRss)}`,
        mb(x.baselinePeakRss),
        fmt(x.serverCpuS, 2),
        fmt(x.clientCpuS, 2),
        `${fmt(x.cpuPerGB, 2)} vs ${fmt(x.baselineCpuPerGB, 2)}`,
        fmt(x.wallS, 2),
        fmt(x.slowestClientMBps, 1),
        fmt(x.rawMBps, 0),
        mb(x.rawServerPeakRss),
      ]),
    ),
  ].join('\n');
}

/** Server CPU as a share of one core and per request (µs; the steadier figure on a shared machine). */
function cpuCell(row) {
  if (!row) return 'n/a';
  const perRequest = Number.isFinite(row.serverCpuUsPerRequest) ? row.serverCpuUsPerRequest : (row.serverCpuPct / 100 / row.rps) * 1e6;
  return `${fmt(row.serverCpuPct, 0)}% = ${fmt(perRequest, 1)} µs/req`;
}

function rateSection(rate) {
  const levels = rate.sqlite.rows.map((x) => x.clients);
  const find = (rows, n) => rows?.find((x) => x.clients === n);
  return [
    `## (c)/(d) Small requests: get_movie_list (${rate.moviesListed} movies, ${rate.replyBytes}-byte reply frame)`,
    '',
    `Each client is its own connection logged in as its own viewer account${rate.sqlite.viewers ? ` (${rate.sqlite.viewers} viewers)` : ''}, sending requests back to back (one in flight, as the protocol requires). ` +
      'Echo baseline = a trivial Node server with the same framing that parses each request and replies with the same bytes (no database, no validation). ' +
      'Both are driven by the same lean client in this one bench process: raw sockets, each request frame encoded once, every reply split by its length prefix, parsed and checked (flag true, all movies listed); one bad reply fails the run.',
    '',
    table(
      ['clients', 'echo req/s', 'SQLite req/s', 'SQLite / echo', 'SQLite mean / p99', 'SQLite server CPU', 'MySQL req/s', 'MySQL / echo', 'MySQL mean / p99', 'MySQL server CPU', 'echo mean / p99', 'echo server CPU', 'client CPU (SQLite run)'],
      levels.map((n) => {
        const e = find(rate.echo.rows, n);
        const s = find(rate.sqlite.rows, n);
        const m = find(rate.mysql.rows, n);
        return [
          n,
          rps(e?.rps),
          rps(s?.rps),
          fmtRatio(ratio(s?.rps, e?.rps)),
          `${ms(s?.meanMs)} / ${ms(s?.p99Ms)}`,
          cpuCell(s),
          m ? rps(m.rps) : 'skipped',
          m ? fmtRatio(ratio(m.rps, e?.rps)) : '-',
          m ? `${ms(m.meanMs)} / ${ms(m.p99Ms)}` : '-',
          m ? cpuCell(m) : '-',
          `${ms(e?.meanMs)} / ${ms(e?.p99Ms)}`,
          cpuCell(e),
          `${fmt(s?.clientCpuPct, 0)}%`,
        ];
      }),
    ),
    rate.mysql.skipped ? `\nMySQL: skipped (${rate.mysql.skipped}).` : '',
  ].join('\n');
}

function idleSection(i) {
  const l = i.check.listLatency;
  return [
    '## (e) Idle connections held open',
    '',
    table(
      ['connections', 'source addresses', 'opened in', 'still open', 'server RSS at start / before', 'with all open', 'per connection', 'after closing', 'fresh connect', 'fresh login (1 scrypt)', 'first list', 'list mean / p99 (500 reqs)'],
      [
        [
          i.connections,
          i.sourceAddresses,
          `${fmt(i.openSeconds, 1)} s`,
          i.stillOpen,
          `${mb(i.serverRssAtStart)} / ${mb(i.serverRssBefore)}`,
          mb(i.serverRssOpen),
          `${fmt(i.bytesPerConnection / 1024, 1)} KiB`,
          mb(i.serverRssAfterClose),
          ms(i.check.connectMs, 2),
          ms(i.check.loginMs, 1),
          ms(i.check.firstListMs, 2),
          l ? `${ms(l.meanMs)} / ${ms(l.p99Ms)}` : `failed: ${i.check.error}`,
        ],
      ],
    ),
  ].join('\n');
}

/** The bullet on warmPageCache() before every timed transfer step, and what this machine shows of free page reporting. */
function policySection(p) {
  if (p.skipped) return `## (p) Viewer speed limit\n\nskipped: ${p.skipped}`;
  const row = (label, x) => [label, `${fmt(x.seconds, 2)} s`, `${fmt(x.mibps, 2)} MiB/s`, `${fmt(x.serverCpuS, 3)} s`, `${fmt(x.serverCpuSPerGiB, 3)} s`];
  return [
    '## (p) Viewer speed limit',
    '',
    `${fmt(p.size / 2 ** 20, 0)} MiB downloaded (client drops the bytes), first by a normal viewer at \`--normal-speed ${p.speedMiBps}M\`, then by a VIP on the same server. Accuracy ${fmt(p.accuracy * 100, 2)}% (achieved / configured - 1).`,
    '',
    table(['download', 'time', 'rate', 'server CPU', 'server CPU per GiB'], [row('throttled', p.throttled), row('unthrottled', p.unthrottled)]),
    '',
    `The idle server used ${fmt(p.idleCpuSPerS * 1000, 1)} ms of CPU per second (timers, GC); less that over the throttled download's time, it cost ${fmt(p.throttled.serverCpuSPerGiBLessIdle, 3)} s of CPU per GiB.`,
  ].join('\n');
}

function clusterSection(c) {
  if (c.skipped) return `## (i) Through HAProxy\n\nskipped: ${c.skipped}`;
  const series = [['direct to a node', c.direct], ['HAProxy + 1 node', c.haproxyOne], ['HAProxy + 3 nodes', c.haproxyThree]];
  const rows = series.flatMap(([label, s]) => s.rows.map((r) => [label, String(r.clients), rps(r.rps), ms(r.meanMs), ms(r.p99Ms), fmtRatio(r.rps / c.direct.rows.find((d) => d.clients === r.clients).rps)]));
  return [
    '## (i) Through HAProxy',
    '',
    `deploy/haproxy.cfg (health checks: ${c.healthChecks}) in front of one node (its three server lines on the same node) and of three nodes, next to the clients going straight to a node; one MySQL database and one media directory for all. \`get_movie_list\` request rate (lean clients, every reply checked), then a verified ${fmt(c.transferBytes / 2 ** 20, 0)} MiB download; the three paths take turns for ${c.rounds} rounds and each figure is the median of its rounds.`,
    '',
    table(['path', 'clients', 'req/s', 'mean', 'p99', 'vs direct'], rows),
    '',
    table(['path', 'verified download', 'vs direct'], series.map(([label, s]) => [label, `${fmt(s.downloadMBps, 0)} MB/s`, fmtRatio(s.downloadMBps / c.direct.downloadMBps)])),
  ].join('\n');
}

function warmingNote(m) {
  const w = m.pageCacheWarming;
  const p = m.pageReporting ?? {};
  const seen = [
    p.order !== undefined ? `order ${p.order}` : '',
    p.cmdlineOrder !== undefined ? `kernel command line \`page_reporting.page_reporting_order=${p.cmdlineOrder}\`` : '',
    p.reportedKiBDuringRun !== undefined ? `${fmt(p.reportedKiBDuringRun / 2 ** 20, 1)} GiB reported to the host during this run` : '',
  ].filter(Boolean);
  const here =
    p.cmdlineOrder !== undefined || p.reportedKiB !== undefined
      ? `This machine has free page reporting (${seen.join('; ')}): memory the guest frees is handed to the host ~2 s later, and touching it again costs a host fault per 4 KiB page, which made writing a new 1 GiB file ~10x slower and, unequalised, decided the ratios.`
      : 'No sign of free page reporting on this machine (then the warming is just a cached write and delete; harmless).';
  return (
    `- Same memory state for every timed transfer step, baseline and cinebox alike: untimed, after the sync and right before the timer starts, ` +
    `a scratch file ${w.factor} x the bytes the step writes (at most ${fmt(w.maxBytes / 2 ** 30, 2)} GiB; zeros, no fsync) is written and deleted, so the step writes into just-freed page-cache memory. ${here}`
  );
}

function environmentSection(r) {
  const e = r.environment;
  const m = r.meta;
  return [
    '## Environment and method',
    '',
    `- ${m.date}, mode **${m.mode}**, ${m.seconds ?? '?'} s; commit ${m.commit}${m.uncommittedSrcFiles ? ` (+${m.uncommittedSrcFiles} uncommitted files under src/)` : ''}; Node ${m.node}; ${m.platform}; ${m.cores} x ${m.cpu}; ${m.memoryGiB} GiB RAM.`,
    `- Reference speeds measured in this run: SHA-256 in memory ${fmt(e.sha256MBps, 0)} MB/s (one core); writing a new file ${fmt(e.newFileWriteMBps, 0)} MB/s; reading a cached file ${fmt(e.cachedReadMBps, 0)} MB/s.`,
    `- ${m.mbDefinition}. Ratios compare medians measured in the same run.`,
    ...(r.otherLoad
      ? [
          `- Other load on this shared machine (CPU of processes other than the bench, its servers and baselines, incl. kernel writeback), as a share of both cores: ` +
            `${['transfers', 'concurrent', 'rate', 'catalog', 'idle', 'events', 'durable', 'policy', 'run'].filter((k) => Number.isFinite(r.otherLoad[k])).map((k) => `${k} ${r.otherLoad[k].toFixed(0)}%`).join(', ')}; ` +
            `peak ${fmt(r.otherLoad.peakPct, 0)}% over 0.5 s; 1-min load average ${fmt(r.otherLoad.loadavgAtStart, 2)} at start, ${fmt(r.otherLoad.loadavgAtEnd, 2)} at end.`,
        ]
      : []),
    ...m.notes.map((n) => `- ${n}`),
    ...(m.pageCacheWarming ? [warmingNote(m)] : []),
    `- cinebox server flags beyond the bench defaults (\`--host 127.0.0.1 --free-wait 0 --log-level warn\`, SQLite or MySQL, temp media dir): ${Object.entries(r.serverFlags ?? {}).map(([k, v]) => `${k}: ${v}`).join('; ')}.`,
    ...(Object.keys(r.serverEnv ?? {}).length ? [`- Server environment (as \`npm start\` sets it, plus any --server-env): ${JSON.stringify(r.serverEnv)}.`] : []),
    ...(r.serverNodeArgs?.length ? [`- Node flags of every server child, cinebox and baselines alike (as \`npm start\` runs cinebox): \`${r.serverNodeArgs.join(' ')}\`.`] : []),
  ].join('\n');
}

function eventsSection(e) {
  const row = (label, x) =>
    x?.skipped
      ? `| ${label} | skipped: ${x.skipped} | | | | |`
      : `| ${label} | ${x.reached}/${e.subscribers} (${x.correct} verified) | ${fmt(x.firstMs, 1)} | ${fmt(x.p50Ms, 1)} | ${fmt(x.p99Ms, 1)} | ${fmt(x.maxMs, 1)} |`;
  return [
    `## Live events: one notice to ${e.subscribers} subscribers (h)`,
    '',
    '| fan-out | reached | first ms | p50 ms | p99 ms | last ms |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    row('cinebox (one node, SQLite; t = 0 when release_notice is sent)', e.cinebox),
    row('Redis pub/sub (private redis-server; t = 0 when PUBLISH is sent)', e.redis),
    '',
    `- release_notice was answered (its transaction committed, durable by default) at ${fmt(e.cinebox.triggerMs, 1)} ms; from the first subscriber to the last: cinebox ${fmt(e.cinebox.maxMs - e.cinebox.firstMs, 1)} ms, Redis ${fmt(e.redis.maxMs - e.redis.firstMs, 1)} ms.`,
    `- cinebox's last subscriber vs Redis's: ${fmtRatio(e.lastRatio)}. Both sides are raw sockets in the bench process stamping the first byte of the message; the Redis message is the cinebox event frame's JSON (${e.redis?.messageBytes ?? '?'} bytes).`,
    `- Server RSS: ${mb(e.serverRssBefore)} before, ${mb(e.serverRssSubscribed)} with ${e.subscribers} subscribers (${fmt(e.bytesPerSubscriber / 1024, 1)} KiB each, connection and session included), ${mb(e.serverRssAfterEvent)} after the event. Subscribing them took ${fmt(e.setupSeconds, 1)} s (login + subscribe each; untimed setup).`,
  ].join('\n');
}

function durableSection(d) {
  return [
    '## The cost of durable uploads',
    '',
    'The same verified uploads, one at a time, to a server with the default durability (fdatasync of the file, fsync of the media directory, SQLite synchronous=FULL) and to one started with `--durable false` (no syncs, SQLite synchronous=NORMAL); medians.',
    '',
    '| size | uploads | durable | --durable false | ratio | cost per upload |',
    '|---|---|---|---|---|---|',
    ...d.rows.map((row) => `| ${row.size} | ${row.reps} | ${fmt(row.durableMs, 1)} ms (${fmt(row.durableMBps, 0)} MB/s) | ${fmt(row.nosyncMs, 1)} ms (${fmt(row.nosyncMBps, 0)} MB/s) | ${fmt(row.ratio, 2)}x | +${fmt(row.extraMs, 1)} ms |`),
  ].join('\n');
}

export function renderMarkdown(r) {
  const parts = [`# cinebox benchmark (${r.meta.mode} run, ${r.meta.date.slice(0, 16).replace('T', ' ')} UTC)`, '', targetsSection(r)];
  if (r.transfers) parts.push('', transfersSection(r.transfers));
  if (r.concurrent) parts.push('', concurrentSection(r.concurrent));
  if (r.rate) parts.push('', rateSection(r.rate));
  if (r.catalog) parts.push('', catalogSection(r.catalog, { table, rps, ms, fmtRatio, ratio }));
  if (r.idle) parts.push('', idleSection(r.idle));
  if (r.durable) parts.push('', durableSection(r.durable));
  if (r.events) parts.push('', eventsSection(r.events));
  if (r.policy) parts.push('', policySection(r.policy));
  if (r.cluster) parts.push('', clusterSection(r.cluster));
  parts.push('', environmentSection(r), '');
  return parts.join('\n');
}

export function renderSummary(r) {
  return renderMarkdown(r);
}
