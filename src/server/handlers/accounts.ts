/** Admin functions over accounts: list users, lock and unlock them. */
import { User } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, NotFound } from '../errors.js';
import { policySummaries } from './policies.js';

export async function listUsers(_req: Request<'list_users'>, { app }: UserContext): Promise<Reply> {
  const users = await User.select(app.db, {}, { orderBy: [['id', 'asc']] });
  const policies = await policySummaries(app, users);
  return {
    flag: true,
    users: users.map((u) => ({
      id: u.id,
      name: u.name,
      user_type: u.user_type,
      is_vip: u.is_vip,
      is_locked: u.is_locked,
      failed_logins: u.failed_logins,
      locked_until: u.locked_until?.toISOString() ?? null,
      register_time: u.register_time.toISOString(),
      ...policies.get(u.id),
    })),
  };
}

export async function lockUser(req: Request<'lock_user'>, { app, conn, user }: UserContext): Promise<Reply> {
  if (req.name === user.name) throw new BadRequest('you cannot lock yourself out');
  const changed = await User.updateWhere(app.db, { is_locked: 1 }, { name: req.name });
  if (changed === 0) throw new NotFound(`no user "${req.name}"`);
  conn.log.warn({ by: user.id, name: req.name }, 'user locked');
  return { flag: true, msg: `${req.name} is locked` };
}

/** Unlocking also clears a temporary lock and the failure counter. */
export async function unlockUser(req: Request<'unlock_user'>, { app, conn, user }: UserContext): Promise<Reply> {
  const changed = await User.updateWhere(app.db, { is_locked: 0, failed_logins: 0, locked_until: null }, { name: req.name });
  if (changed === 0) throw new NotFound(`no user "${req.name}"`);
  conn.log.info({ by: user.id, name: req.name }, 'user unlocked');
  return { flag: true, msg: `${req.name} is unlocked` };
}
