/** `cinebox user list` / `cinebox admin list`: the videos, as a table or JSON. */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Role } from '../../../client/cinebox-client.js';
import { moviesTable } from '../../../client/ui/table.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { free?: boolean; charge?: boolean };

export function listCommand(role: Role): CommandModule<ClientArgs, Args> {
  return {
    command: 'list',
    describe: 'List the videos',
    builder: (yargs: Argv<ClientArgs>) =>
      yargs
        .option('free', { type: 'boolean', describe: 'Only free videos' })
        .option('charge', { type: 'boolean', describe: 'Only paid videos' })
        .conflicts('free', 'charge'),
    handler: (args: ArgumentsCamelCase<Args>) =>
      runClientCommand(args, role, true, async ({ client, say, columns }) => {
        const movies = await client.listMovies(args.free ? 'free' : args.charge ? 'charge' : 'all');
        say(movies.length ? moviesTable(movies, columns) : 'no videos yet');
        return { movies };
      }),
  };
}
