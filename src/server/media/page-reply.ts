/**
 * get_movie_list with any of the fields added for pages (facts, search, limit, after, order):
 * one page, as `movie_list` (the original's triples), with `details` or `facts` also `movies`
 * (with `facts` when asked), plus `next_after`. A request without them never gets here (common.ts), so original
 * clients keep their reply byte for byte.
 */
import { boughtAmong } from '../handlers/common.js';
import { CHARGE_LABEL, FREE_LABEL, type MovieDetails, type Reply, type Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { EncodedReply } from '../encoded-reply.js';
import { encodeJsonFrame } from '../../protocol/frame.js';
import { listPage, type ListedMovie } from './catalog.js';
import { factsWire } from './facts.js';

export function isPageRequest(req: Request<'get_movie_list'>): boolean {
  return req.facts !== undefined || req.search !== undefined || req.limit !== undefined || req.after !== undefined || req.order !== undefined;
}

export async function moviePage(req: Request<'get_movie_list'>, { app, user }: UserContext): Promise<Reply | EncodedReply> {
  const query = {
    movieType: req.movie_type,
    search: req.search,
    limit: req.limit,
    after: req.after,
    order: req.order ?? 'oldest',
    details: req.details === true,
    facts: req.facts === true,
  };
  const page = await listPage(app.db, query, await app.videos.index());
  if (page.entries !== undefined && !req.details && !req.facts) {
    // The bytes JSON.stringify gives for { flag, movie_list, next_after } (a test compares them with a node reading the database).
    return new EncodedReply(encodeJsonFrame(`{"flag":true,"movie_list":[${page.entries.join(',')}],"next_after":${page.nextAfter}}`));
  }
  const movieList = page.movies.map((m) => [m.name, m.is_free ? FREE_LABEL : CHARGE_LABEL, m.id]);
  if (!req.details && !req.facts) return { flag: true, movie_list: movieList, next_after: page.nextAfter };
  const bought = await boughtAmong(app, user, page.movies);
  const movies = page.movies.map((m) => ({ ...details(m, req.facts === true), ...(bought && !m.is_free ? { bought: bought.has(m.id) ? (1 as const) : (0 as const) } : {}) }));
  return { flag: true, movie_list: movieList, movies, next_after: page.nextAfter };
}

function details(m: ListedMovie, withFacts: boolean): MovieDetails {
  const entry: MovieDetails = {
    id: m.id,
    name: m.name,
    is_free: m.is_free ? 1 : 0,
    size: m.size!,
    sha256: m.sha256!,
    create_time: m.create_time!.toISOString(),
  };
  if (withFacts) entry.facts = factsWire(m.facts);
  return entry;
}
