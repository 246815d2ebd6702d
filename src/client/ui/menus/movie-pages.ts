/**
 * The video list in the menus, a page at a time (a select with 100,000 entries helps nobody):
 * the table or the pick list shows one page, with choices for the next and previous page
 * and a search by name. Pages come from the server (keyset cursors), so a long list never
 * travels whole.
 */
import type { MovieFilter, MoviePage, MovieRow } from '../../cinebox-client.js';
import { moviesTable } from '../table.js';
import type { Choice } from '../io.js';
import { movieLabel, type MenuContext, type NewMarks } from './menu.js';

export const PAGE_SIZE = 20;

type Move = 'next' | 'previous' | 'search' | 'all' | 'back';

/** Where the person is in the list: the filter, the search, and the cursors of the pages before. */
class Pager {
  search: string | undefined;
  private cursors: (number | undefined)[] = [undefined];

  constructor(
    private readonly ctx: MenuContext,
    private readonly filter: MovieFilter,
  ) {}

  load(): Promise<MoviePage> {
    return this.ctx.client.moviePage({ filter: this.filter, search: this.search, limit: PAGE_SIZE, after: this.cursors.at(-1) });
  }

  get hasPrevious(): boolean {
    return this.cursors.length > 1;
  }

  /** The choices that move through the list, after a page's own entries. */
  moves<T>(page: MoviePage, wrap: (move: Move) => T): Choice<T>[] {
    const choices: Choice<T>[] = [];
    if (page.nextAfter !== null) choices.push({ name: 'Next page →', value: wrap('next') });
    if (this.hasPrevious) choices.push({ name: '← Previous page', value: wrap('previous') });
    if (page.nextAfter !== null || this.hasPrevious || this.search !== undefined) {
      choices.push({ name: this.search === undefined ? 'Search by name…' : `Search again (now "${this.search}")`, value: wrap('search') });
    }
    if (this.search !== undefined) choices.push({ name: 'All videos', value: wrap('all') });
    return choices;
  }

  /** Applies a move; false for 'back'. */
  async apply(move: Move, page: MoviePage): Promise<boolean> {
    if (move === 'next') this.cursors.push(page.nextAfter ?? undefined);
    else if (move === 'previous') this.cursors.pop();
    else if (move === 'search' || move === 'all') {
      const text = move === 'all' ? '' : (await this.ctx.io.prompt.input('Name contains')).trim();
      this.search = text === '' ? undefined : text;
      this.cursors = [undefined];
    }
    return move !== 'back';
  }
}

/** "List all videos": a table per page; more choices only when there is more than one page. */
export async function browseMovies(ctx: MenuContext, filter: MovieFilter = 'all', marks?: NewMarks): Promise<void> {
  const pager = new Pager(ctx, filter);
  for (;;) {
    const page = await pager.load();
    const isNew = marks && ((movie: MovieRow) => marks.isNew(movie.id));
    ctx.io.print(page.movies.length ? moviesTable(page.movies, ctx.io.columns, isNew) : pager.search !== undefined ? `no videos match "${pager.search}"` : 'no videos yet');
    const moves = pager.moves(page, (move) => move);
    if (moves.length === 0) return marks?.seen();
    const move = await ctx.io.prompt.select<Move>('More?', [...moves, { name: '← Back', value: 'back' }]);
    if (!(await pager.apply(move, page))) return marks?.seen();
  }
}

/** A video picked from the pages; undefined when the person goes back (or there is none). */
export async function pickMovie(ctx: MenuContext, message: string, filter: MovieFilter, none: string, marks?: NewMarks): Promise<MovieRow | undefined> {
  const pager = new Pager(ctx, filter);
  type Answer = { movie: MovieRow } | { move: Move };
  for (;;) {
    const page = await pager.load();
    if (page.movies.length === 0 && pager.search === undefined && !pager.hasPrevious) {
      ctx.io.print(none);
      return undefined;
    }
    if (page.movies.length === 0) ctx.io.print(`no videos match "${pager.search}"`);
    const answer = await ctx.io.prompt.select<Answer>(message, [
      ...page.movies.map((movie) => ({ name: movieLabel(movie, marks?.isNew(movie.id)), value: { movie } })),
      ...pager.moves<Answer>(page, (move) => ({ move })),
      { name: '← Back', value: { move: 'back' } },
    ]);
    if ('movie' in answer) return answer.movie;
    if (!(await pager.apply(answer.move, page))) return undefined;
  }
}
