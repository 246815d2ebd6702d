/** `cinebox user register` / `cinebox admin register`: create an account (admins need the operator's code). */
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import type { Role } from '../../../client/cinebox-client.js';
import { credentials, runClientCommand, UsageError, type ClientArgs } from '../../client-command.js';
import { inquirerPrompter } from '../../../client/ui/io.js';

type Args = ClientArgs & { adminCode?: string };

export function registerCommand(role: Role): CommandModule<ClientArgs, Args> {
  return {
    command: 'register',
    describe: role === 'admin' ? 'Register an admin (needs the admin code)' : 'Register a viewer',
    builder: (yargs: Argv<ClientArgs>) => yargs as Argv<Args>,
    handler: (args: ArgumentsCamelCase<Args>) =>
      runClientCommand(args, role, false, async ({ client, say }) => {
        const { name, password } = await credentials(args, true);
        const code = role === 'admin' ? (args.adminCode ?? (await askAdminCode())) : undefined;
        await client.register(name, password, role, code);
        say(`registered ${role === 'admin' ? 'admin' : 'viewer'} "${name}"`);
        return { registered: true, name, role };
      }),
  };
}

async function askAdminCode(): Promise<string> {
  if (!process.stdin.isTTY) throw new UsageError('no admin code given: pass --admin-code or set CINEBOX_ADMIN_CODE (there is no terminal to ask on)');
  return inquirerPrompter({ output: process.stderr }).password('Admin code (ask the operator)');
}
