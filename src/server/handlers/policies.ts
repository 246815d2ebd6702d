/**
 * Viewer policies over the wire: an admin sets or clears a viewer's overrides (set_policy),
 * a viewer reads their own standing (user_status), and list_users carries each viewer's
 * policy and today's usage (policySummaries).
 */
import { DownloadUsage, LiveSession, Movie, Purchase, User, ViewerPolicy } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { App, UserContext } from '../context.js';
import { BadRequest, NotFound } from '../errors.js';
import { usageToday } from '../policies/daily-allowance.js';
import { dayClockFor } from '../policies/day-clock.js';
import { effectivePolicy, policyOf, POLICY_FIELDS, type EffectivePolicy, type PolicyField } from '../policies/policy.js';
import { liveSessionCount } from '../policies/live-sessions.js';
import { formatSize } from '../uploads/quota.js';

/** The policy as replies carry it. */
function policyReply(policy: EffectivePolicy): Record<string, unknown> {
  const { vip, overrides, ...values } = policy;
  return { ...values, is_vip: vip ? 1 : 0, overrides };
}

export async function setPolicy(req: Request<'set_policy'>, { app, conn, user }: UserContext): Promise<Reply> {
  const target = await User.selectOne(app.db, { name: req.name });
  if (!target) throw new NotFound(`no user ${JSON.stringify(req.name)}`);
  if (target.user_type !== 'user') throw new BadRequest('policies apply to viewers only');
  const given = POLICY_FIELDS.filter((field) => req[field] !== undefined);
  if (given.length === 0) throw new BadRequest(`set_policy: give at least one of ${POLICY_FIELDS.join(', ')} (null = the class default)`);
  const changes = Object.fromEntries(given.map((field) => [field, req[field]])) as Partial<Record<PolicyField, number | null>>;
  await upsertOverrides(app, target.id, changes);
  const policy = await policyOf(app, target);
  conn.log.info({ by: user.id, target: target.id, ...changes }, 'viewer policy set');
  return { flag: true, msg: `policy of ${target.name}: ${describePolicy(policy)}`, name: target.name, policy: policyReply(policy) };
}

/** Two admins setting fields at once each keep theirs: the UPDATE names only the given fields. */
async function upsertOverrides(app: App, userId: number, changes: Partial<Record<PolicyField, number | null>>): Promise<void> {
  if ((await ViewerPolicy.updateWhere(app.db, changes, { user_id: userId })) > 0) return;
  try {
    await ViewerPolicy.from({ user_id: userId, ...changes }).save(app.db);
  } catch {
    // Made meanwhile by another admin's request: update it instead.
    await ViewerPolicy.updateWhere(app.db, changes, { user_id: userId });
  }
}

export async function userStatus(_req: Request<'user_status'>, { app, user }: UserContext): Promise<Reply> {
  const [policy, usage, sessions, purchases] = await Promise.all([
    policyOf(app, user),
    usageToday(app, user.id),
    liveSessionCount(app, user.id),
    Purchase.select(app.db, { user_id: user.id }, { orderBy: [['id', 'asc']] }),
  ]);
  const ids = [...new Set(purchases.map((p) => p.movie_id))];
  const names = new Map(ids.length ? (await Movie.select(app.db, { id: ids })).map((m) => [m.id, m.name]) : []);
  const clock = dayClockFor(app.config.timeZone);
  return {
    flag: true,
    name: user.name,
    is_vip: user.is_vip,
    policy: policyReply(policy),
    usage: {
      day: usage.day,
      bytes: usage.bytes,
      count: usage.count,
      resets_at: usage.resetsAt.toISOString(),
      resets_at_text: clock.describe(usage.resetsAt),
      time_zone: clock.timeZone,
    },
    sessions,
    purchases: purchases.map((p) => ({
      movie_id: p.movie_id,
      name: names.get(p.movie_id) ?? `#${p.movie_id}`,
      price_cents: p.price,
      create_time: p.create_time.toISOString(),
    })),
  };
}

/** Each viewer's policy and today's usage, for list_users: three reads for the whole list. */
export async function policySummaries(app: App, users: User[]): Promise<Map<number, Record<string, unknown>>> {
  const viewers = users.filter((u) => u.user_type === 'user');
  const summaries = new Map<number, Record<string, unknown>>();
  if (viewers.length === 0) return summaries;
  const day = dayClockFor(app.config.timeZone).dayOf(new Date());
  const ids = viewers.map((u) => u.id);
  const [rows, usage, sessions] = await Promise.all([
    ViewerPolicy.select(app.db, { user_id: ids }),
    DownloadUsage.select(app.db, { user_id: ids, day }),
    LiveSession.select(app.db, { user_id: ids }, { columns: ['user_id'] }),
  ]);
  const rowOf = new Map(rows.map((r) => [r.user_id, r]));
  const usageOf = new Map(usage.map((u) => [u.user_id, u]));
  const sessionsOf = new Map<number, number>();
  for (const s of sessions) sessionsOf.set(s.user_id, (sessionsOf.get(s.user_id) ?? 0) + 1);
  for (const viewer of viewers) {
    const used = usageOf.get(viewer.id);
    summaries.set(viewer.id, {
      policy: policyReply(effectivePolicy(app.config, viewer, rowOf.get(viewer.id))),
      usage_today: { day, bytes: Number(used?.bytes ?? 0), count: Number(used?.count ?? 0) },
      sessions: sessionsOf.get(viewer.id) ?? 0,
    });
  }
  return summaries;
}

function describePolicy(p: EffectivePolicy): string {
  const unlimited = (value: number, show: (v: number) => string) => (value === 0 ? 'unlimited' : show(value));
  return [
    `downloads ${p.downloads ? 'on' : 'off'}`,
    `speed ${unlimited(p.speed_bps, (v) => `${formatSize(v)}/s`)}`,
    `daily ${unlimited(p.daily_bytes, formatSize)}`,
    `daily count ${unlimited(p.daily_count, String)}`,
    `max sessions ${unlimited(p.max_sessions, String)}`,
  ].join(', ') + (p.overrides.length ? ` (set for this viewer: ${p.overrides.join(', ')})` : ' (all from the class defaults)');
}
