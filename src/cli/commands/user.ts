/** `cinebox user`: the viewer's menu, or one of its functions as a subcommand for scripts. */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runUserMenu } from '../../client/ui/menus/user-menu.js';
import { runMenuCommand, withClientOptions } from '../client-command.js';
import { EXIT_CODES_HELP } from '../exit-codes.js';
import * as buyVip from './user/buy-vip.js';
import * as download from './user/download.js';
import * as history from './user/history.js';
import * as status from './user/status.js';
import { listCommand } from './shared/list.js';
import { noticesCommand } from './shared/notices.js';
import * as play from './user/play.js';
import { registerCommand } from './shared/register.js';
import { watchCommand } from './shared/watch.js';

export const command = 'user';
export const describe = 'Viewer client: the menu, or subcommands';

export function builder(yargs: Argv) {
  return withClientOptions(yargs)
    .option('out', { alias: 'o', type: 'string', default: 'downloads', describe: 'Folder for downloads (created when missing)' })
    .option('player', { type: 'string', describe: 'Player for `play` and the menu (default: mpv, ffplay or vlc, the first on PATH); it gets `-` (stdin) or the file' })
    .command(registerCommand('user'))
    .command(listCommand('user'))
    .command(download)
    .command(play)
    .command(history)
    .command(noticesCommand('user'))
    .command(watchCommand('user'))
    .command(buyVip)
    .command(status)
    .example('$0 user', 'open the menu')
    .example('$0 user watch --json', 'follow notices and new videos, one JSON object per line')
    .example('$0 user list --free --name alice', 'the free videos')
    .example('$0 user download 3 -o ~/Videos', 'download video #3')
    .example('$0 user play 3', 'watch video #3 while it downloads')
    .epilogue(EXIT_CODES_HELP);
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export function handler(args: Args): Promise<void> {
  return runMenuCommand(args, (ctx) => runUserMenu(ctx, { outDir: args.out, player: args.player, name: args.name, password: args.password }));
}
