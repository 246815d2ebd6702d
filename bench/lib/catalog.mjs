/**
 * Phase `catalog` (`--only=catalog`): get_movie_list over a large catalog, at 50 clients, next
 * to the framed echo server and today's full list in the same run:
 *   - echo: the trivial framed server replying with the 100-video list;
 *   - full list: the original request (`movie_type` only) on a server with 100 videos;
 *   - page: 50 videos (`limit: 50`, newest first) at 100,000 videos, each client at its own cursor;
 *   - search: a name substring (`search`, `limit: 50`) at 100,000 videos, each client its own
 *     term (Latin and Chinese, ~50 matches each: a read of every name per request).
 * SQLite. The databases are filled through the built ORM before the server starts (an upload
 * per video would take hours); every movie gets its media_facts row as publishing gives it.
 */
import { join } from 'node:path';

export const CATALOG_VIDEOS = 100_000;
export const FULL_LIST_VIDEOS = 100;
export const PAGE = 50;
const WORDS = ['The Matrix', 'matrix reloaded', 'Ärger im Paradies', 'école', '功夫熊猫', '大话西游', '西游记之大圣归来', '熊猫 Panda', 'Straße', 'Зима'];
const TERMS = ['matrix', '熊猫', 'ärger', 'école', '西游', 'panda', 'straße', 'зима', '大圣', 'reloaded'];

/** A name as the seeded catalog has it: a word and a number, so a term plus a number is selective. */
const nameOf = (i) => `${WORDS[i % WORDS.length]} ${(i * 7919) % 10_000}`;

export async function seedCatalog(root, dbUrl, count) {
  const { openDatabase, ensureSchema } = await import(join(root, 'dist/orm/index.js'));
  const { allModels, Movie } = await import(join(root, 'dist/orm/models/index.js'));
  const { insertFactsRows } = await import(join(root, 'dist/server/media/facts.js'));
  const db = await openDatabase(dbUrl);
  try {
    await ensureSchema(db, allModels);
    const created = new Date();
    for (let start = 0; start < count; start += 5000) {
      await db.transaction(async (tx) => {
        for (let i = start; i < Math.min(count, start + 5000); i++) {
          const movie = Movie.from({
            name: nameOf(i),
            path: `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000.mp4`,
            is_free: i % 3 === 0 ? 0 : 1,
            is_delete: 0,
            create_time: created,
            file_md5: '0'.repeat(32),
            sha256: 'ab'.repeat(32),
            live_sha256: null,
            size: 1_000_000 + i,
            user_id: 1,
          });
          await movie.save(tx);
          await insertFactsRows(tx, movie);
        }
      });
    }
  } finally {
    await db.close();
  }
}

const good = (n) => (reply) => {
  if (reply.flag !== true) return `flag ${reply.flag}: ${reply.code} ${reply.msg}`;
  if (!Array.isArray(reply.movie_list) || (n !== undefined && reply.movie_list.length !== n)) return `expected ${n} movies, got ${JSON.stringify(reply).slice(0, 120)}`;
  return undefined;
};

/**
 * `ctx`: what run.mjs owns (root, work dir, W = workloads, startCinebox, startChild, freePort,
 * rateSeries, serverNodeArgs, viewer password, levels).
 */
