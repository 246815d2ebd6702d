/**
 * The menus' viewer-policy entries: an admin picks a viewer and a field and types its value
 * (as `cinebox admin policy` takes it, `default` returning it to the class); a viewer sees
 * their own standing.
 */
import type { PolicyChanges } from '../../cinebox-client.js';
import { parsePolicyValue, policyLine, statusText } from '../policy-view.js';
import { pick, type MenuContext } from './menu.js';

type Field = keyof PolicyChanges;

const FIELDS: { field: Field; label: string; hint: string }[] = [
  { field: 'downloads', label: 'Downloads allowed', hint: 'on, off' },
  { field: 'speed_bps', label: 'Speed (shared by all their downloads)', hint: 'e.g. 1M for 1 MiB/s, unlimited' },
  { field: 'daily_bytes', label: 'Bytes a day', hint: 'e.g. 5G, unlimited' },
  { field: 'daily_count', label: 'Downloads a day', hint: 'e.g. 10, unlimited' },
  { field: 'max_sessions', label: 'Live sessions at once', hint: 'e.g. 2, unlimited' },
];
const ALL_DEFAULT = 'all-default' as const;

export async function editViewerPolicy(ctx: MenuContext): Promise<void> {
  const viewers = (await ctx.client.listUsers()).filter((u) => u.user_type === 'user');
  if (viewers.length === 0) {
    ctx.io.print('no viewers yet');
    return;
  }
  const viewer = await pick(
    ctx,
    'Whose policy?',
    viewers.map((v) => ({ name: `${v.name}${Number(v.is_vip) ? ' (VIP)' : ''}  ${v.policy ? policyLine(v.policy) : ''}`, value: v })),
  );
  if (!viewer) return;
  const choice = await pick<Field | typeof ALL_DEFAULT>(ctx, `Change what for ${viewer.name}? (* = set for them)`, [
    ...FIELDS.map((f) => ({ name: f.label, value: f.field })),
    { name: 'Everything back to the class defaults', value: ALL_DEFAULT },
  ]);
  if (!choice) return;
  let changes: PolicyChanges;
  if (choice === ALL_DEFAULT) {
    changes = Object.fromEntries(FIELDS.map((f) => [f.field, null])) as PolicyChanges;
  } else {
    const { hint, label } = FIELDS.find((f) => f.field === choice)!;
    const text = await ctx.io.prompt.input(`${label} (${hint}; default = the class default)`, {
      validate: (value) => {
        try {
          parsePolicyValue(choice, value);
          return true;
        } catch (error) {
          return (error as Error).message;
        }
      },
    });
    changes = { [choice]: parsePolicyValue(choice, text) } as PolicyChanges;
  }
  const { msg } = await ctx.client.setPolicy(viewer.name, changes);
  ctx.io.print(msg);
}

export async function showMyStatus(ctx: MenuContext): Promise<void> {
  ctx.io.print(statusText(await ctx.client.status()));
}
