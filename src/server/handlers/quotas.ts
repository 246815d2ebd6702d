/** set_quota: an admin's storage quota (the policy is in uploads/quota.ts). */
import { User } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, Forbidden, NotFound } from '../errors.js';
import { formatSize, quotaOf, usedBytes } from '../uploads/quota.js';

/**
 * set_quota: an admin may lower their own quota and raise another admin's; raising one's own
 * would make it meaningless, and lowering another's would let one admin shrink a colleague
 * to nothing: both are the operator's (`cinebox account NAME --quota SIZE`, --admin-quota).
 */
export async function setQuota(req: Request<'set_quota'>, { app, conn, user }: UserContext): Promise<Reply> {
  const target = await User.selectOne(app.db, { name: req.name });
  if (!target) throw new NotFound(`no user ${JSON.stringify(req.name)}`);
  if (target.user_type !== 'admin') throw new BadRequest('quotas apply to admins only');
  const next = req.quota_bytes ?? app.config.adminQuotaBytes;
  const current = quotaOf(target, app);
  if (target.id === user.id && raises(current, next)) throw new Forbidden('you cannot raise your own quota');
  if (target.id !== user.id && raises(next, current)) {
    throw new Forbidden("only the operator can lower another admin's quota (`cinebox account NAME --quota SIZE` on the server)");
  }
  await User.updateWhere(app.db, { quota_bytes: req.quota_bytes }, { id: target.id });
  const used = await usedBytes(app, target.id);
  conn.log.info({ user: user.id, target: target.id, quota_bytes: req.quota_bytes }, 'quota set');
  const shown = next === 0 ? 'no limit' : formatSize(next);
  return {
    flag: true,
    msg: `quota of ${target.name}: ${shown}${req.quota_bytes === null ? ' (the server default)' : ''}; ${formatSize(used)} used`,
    name: target.name,
    quota_bytes: next,
    used_bytes: used,
    is_default: req.quota_bytes === null,
  };
}

/** 0 is "no limit", the largest quota of all. */
function raises(current: number, next: number): boolean {
  if (current === 0) return false;
  return next === 0 || next > current;
}
