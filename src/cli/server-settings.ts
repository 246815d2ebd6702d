/**
 * Turns the settings table (src/server/settings.ts) into what an operator types: yargs
 * options, values with units, the JSON config file. Precedence: flag > CINEBOX_* variable
 * (both arrive as yargs arguments, yargs ranks them) > config file > the table's default.
 */
import { readFileSync } from 'node:fs';
import type { Options } from 'yargs';
import { formatCents } from '../client/ui/units.js';
import { SETTING_RULES, SETTINGS, type ServerConfig, type Setting, type SettingName } from '../server/settings.js';
import { formatDuration, parseDuration } from './durations.js';
import { toCents } from './money.js';
import { formatSize, parseQuota, parseSize } from './sizes.js';

const names = Object.keys(SETTINGS) as SettingName[];
const settingOf = (name: SettingName): Setting => SETTINGS[name];

export const envNameOf = (setting: Setting) => `CINEBOX_${setting.flag.replace(/-/g, '_').toUpperCase()}`;

/** How a value of this setting is written in the docs, the help and a config file. */
export function formatSetting(setting: Setting, value: string | number | boolean): string {
  if (typeof value === 'string' || typeof value === 'boolean') return String(value);
  switch (setting.kind) {
    case 'size':
      return setting.unlimited && value === 0 ? 'unlimited' : formatSize(value);
    case 'duration':
      return formatDuration(value);
    case 'money':
      return formatCents(value);
    default:
      return String(value);
  }
}

/** The unit column of the docs (docs/configuration.md says how each is written). */
export function unitOf(setting: Setting): string {
  if (setting.unit) return setting.unit;
  return { text: '', integer: '', number: '', size: 'size', duration: 'duration', money: 'amount', boolean: '' }[setting.kind];
}

/**
 * One yargs option per setting. Values are ours to read (units), so yargs is told no number
 * type; and no default, so an absent flag falls through to the file.
 */
