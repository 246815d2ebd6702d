/**
 * The settings a server runs with, typed and defaulted from the table in settings.ts. The CLI
 * fills it from flags, CINEBOX_* variables and a config file; tests build it directly.
 */
import { SETTINGS, type ServerConfig } from './settings.js';

export type { ServerConfig } from './settings.js';

export const defaultConfig = Object.fromEntries(
  Object.entries(SETTINGS).flatMap(([name, setting]) => ('default' in setting ? [[name, setting.default]] : [])),
) as ServerConfig;

export function configWith(overrides: Partial<ServerConfig>): ServerConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...defaultConfig, ...defined };
}
