/** `cinebox admin`: the admin's menu, or one of its functions as a subcommand for scripts. */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runAdminMenu } from '../../client/ui/menus/admin-menu.js';
import { runMenuCommand, withClientOptions } from '../client-command.js';
import * as policy from './admin/policy.js';
import { EXIT_CODES_HELP } from '../exit-codes.js';
import * as quota from './admin/quota.js';
import * as blocks from './admin/blocks.js';
import * as deleteVideo from './admin/delete.js';
import { listCommand } from './shared/list.js';
import { lock, unlock } from './admin/account-lock.js';
import * as notice from './admin/notice.js';
import { noticesCommand } from './shared/notices.js';
import { registerCommand } from './shared/register.js';
import * as unblock from './admin/unblock.js';
import { watchCommand } from './shared/watch.js';
import * as upload from './admin/upload.js';
import * as users from './admin/users.js';

export const command = 'admin';
export const describe = 'Admin client: the menu, or subcommands';

export function builder(yargs: Argv) {
  return withClientOptions(yargs)
    .option('upload-dir', { type: 'string', default: 'upload', describe: 'Folder the menu offers uploads from (created when missing)' })
    .option('admin-code', { type: 'string', describe: "The operator's admin code, for registering admins" })
    .command(registerCommand('admin'))
    .command(upload)
    .command(deleteVideo)
    .command(notice)
    .command(listCommand('admin'))
    .command(noticesCommand('admin'))
    .command(watchCommand('admin'))
    .command(quota)
    .command(users)
    .command(policy)
    .command(lock)
    .command(unlock)
    .command(blocks)
    .command(unblock)
    // Each example's command fits yargs' left column (half of 80 columns), so none wraps.
    .example('$0 admin', 'open the menu')
    .example('$0 admin watch --json', 'notices, videos: JSON lines')
    .example('$0 admin upload a.mp4 b.mkv', 'two free videos')
    .example('$0 admin upload a.mp4 --charge', 'a paid video')
    .example('$0 admin quota alice 2G', "set an admin's storage quota")
    .example('$0 admin policy bob --speed 1M', "a viewer's download speed")
    .example('$0 admin lock alice', 'lock an account out (see unlock)')
    .example('$0 admin unblock 192.0.2.7', 'lift a login block (see blocks)')
    .epilogue(EXIT_CODES_HELP);
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export function handler(args: Args): Promise<void> {
  return runMenuCommand(args, (ctx) =>
    runAdminMenu(ctx, { uploadDir: args.uploadDir, adminCode: args.adminCode, name: args.name, password: args.password }),
  );
}