export async function catalogPhase(ctx) {
  const { W, log } = ctx;
  const clientsNeeded = Math.max(...ctx.levels);
  log(`phase catalog: seeding ${CATALOG_VIDEOS} videos and ${FULL_LIST_VIDEOS} videos (SQLite)`);
  const bigDb = `sqlite:${join(ctx.work, 'catalog-100k.db')}`;
  const smallDb = `sqlite:${join(ctx.work, 'catalog-100.db')}`;
  const seededAt = performance.now();
  await seedCatalog(ctx.root, bigDb, CATALOG_VIDEOS);
  await seedCatalog(ctx.root, smallDb, FULL_LIST_VIDEOS);
  log(`  seeded in ${((performance.now() - seededAt) / 1000).toFixed(1)} s`);

  const viewers = async (port, prepare) =>
    W.leanClients(port, clientsNeeded, async (client, i) => {
      client.session = await W.leanViewerLogin(client, `bench-catalog-viewer-${i}`, ctx.viewerPassword);
      prepare(client, i);
    });
  const extraArgs = ['--max-request-rate', '0'];

  // Today's list at 100 videos, and the echo server replying with exactly that list.
  const small = await ctx.startCinebox('catalog-100', { db: smallDb, mediaDir: join(ctx.work, 'media-catalog-100'), extraArgs });
  const fullClients = await viewers(small.port, (client) => client.prepare({ type: 'get_movie_list', session: client.session, movie_type: 'all' }, good(FULL_LIST_VIDEOS)));
  const sample = await fullClients[0].call({ type: 'get_movie_list', session: fullClients[0].session, movie_type: 'all' });
  const fullRows = await ctx.rateSeries('full list of 100', small, fullClients);
  for (const c of fullClients) c.close();
  await small.stop();

  const replyPath = join(ctx.work, 'catalog-echo-reply.json');
  await ctx.writeFile(replyPath, JSON.stringify(sample));
  const echoPort = await ctx.freePort();
  const echo = await ctx.startChild({
    name: 'echo baseline (catalog)',
    cwd: ctx.root,
    nodeArgs: ctx.serverNodeArgs,
    args: ['bench/lib/baseline-server.mjs', 'echo', '--port', String(echoPort), '--reply', replyPath],
    logPath: join(ctx.work, 'baseline-echo-catalog.log'),
    port: echoPort,
  });
  const echoRequest = { type: 'get_movie_list', session: 'x'.repeat(43), movie_type: 'all' };
  const echoClients = await W.leanClients(echoPort, clientsNeeded, (client) => client.prepare(echoRequest, good(FULL_LIST_VIDEOS)), 20);
  const echoRows = await ctx.rateSeries('echo', echo, echoClients);
  for (const c of echoClients) c.close();
  await echo.stop();

  // 100,000 videos: a page at each client's own place in the list, and a search per client.
  // Its start check reports (and logs) 100,000 missing files, which took over 20 s at load 12.
  const big = await ctx.startCinebox('catalog-100k', { db: bigDb, mediaDir: join(ctx.work, 'media-catalog-100k'), extraArgs, listenTimeoutMs: 120_000 });
  const pageClients = await viewers(big.port, (client, i) =>
    client.prepare(
      { type: 'get_movie_list', session: client.session, movie_type: 'all', limit: PAGE, order: 'newest', after: CATALOG_VIDEOS - i * 1931 },
      good(PAGE),
    ),
  );
  const pageRows = await ctx.rateSeries(`page of ${PAGE} at ${CATALOG_VIDEOS}`, big, pageClients);
  const searchTerm = (i) => `${TERMS[i % TERMS.length]} ${(i * 37) % 100}`;
  for (const [i, client] of pageClients.entries()) {
    client.prepare({ type: 'get_movie_list', session: client.session, movie_type: 'all', search: searchTerm(i), limit: PAGE }, good(undefined));
  }
  const probe = await pageClients[0].call({ type: 'get_movie_list', session: pageClients[0].session, movie_type: 'all', search: searchTerm(0), limit: PAGE });
  const searchRows = await ctx.rateSeries(`name search at ${CATALOG_VIDEOS}`, big, pageClients);
  for (const c of pageClients) c.close();
  await big.stop();

  return {
    videos: CATALOG_VIDEOS,
    fullListVideos: FULL_LIST_VIDEOS,
    page: PAGE,
    searchExample: { term: searchTerm(0), matches: probe.movie_list?.length },
    echo: { rows: echoRows },
    fullList: { rows: fullRows, replyBytes: Buffer.byteLength(JSON.stringify(sample)) + 4 },
    pageAt100k: { rows: pageRows },
    searchAt100k: { rows: searchRows },
  };
}

/** The markdown section of the report. */
export function catalogSection(c, { table, rps, ms, fmtRatio, ratio }) {
  const levels = c.echo.rows.map((r) => r.clients);
  const find = (rows, n) => rows.find((r) => r.clients === n);
  return [
    `## Catalog: get_movie_list at ${c.videos.toLocaleString('en')} videos (SQLite)`,
    '',
    `Full list = the original request on a server with ${c.fullListVideos} videos (${c.fullList.replyBytes}-byte reply); echo = the framed echo server replying with that list; ` +
      `page = ${c.page} videos newest first from each client's own cursor; search = a name substring per client (e.g. "${c.searchExample.term}": ${c.searchExample.matches} matches), limit ${c.page}.`,
    '',
    table(
      ['clients', 'echo req/s', 'full list (100) req/s', '/ echo', `page (${c.page}) at 100k req/s`, '/ echo', 'search at 100k req/s', '/ echo', 'search mean / p99'],
      levels.map((n) => {
        const e = find(c.echo.rows, n);
        const f = find(c.fullList.rows, n);
        const p = find(c.pageAt100k.rows, n);
        const s = find(c.searchAt100k.rows, n);
        return [n, rps(e?.rps), rps(f?.rps), fmtRatio(ratio(f?.rps, e?.rps)), rps(p?.rps), fmtRatio(ratio(p?.rps, e?.rps)), rps(s?.rps), fmtRatio(ratio(s?.rps, e?.rps)), `${ms(s?.meanMs)} / ${ms(s?.p99Ms)}`];
      }),
    ),
  ].join('\n');
}
