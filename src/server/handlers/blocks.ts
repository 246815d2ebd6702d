/** Admin functions over the login guard's blocks: list them, lift those of an address. */
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { NotFound } from '../errors.js';
import { currentBlocks, liftBlocks } from '../auth/login-guard.js';

export async function listBlocks(_req: Request<'list_blocks'>, { app }: UserContext): Promise<Reply> {
  return { flag: true, blocks: await currentBlocks(app) };
}

/** Lifts every block and counter of an address (with `name`, only that account's from it). */
export async function unblockAddress(req: Request<'unblock_address'>, { app, conn, user }: UserContext): Promise<Reply> {
  const removed = await liftBlocks(app, req.address, req.name);
  if (removed === 0) throw new NotFound(`no failed logins recorded from ${req.address}${req.name ? ` for "${req.name}"` : ''}`);
  conn.log.warn({ by: user.id, address: req.address, name: req.name }, 'login blocks lifted');
  return { flag: true, msg: `logins from ${req.address}${req.name ? ` for "${req.name}"` : ''} are no longer blocked` };
}
