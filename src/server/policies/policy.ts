/**
 * A viewer's policy: what they may download, how fast, how much a day, and how many sessions
 * they may hold. Each field is the admin's override (viewer_policy) or else the default of
 * the viewer's class, normal or VIP, from the server's settings; 0 means unlimited.
 */
import { ViewerPolicy, type User } from '../../orm/models/index.js';
import type { ServerConfig } from '../config.js';
import type { App } from '../context.js';

/** The fields, named as on the wire and in the table. */
export const POLICY_FIELDS = ['downloads', 'speed_bps', 'daily_bytes', 'daily_count', 'max_sessions'] as const;
export type PolicyField = (typeof POLICY_FIELDS)[number];
export type PolicyValues = Record<PolicyField, number>;

export interface EffectivePolicy extends PolicyValues {
  vip: boolean;
  /** The fields an admin set for this viewer; the others follow the class. */
  overrides: PolicyField[];
}

export function classDefaults(config: ServerConfig, vip: boolean): PolicyValues {
  return vip
    ? {
        downloads: config.vipDownloads === 'on' ? 1 : 0,
        speed_bps: config.vipSpeedBps,
        daily_bytes: config.vipDailyBytes,
        daily_count: config.vipDailyCount,
        max_sessions: config.vipMaxSessions,
      }
    : {
        downloads: config.normalDownloads === 'on' ? 1 : 0,
        speed_bps: config.normalSpeedBps,
        daily_bytes: config.normalDailyBytes,
        daily_count: config.normalDailyCount,
        max_sessions: config.normalMaxSessions,
      };
}

export function effectivePolicy(config: ServerConfig, user: Pick<User, 'is_vip'>, row: ViewerPolicy | undefined): EffectivePolicy {
  const vip = user.is_vip === 1;
  const values = classDefaults(config, vip);
  const overrides: PolicyField[] = [];
  for (const field of POLICY_FIELDS) {
    const value = row?.[field];
    if (value === null || value === undefined) continue;
    values[field] = Number(value);
    overrides.push(field);
  }
  return { ...values, vip, overrides };
}

/** Read fresh on every download and login, so an admin's change holds at once on every node. */
export async function policyOf(app: App, user: User): Promise<EffectivePolicy> {
  const row = await ViewerPolicy.selectOne(app.db, { user_id: user.id });
  return effectivePolicy(app.config, user, row);
}
