/** `cinebox server`: run a server node until SIGINT/SIGTERM. */
import type { ArgumentsCamelCase, Argv } from 'yargs';
import { configWith, defaultConfig, type ServerConfig } from '../../server/config.js';
import { startServer } from '../../server/server.js';
import { toCents } from '../money.js';
import { parseQuota } from '../sizes.js';

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
    .option('tls-cert', { type: 'string', describe: 'TLS certificate (PEM); with --tls-key the server speaks TLS' })
    .option('tls-key', { type: 'string', describe: 'TLS private key (PEM)' })
    .option('client-secret', { type: 'string', describe: 'Require the HMAC handshake with this shared secret' })
    .option('max-connections', { type: 'number', default: defaultConfig.maxConnections, describe: 'Connections in total' })
    .option('max-connections-per-address', { type: 'number', default: defaultConfig.maxConnectionsPerAddress, describe: 'Connections from one address' })
    .option('header-deadline', { type: 'number', default: defaultConfig.headerDeadlineSeconds, describe: 'Seconds to complete a header once it started' })
    .option('idle-timeout', { type: 'number', default: defaultConfig.idleTimeoutSeconds, describe: 'Seconds without traffic before a connection is closed' })
    .option('max-upload', { type: 'number', default: defaultConfig.maxUploadBytes, describe: 'Largest upload in bytes' })
    .option('min-transfer-rate', { type: 'number', default: defaultConfig.minTransferRate, describe: 'Bytes per second an upload or download must average over --transfer-window, or it is cut (0 = off)' })
    .option('transfer-window', { type: 'number', default: defaultConfig.transferWindowSeconds, describe: 'Seconds over which --min-transfer-rate is averaged' })
    .option('max-request-rate', { type: 'number', default: defaultConfig.requestsPerSecond, describe: 'Requests per second per connection (0 = no limit)' })
    .option('address-max-failures', { type: 'number', default: defaultConfig.addressMaxFailures, describe: 'Failed logins before an address is blocked' })
    .option('account-max-failures', { type: 'number', default: defaultConfig.accountMaxFailures, describe: 'Failed logins before an account is locked for a while' })
    .option('scrypt-n', { type: 'number', default: defaultConfig.scryptN, describe: 'scrypt cost N for new password hashes (power of two)' })
    .option('shutdown-grace', { type: 'number', default: defaultConfig.shutdownGraceSeconds, describe: 'Seconds running transfers get on SIGTERM/SIGINT' })
    .option('admin-quota', { type: 'string', default: '10G', describe: 'Storage per admin (500M, 2G, …; unlimited); `cinebox admin quota` overrides it per admin' })
    .option('upload-expiry', { type: 'number', default: defaultConfig.uploadExpirySeconds, describe: 'Seconds a cut upload stays resumable before it is deleted' })
    .option('ffprobe', { type: 'string', default: defaultConfig.ffprobePath, describe: "ffprobe program for media facts ('' = do not probe)" })
    .option('probe-timeout', { type: 'number', default: defaultConfig.probeTimeoutSeconds, describe: 'Seconds before a running ffprobe is killed' })
    .option('probe-concurrency', { type: 'number', default: defaultConfig.probeConcurrency, describe: 'ffprobe runs at once' })
    .option('refuse-non-video', { type: 'boolean', default: defaultConfig.refuseNonVideo, describe: 'Refuse uploads ffprobe does not read as video' })
    .check((args) => {
      if (Boolean(args.tlsCert) !== Boolean(args.tlsKey)) throw new Error('--tls-cert and --tls-key go together');
      const n = Number(args.scryptN);
      if (!Number.isInteger(n) || n < 1024 || (n & (n - 1)) !== 0) throw new Error('--scrypt-n must be a power of two, at least 1024');
      if (!(Number(args.minTransferRate) >= 0)) throw new Error('--min-transfer-rate must be a number of bytes per second, 0 or more');
      if (!(Number(args.transferWindow) > 0)) throw new Error('--transfer-window must be a number of seconds above 0');
      if (!(Number(args.probeTimeout) > 0)) throw new Error('--probe-timeout must be a number of seconds above 0');
      if (!(Number.isInteger(Number(args.probeConcurrency)) && Number(args.probeConcurrency) >= 1)) throw new Error('--probe-concurrency must be a whole number, at least 1');
      return true;
    })
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
    tlsCert: args.tlsCert,
    tlsKey: args.tlsKey,
    clientSecret: args.clientSecret || undefined,
    maxConnections: args.maxConnections,
    maxConnectionsPerAddress: args.maxConnectionsPerAddress,
    headerDeadlineSeconds: args.headerDeadline,
    idleTimeoutSeconds: args.idleTimeout,
    maxUploadBytes: args.maxUpload,
    minTransferRate: args.minTransferRate,
    transferWindowSeconds: args.transferWindow,
    requestsPerSecond: args.maxRequestRate,
    addressMaxFailures: args.addressMaxFailures,
    accountMaxFailures: args.accountMaxFailures,
    shutdownGraceSeconds: args.shutdownGrace,
    scryptN: args.scryptN,
    adminQuotaBytes: parseQuota(args.adminQuota) ?? defaultConfig.adminQuotaBytes,
    uploadExpirySeconds: args.uploadExpiry,
    ffprobePath: args.ffprobe,
    probeTimeoutSeconds: args.probeTimeout,
    probeConcurrency: args.probeConcurrency,
    refuseNonVideo: args.refuseNonVideo,
  });
}

/** Runs until SIGTERM/SIGINT, then shuts down gracefully and exits 0; a second signal exits at once. */
export async function handler(args: Args): Promise<void> {
  const running = await startServer(configFromArgs(args));
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(1);
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
