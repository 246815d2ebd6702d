/** `cinebox server`: run a server node until SIGINT/SIGTERM. */
import type { Argv } from 'yargs';
import type { ServerConfig } from '../../server/config.js';
import { startServer } from '../../server/server.js';
import { resolveServerConfig, settingOptions } from '../server-settings.js';

export const command = 'server';
export const describe = 'Run a cinebox server';

/** The options come from the settings table; a bad value from any source stops the start with one line naming it. */
export function builder(yargs: Argv) {
  return yargs
    .options(settingOptions())
    .check((args) => {
      resolveServerConfig(args);
      return true;
    })
    .epilogue('Every option can also be set as CINEBOX_<OPTION> or in the --config file. Sizes take K/M/G/T (powers of 1024), durations ms/s/m/h/d; plain numbers are bytes and seconds. See docs/configuration.md.');
}

type Args = Record<string, unknown>;

export function configFromArgs(args: Args): ServerConfig {
  return resolveServerConfig(args);
}

/** Runs until SIGTERM/SIGINT, then shuts down gracefully and exits 0; a second signal exits at once. */
export async function handler(args: Args): Promise<void> {
  const running = await startServer(configFromArgs(args));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl-C: cancelled, as in the exit-code table
    stopping = true;
    running.app.log.info({ signal, graceSeconds: running.app.config.shutdownGraceSeconds }, 'shutting down');
    running.shutdown().then(
      () => process.exit(0),
      (error) => {
        running.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
