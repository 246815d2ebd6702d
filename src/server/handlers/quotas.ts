/** set_quota: an admin's storage quota (the policy is in uploads/quota.ts). */
import { User } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, Forbidden, NotFound } from '../errors.js';
import { formatSize, quotaOf, usedBytes } from '../uploads/quota.js';

/**
 * set_quota: any admin may set another admin's quota, and lower their own; raising one's
 * own quota would make it meaningless (the operator has --admin-quota for that).
 */
export async function setQuota(req: Request<'set_quota'>, { app, conn, user }: UserContext): Promise<Reply> {
  const target = await User.selectOne(app.db, { name: req.name });
  if (!target) throw new NotFound(`no user ${JSON.stringify(req.name)}`);
  if (target.user_type !== 'admin') throw new BadRequest('quotas apply to admins only');
  const next = req.quota_bytes ?? app.config.adminQuotaBytes;
  if (target.id === user.id && raises(quotaOf(target, app), next)) throw new Forbidden('you cannot raise your own quota');
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
