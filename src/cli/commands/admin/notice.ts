/** `cinebox admin notice --title T --content C`: publish a notice to every viewer. */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { title: string; content: string };

export const command = 'notice';
export const describe = 'Publish a notice';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs
    .option('title', { type: 'string', demandOption: true, describe: 'Title' })
    .option('content', { type: 'string', demandOption: true, describe: 'Text of the notice' })
    // An epilogue, not an example: the command is longer than yargs' example column.
    .epilogue('For example: cinebox admin notice --title "New films" --content "Two this week"');
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    const id = await client.releaseNotice(args.title, args.content);
    say(`notice published${id === undefined ? '' : ` (#${id})`}`);
    return { notice_id: id ?? null, title: args.title };
  });
}
