/** `cinebox user buy-vip`: become a VIP, after confirming the price (or --yes). */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { ServerError } from '../../../client/connection.js';
import { formatCents } from '../../../client/ui/units.js';
import { runClientCommand, type ClientArgs } from '../../client-command.js';

type Args = ClientArgs & { yes?: boolean };

export const command = 'buy-vip';
export const describe = 'Buy VIP membership';

export function builder(yargs: Argv<ClientArgs>) {
  return yargs.option('yes', { alias: 'y', type: 'boolean', describe: 'Pay without asking' });
}

export function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  return runClientCommand(args, 'user', true, async ({ client, say, confirm }) => {
    // What the server would answer, said before the price is shown.
    if (client.account?.isVip) throw new ServerError('you are already a VIP', 'CONFLICT');
    const info = await client.serverInfo();
    const question = `Buy VIP for ${formatCents(info.vipPriceCents)}? (paid videos then cost ${formatCents(info.paidPriceVipCents)} instead of ${formatCents(info.paidPriceNormalCents)})`;
    if (!(await confirm(question, args.yes))) {
      say('not bought');
      return { is_vip: false, price_cents: 0 };
    }
    const paid = await client.buyVip();
    say(`you are now a VIP (paid ${formatCents(paid)})`);
    return { is_vip: true, price_cents: paid };
  });
}
