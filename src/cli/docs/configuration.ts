/** The table of server settings in docs/configuration.md, from the settings table. */
import { SETTINGS, type Setting } from '../../server/settings.js';
import { envNameOf, formatSetting, unitOf } from '../server-settings.js';

export const CONFIGURATION_PART = 'settings';
export const CONFIGURATION_HEADING = '## Settings';

export function configurationTable(): string {
  const settings: Setting[] = Object.values(SETTINGS);
  const rows = settings.map((setting) => {
    const fallback = setting.default === undefined ? 'unset' : `\`${formatSetting(setting, setting.default)}\``;
    const choices = setting.choices ? ` One of ${setting.choices.map((c) => `\`${c}\``).join(', ')}.` : '';
    return `| \`--${setting.flag}\` | \`${envNameOf(setting)}\` | ${fallback} | ${unitOf(setting)} | ${setting.describe}.${choices} |`;
  });
  return ['| flag / file key | variable | default | unit | meaning |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');
}
