/**
 * `cinebox admin policy NAME [--downloads on|off] [--speed 1M] [--daily 5G] [--daily-count 10]
 * [--max-sessions 2] [--default [FIELD..]]`: a viewer's policy overrides. Each option sets that
 * field for this viewer (`unlimited` or 0 = no limit); `--default` returns the fields it names,
 * or all of them when it names none, to the viewer's class (normal or VIP). With no option it
 * shows the policy. docs/policies.md says what each field does.
 */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import type { PolicyChanges } from '../../../client/cinebox-client.js';
import { parsePolicyValue, policyLine } from '../../../client/ui/policy-view.js';
import { fail, runClientCommand, UsageError, type ClientArgs } from '../../client-command.js';

/** Option name → set_policy field. */
const FIELDS = {
  downloads: 'downloads',
  speed: 'speed_bps',
  daily: 'daily_bytes',
  'daily-count': 'daily_count',
  'max-sessions': 'max_sessions',
} as const;
type OptionName = keyof typeof FIELDS;
const OPTIONS = Object.keys(FIELDS) as OptionName[];

type Args = ClientArgs & { viewer: string; default?: string[] } & Partial<Record<OptionName, string>>;

export const command = 'policy <viewer>';
export const describe = "Show or set a viewer's policy: downloads, speed, daily allowance, sessions";

export function builder(yargs: Argv<ClientArgs>) {
  return yargs
    .positional('viewer', { type: 'string', demandOption: true, describe: 'The viewer whose policy to show or set' })
    .option('downloads', { type: 'string', choices: ['on', 'off'], describe: 'Whether they may download' })
    .option('speed', { type: 'string', describe: "Download speed shared by all their downloads (1M = 1 MiB/s; unlimited)" })
    .option('daily', { type: 'string', describe: 'Bytes a day (5G; unlimited)' })
    .option('daily-count', { type: 'string', describe: 'Downloads a day (10; unlimited)' })
    .option('max-sessions', { type: 'string', describe: 'Live sessions at once; a login past it ends the oldest (2; unlimited)' })
    .option('default', { type: 'array', string: true, describe: `Return these fields (${OPTIONS.join(', ')}), or all when none is named, to the class default` })
    .example('$0 admin policy bob --speed 1M --daily 5G', 'bob: 1 MiB/s, 5 GiB a day')
    .example('$0 admin policy bob --default speed', "bob's speed follows his class again")
    .example('$0 admin policy bob --default', 'every field of bob back to the class default');
}

/** The set_policy fields the options ask for; throws a UsageError naming a bad value. */
export function policyChanges(args: Partial<Record<OptionName, string>> & { default?: string[] }): PolicyChanges {
  const changes: Record<string, number | null> = {};
  const cleared = args.default === undefined ? [] : args.default.length === 0 ? OPTIONS : args.default;
  for (const name of cleared) {
    if (!(name in FIELDS)) throw new UsageError(`--default: no field "${name}" (one of ${OPTIONS.join(', ')})`);
    changes[FIELDS[name as OptionName]] = null;
  }
  for (const name of OPTIONS) {
    const text = args[name];
    if (text === undefined) continue;
    if (cleared.includes(name)) throw new UsageError(`--${name} and --default ${name} contradict each other`);
    try {
      changes[FIELDS[name]] = parsePolicyValue(FIELDS[name], String(text));
    } catch (error) {
      throw new UsageError(`--${name}: ${(error as Error).message}`);
    }
  }
  return changes as PolicyChanges;
}

export async function handler(args: ArgumentsCamelCase<Args>): Promise<void> {
  let changes: PolicyChanges;
  try {
    changes = policyChanges(args);
  } catch (error) {
    fail(error);
    return;
  }
  return runClientCommand(args, 'admin', true, async ({ client, say }) => {
    if (Object.keys(changes).length === 0) {
      const viewer = (await client.listUsers()).find((u) => u.name === args.viewer);
      if (!viewer) throw new UsageError(`no user "${args.viewer}"`);
      if (!viewer.policy) throw new UsageError(`"${args.viewer}" has no viewer policy (an admin, or a server without policies)`);
      say(`${viewer.name}: ${policyLine(viewer.policy)}${viewer.policy.overrides.length ? ' (* set for this viewer)' : ''}`);
      return { name: viewer.name, policy: viewer.policy };
    }
    const { msg, policy } = await client.setPolicy(args.viewer, changes);
    say(msg);
    return { name: args.viewer, policy };
  });
}
