/**
 * Admin functions over accounts: list users, lock and unlock them. Who may act on whom
 * (docs/security.md): an admin locks and unlocks viewers; an admin account is locked or
 * unlocked only by the operator (`cinebox account NAME --lock`, on the database), so no
 * admin can shut another out. An admin may still lift a colleague's temporary lock after
 * failed logins (that undoes nothing the operator did).
 */
import { User } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, Forbidden, NotFound } from '../errors.js';
import { policySummaries } from './policies.js';

const OPERATOR_ONLY = 'only the operator can lock or unlock an admin account (`cinebox account NAME --lock|--unlock` on the server)';

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
  // One conditional UPDATE: a viewer only, even if the account's role changed meanwhile.
  const changed = await User.updateWhere(app.db, { is_locked: 1 }, { name: req.name, user_type: 'user' });
  if (changed === 0) throw await refusalFor(app, req.name);
  conn.log.warn({ by: user.id, name: req.name }, 'user locked');
  // Its event streams on this node end now; other nodes end theirs before their next event.
  await app.events.endLockedSubscriptions();
  return { flag: true, msg: `${req.name} is locked` };
}

async function refusalFor(app: UserContext['app'], name: string): Promise<Error> {
  const target = await User.selectOne(app.db, { name });
  return target ? new Forbidden(OPERATOR_ONLY) : new NotFound(`no user "${name}"`);
}

/** Unlocking also clears a temporary lock and the failure counter; an admin's own lock is the operator's. */
export async function unlockUser(req: Request<'unlock_user'>, { app, conn, user }: UserContext): Promise<Reply> {
  const target = await User.selectOne(app.db, { name: req.name });
  if (!target) throw new NotFound(`no user "${req.name}"`);
  const where = target.user_type === 'admin' ? { id: target.id, is_locked: 0 } : { id: target.id };
  const changed = await User.updateWhere(app.db, { is_locked: 0, failed_logins: 0, locked_until: null }, where);
  if (changed === 0) throw new Forbidden(OPERATOR_ONLY);
  conn.log.info({ by: user.id, name: req.name }, 'user unlocked');
  return { flag: true, msg: `${req.name} is unlocked` };
}