export function settingOptions(): Record<string, Options> {
  const options: Record<string, Options> = {
    config: { type: 'string', requiresArg: true, describe: 'Read settings from this JSON file ({"max-upload": "64G", …}); flags and CINEBOX_* override it' },
  };
  for (const name of names) {
    const setting = settingOf(name);
    options[setting.flag] = {
      ...(setting.kind === 'text' ? { type: 'string' as const } : {}),
      requiresArg: true,
      describe: setting.describe.replace(/`/g, ''),
      ...(setting.choices ? { choices: [...setting.choices] } : {}),
      ...(setting.default !== undefined ? { defaultDescription: formatSetting(setting, setting.default) } : {}),
    };
  }
  return options;
}

const textual = (raw: unknown): raw is string | number => typeof raw === 'string' || (typeof raw === 'number' && Number.isFinite(raw));

/** The value of `setting` from a flag, variable or file entry; throws saying what is wrong with it. */
export function parseSetting(setting: Setting, raw: unknown): string | number | boolean | undefined {
  if (setting.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const word = String(raw).trim().toLowerCase();
    if (word === 'true' || word === '1' || word === 'yes') return true;
    if (word === 'false' || word === '0' || word === 'no') return false;
    throw new Error(`must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (setting.kind === 'text') {
    if (typeof raw !== 'string') throw new Error(`must be a string, got ${JSON.stringify(raw)}`);
    if (setting.choices && !setting.choices.includes(raw)) throw new Error(`must be one of ${setting.choices.join(', ')}, got "${raw}"`);
    // An empty value means unset, as `--admin-code ''` always did.
    return raw === '' && setting.default === undefined ? undefined : raw;
  }
  if (!textual(raw)) throw new Error(`must be ${describeKind(setting)}, got ${JSON.stringify(raw)}`);
  const value = parseNumber(setting, String(raw));
  if (!(value >= (setting.min ?? 0))) throw new Error(`must be at least ${formatSetting(setting, setting.min ?? 0)}, got ${raw}`);
  if (setting.max !== undefined && value > setting.max) throw new Error(`must be at most ${formatSetting(setting, setting.max)}, got ${raw}`);
  const refused = setting.check?.(value);
  if (refused) throw new Error(`${refused}, got ${raw}`);
  return value;
}

function parseNumber(setting: Setting, text: string): number {
  switch (setting.kind) {
    case 'size': {
      if (!setting.unlimited) return parseSize(text);
      return parseQuota(text) ?? Number(setting.default);
    }
    case 'duration':
      return parseDuration(text);
    case 'money':
      try {
        return toCents(text, setting.flag);
      } catch {
        throw new Error(`must be ${describeKind(setting)}, got "${text}"`);
      }
    case 'integer':
      if (!/^\s*-?\d+\s*$/.test(text)) throw new Error(`must be ${describeKind(setting)}, got "${text}"`);
      return Number(text);
    default:
      if (!/^\s*-?\d+(\.\d+)?\s*$/.test(text)) throw new Error(`must be ${describeKind(setting)}, got "${text}"`);
      return Number(text);
  }
}

function describeKind(setting: Setting): string {
  return {
    text: 'a string',
    integer: 'a whole number',
    number: 'a number',
    size: 'a size such as 64G or a number of bytes',
    duration: 'a duration such as 24h or a number of seconds',
    money: 'an amount such as 9.90',
    boolean: 'true or false',
  }[setting.kind];
}

/**
 * The settings in a JSON config file, keyed by flag name (one name per setting everywhere);
 * unknown keys are refused with a suggestion. Paths in it are left as written, so they are
 * read from the working directory as on the command line. JSON: no parser beyond Node's.
 */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`cannot read the config file ${path}: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${path} must hold one JSON object of settings`);
  const flags = new Set(names.map((name) => settingOf(name).flag));
  for (const key of Object.keys(parsed)) {
    if (flags.has(key)) continue;
    const guess = closestFlag(key);
    throw new Error(`${path}: unknown setting "${key}"${guess ? ` (did you mean "${guess}"?)` : ''}; the keys are the flags of \`cinebox server --help\` without the dashes`);
  }
  return parsed as Record<string, unknown>;
}

/** "maxUpload", "max_upload", "max-uplod" → "max-upload". */
function closestFlag(key: string): string | undefined {
  const squash = (text: string) => text.toLowerCase().replace(/[-_]/g, '');
  let best: { flag: string; distance: number } | undefined;
  for (const name of names) {
    const { flag } = settingOf(name);
    if (squash(flag) === squash(key) || squash(name) === squash(key)) return flag;
    const distance = editDistance(squash(flag), squash(key));
    if (distance <= 2 && (!best || distance < best.distance)) best = { flag, distance };
  }
  return best?.flag;
}

function editDistance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    row = next;
  }
  return row[b.length];
}

/**
 * The ServerConfig from yargs arguments (flags and CINEBOX_* variables, keyed by flag) and
 * the config file they name; throws one message naming the setting and where it came from.
 */
export function resolveServerConfig(args: Record<string, unknown>): ServerConfig {
  const configPath = typeof args.config === 'string' && args.config !== '' ? args.config : undefined;
  const file = configPath ? readConfigFile(configPath) : {};
  const config: Record<string, unknown> = {};
  for (const name of names) {
    const setting = settingOf(name);
    const fromArgs = args[setting.flag] !== undefined;
    const raw = fromArgs ? args[setting.flag] : file[setting.flag];
    if (raw === undefined) {
      if (setting.default !== undefined) config[name] = setting.default;
      continue;
    }
    try {
      const value = parseSetting(setting, raw);
      if (value !== undefined) config[name] = value;
    } catch (error) {
      const where = fromArgs ? `--${setting.flag} (or ${envNameOf(setting)})` : `"${setting.flag}" in ${configPath}`;
      throw new Error(`${where}: ${(error as Error).message}`);
    }
  }
  for (const rule of SETTING_RULES) {
    const refused = rule(config as ServerConfig);
    if (refused) throw new Error(refused);
  }
  return config as ServerConfig;
}
