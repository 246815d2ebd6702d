/** `cinebox user list` / `cinebox admin list`: the videos (a page of them), as a table or JSON. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Role } from '../../../client/cinebox-client.js';
import { moviesTable } from '../../../client/ui/table.js';
import { MAX_PAGE, type MovieOrder } from '../../../protocol/messages.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { free?: boolean; charge?: boolean; search?: string; limit?: number; after?: number; order?: MovieOrder };

export function listCommand(role: Role): CommandModule<ClientArgs, Args> {
  return {
    command: 'list',
    describe: 'List the videos (with length and picture size; --json: every media fact)',
    builder: (yargs: Argv<ClientArgs>) =>
      yargs
        .option('free', { type: 'boolean', describe: 'Only free videos' })
        .option('charge', { type: 'boolean', describe: 'Only paid videos' })
        .conflicts('free', 'charge')
        .option('search', { alias: 's', type: 'string', describe: 'Only names containing TEXT (ignoring case)' })
        .option('limit', { alias: 'n', type: 'number', describe: `At most N videos (1-${MAX_PAGE}; default: all)` })
        .option('after', { type: 'number', describe: 'The page after video ID (the "more: --after ID" of the page before)' })
        .option('order', { choices: ['oldest', 'newest', 'name'] as const, describe: 'Order (default: oldest first, by ID)' }),
    handler: (args: ArgumentsCamelCase<Args>) =>
      runClientCommand(args, role, true, async ({ client, say, columns }) => {
        const page = await client.moviePage({
          filter: args.free ? 'free' : args.charge ? 'charge' : 'all',
          search: args.search,
          limit: args.limit,
          after: args.after,
          order: args.order,
        });
        const none = args.search !== undefined ? `no videos match "${args.search}"` : args.after !== undefined ? 'no more videos' : 'no videos yet';
        say(page.movies.length ? moviesTable(page.movies, columns) : none);
        if (page.nextAfter !== null) say(`more: --after ${page.nextAfter}`);
        return { movies: page.movies, next_after: page.nextAfter };
      }),
  };
}
