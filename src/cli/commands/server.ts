/** `cinebox server`: run a server node until SIGINT/SIGTERM. */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { configWith, defaultConfig, type ServerConfig } from '../../server/config.js';
import { startServer } from '../../server/server.js';
import { toCents } from '../money.js';

export const command = 'server';
export const describe = 'Run a cinebox server';

export function builder(yargs: Argv) {
  return yargs
    .option('host', { type: 'string', default: defaultConfig.host, describe: 'Address to listen on' })
    .option('port', { type: 'number', default: defaultConfig.port, describe: 'TCP port (0 = any free port)' })
    .option('db', { type: 'string', default: defaultConfig.db, describe: 'Database: sqlite:PATH or mysql://user:pass@host:port/db' })
    .option('media-dir', { type: 'string', default: defaultConfig.mediaDir, describe: 'Where video files are stored' })
    .option('admin-code', { type: 'string', describe: 'Code that lets `register` create admins (unset: only create-admin can)' })
    .option('free-wait', { type: 'number', default: defaultConfig.freeWaitSeconds, describe: 'Seconds a non-VIP viewer waits before a free download' })
    .option('vip-price', { type: 'string', default: '30.00', describe: 'Price of VIP membership' })
    .option('price-vip', { type: 'string', default: '5.00', describe: 'Price of a paid video for VIP viewers' })
    .option('price-normal', { type: 'string', default: '10.00', describe: 'Price of a paid video for other viewers' })
    .option('session-idle', { type: 'number', default: defaultConfig.sessionIdleSeconds, describe: 'Seconds before an unused session expires' })
    .option('max-header-bytes', { type: 'number', default: defaultConfig.maxHeaderBytes, describe: 'Largest JSON header accepted' })
    .option('log-level', {
      type: 'string',
      default: defaultConfig.logLevel,
      choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
      describe: 'Log level (JSON lines on stdout)',
    });
}

type Args = ArgumentsCamelCase<Awaited<ReturnType<typeof builder>['argv']>>;

export function configFromArgs(args: Args): ServerConfig {
  return configWith({
    host: args.host,
    port: args.port,
    db: args.db,
    mediaDir: args.mediaDir,
    adminCode: args.adminCode || undefined,
    freeWaitSeconds: args.freeWait,
    vipPriceCents: toCents(args.vipPrice, 'vip-price'),
    paidPriceVipCents: toCents(args.priceVip, 'price-vip'),
    paidPriceNormalCents: toCents(args.priceNormal, 'price-normal'),
    sessionIdleSeconds: args.sessionIdle,
    maxHeaderBytes: args.maxHeaderBytes,
    logLevel: args.logLevel,
  });
}

export async function handler(args: Args): Promise<void> {
  const running = await startServer(configFromArgs(args));
  const stop = (signal: string) => {
    running.app.log.info({ signal }, 'shutting down');
    running.close().then(
      () => process.exit(0),
      (error) => {
        running.app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}
