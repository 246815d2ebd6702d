/**
 * Every server setting, declared once. The `cinebox server` flags, the CINEBOX_* variables,
 * the config file's keys, ServerConfig, its defaults and docs/configuration.md are all made
 * from this table: adding a setting is adding one entry.
 */
import { DEFAULT_PORT } from '../protocol/defaults.js';

/**
 * How a value is typed by an operator and kept in ServerConfig: `size` in bytes (`64G`),
 * `duration` in seconds (`24h`, `30s`; a plain number is seconds), `money` in cents (`9.90`),
 * `boolean` as `true`/`false`.
 */
export type SettingKind = 'text' | 'integer' | 'number' | 'size' | 'duration' | 'money' | 'boolean';

export interface Setting {
  /** `--flag`, `CINEBOX_FLAG`, and the key in the config file. */
  readonly flag: string;
  readonly kind: SettingKind;
  /** In the config's unit (bytes, seconds, cents); none = unset unless given. */
  readonly default?: string | number | boolean;
  readonly describe: string;
  /** The unit shown in the docs when the kind's name (size, duration, amount) is not it. */
  readonly unit?: string;
  readonly choices?: readonly string[];
  /** Bounds for numbers (inclusive); every number is at least 0. */
  readonly min?: number;
  readonly max?: number;
  /** A size that also takes `unlimited` (stored as 0). */
  readonly unlimited?: boolean;
  /** Why a parsed value is refused, or undefined when it is fine. */
  readonly check?: (value: number) => string | undefined;
}

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const SPEED = { kind: 'size', unit: 'size per second', unlimited: true } as const;
const DAILY = { kind: 'size', unlimited: true } as const;

export const SETTINGS = {
  host: { flag: 'host', kind: 'text', default: '0.0.0.0', describe: 'Address to listen on' },
  port: { flag: 'port', kind: 'integer', default: DEFAULT_PORT, max: 65535, describe: 'TCP port (0 = any free port)' },
  // The name is what ties log lines, heartbeat rows and held uploads to one node of a cluster.
  nodeName: {
    flag: 'node-name',
    kind: 'text',
    describe: "This node's name in every log line, in its heartbeat row and in the uploads it holds; each node of a cluster needs its own (unset: `<hostname>:<port>`, with `--port 0` `<hostname>:<pid>.<random>`)",
  },
  // 2 s: a beat is one small UPDATE; a node missing 3 in a row (6 s) is taken for dead (docs/design.md, "State across nodes").
  nodeBeatSeconds: {
    flag: 'node-beat',
    kind: 'duration',
    default: 2,
    check: (seconds) => (seconds > 0 ? undefined : 'must be above 0'),
    describe: "How often this node writes its heartbeat row; an upload held by a node that missed 3 beats may be taken over at once, without waiting for `--upload-lease`",
  },
  metricsPort: { flag: 'metrics-port', kind: 'integer', max: 65535, describe: 'HTTP port for `GET /health` and `GET /metrics` (Prometheus) (unset: no HTTP port; 0 = any free port)' },
  metricsHost: { flag: 'metrics-host', kind: 'text', default: '127.0.0.1', describe: 'Address the `--metrics-port` listens on (only the balancer and the monitoring need it)' },
  db: { flag: 'db', kind: 'text', default: 'sqlite:data/cinebox.db', describe: 'Database: `sqlite:PATH` or `mysql://user:pass@host:port/db`' },
  mediaDir: { flag: 'media-dir', kind: 'text', default: 'media', describe: 'Where video files are stored (uploads in progress go to `<media-dir>/.incoming/`)' },
  adminCode: { flag: 'admin-code', kind: 'text', describe: 'Code that lets `register` create admins (unset: only `cinebox create-admin` can)' },
  freeWaitSeconds: { flag: 'free-wait', kind: 'duration', default: 30, describe: 'How long a non-VIP viewer waits before a free download' },
  vipPriceCents: { flag: 'vip-price', kind: 'money', default: 3000, describe: 'Price of VIP membership' },
  paidPriceVipCents: { flag: 'price-vip', kind: 'money', default: 500, describe: 'Price of a paid video for VIP viewers' },
  paidPriceNormalCents: { flag: 'price-normal', kind: 'money', default: 1000, describe: 'Price of a paid video for other viewers' },
  sessionIdleSeconds: { flag: 'session-idle', kind: 'duration', default: 30 * 60, describe: 'An unused session expires after this long (it also dies with its connection)' },
  maxHeaderBytes: { flag: 'max-header-bytes', kind: 'size', default: 64 * KiB, describe: 'Largest JSON header accepted' },
  logLevel: {
    flag: 'log-level',
    kind: 'text',
    default: 'info',
    choices: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    describe: 'Log level (pino; pretty lines when stdout is a terminal, JSON lines otherwise)',
  },
  tlsCert: { flag: 'tls-cert', kind: 'text', describe: 'TLS certificate (PEM file); with `--tls-key` the server speaks TLS' },
  tlsKey: { flag: 'tls-key', kind: 'text', describe: 'TLS private key (PEM file)' },
  clientSecret: { flag: 'client-secret', kind: 'text', describe: 'Require the HMAC client handshake with this shared secret' },
  // The balancer's own address is then every client's: only the line tells them apart (docs/deploy.md).
  proxyProtocol: {
    flag: 'proxy-protocol',
    kind: 'text',
    default: 'off',
    choices: ['off', 'v1'],
    describe:
      "`v1`: every connection starts with a PROXY protocol v1 line (HAProxy's `send-proxy`) naming the client, whose address then counts for the limits per address, the login guard and the logs; a connection without a valid line within `--handshake-timeout` is closed. Only for a port that nothing but the balancer can reach",
  },
  handshakeSeconds: { flag: 'handshake-timeout', kind: 'duration', default: 5, describe: 'How long a client has to finish the TLS handshake, and to answer the `--client-secret` handshake' },
  maxConnections: { flag: 'max-connections', kind: 'integer', default: 20_000, describe: 'Connections in total' },
  maxConnectionsPerAddress: { flag: 'max-connections-per-address', kind: 'integer', default: 256, describe: 'Connections from one address' },
  headerDeadlineSeconds: { flag: 'header-deadline', kind: 'duration', default: 10, describe: 'Time to complete a header once its first byte arrived' },
  idleTimeoutSeconds: { flag: 'idle-timeout', kind: 'duration', default: 600, describe: 'A connection with no traffic either way for this long is closed' },
  maxUploadBytes: { flag: 'max-upload', kind: 'size', default: 64 * GiB, describe: 'Largest upload' },
  // 4 KiB/s is below any real link still in use (a 56k modem moves ~5 KiB/s); over 30 s
  // it lets a congested link stall for a while, and a trickler holds a slot for 30 s at most.
  minTransferRate: {
    flag: 'min-transfer-rate',
    kind: 'size',
    unit: 'size per second',
    default: 4 * KiB,
    describe: "Rate an upload's or download's body must average over `--transfer-window`, or the connection is cut (`TIMEOUT` for an upload, whose partial stays resumable; a download is closed); 0 = off",
  },
  transferWindowSeconds: {
    flag: 'transfer-window',
    kind: 'duration',
    default: 30,
    check: (seconds) => (seconds > 0 ? undefined : 'must be above 0'),
    describe: '`--min-transfer-rate` is averaged over this long (for downloads at least the time one 256 KiB buffer takes at that rate)',
  },
  requestsPerSecond: { flag: 'max-request-rate', kind: 'number', unit: 'requests/s', default: 1000, describe: 'Requests per second per connection (burst: twice that; 0 = no limit)' },
  // The guard counts per (address, account) so one person's typos block only themselves (docs/security.md).
  loginMaxFailures: {
    flag: 'login-max-failures',
    kind: 'integer',
    default: 5,
    describe: 'Failed logins of one account from one address before that pair is blocked (1 min, doubling up to 1 h); other accounts on the address are not affected (was `--address-max-failures`, which blocked the whole address)',
  },
  addressMaxAccounts: { flag: 'address-max-accounts', kind: 'integer', default: 20, describe: 'Different accounts one address may fail to log in to within 15 min before the whole address is blocked (spraying)' },
  accountMaxFailures: { flag: 'account-max-failures', kind: 'integer', default: 20, describe: 'Failed logins of one account, from any address, before it is locked for a growing time' },
  // 64 waiting hashes are ~1.6 s of work at the default cost on two cores; 16 per address
  // lets an office behind one NAT log in together while one host cannot fill the queue.
  hashQueueMax: { flag: 'hash-queue', kind: 'integer', default: 64, describe: 'Password checks (login, register) that may wait their turn; past that they get `BUSY`' },
  hashQueuePerAddress: { flag: 'hash-queue-per-address', kind: 'integer', default: 16, describe: 'Password checks one address may have waiting' },
  scryptN: {
    flag: 'scrypt-n',
    kind: 'integer',
    default: 16384,
    min: 1024,
    check: (n) => ((n & (n - 1)) === 0 ? undefined : 'must be a power of two'),
    describe: "scrypt's cost N for new password hashes (a power of two, at least 1024; existing hashes keep theirs)",
  },
  shutdownGraceSeconds: { flag: 'shutdown-grace', kind: 'duration', default: 30, describe: 'On SIGTERM/SIGINT, how long running transfers may take to finish' },
  adminQuotaBytes: {
    flag: 'admin-quota',
    kind: 'size',
    unlimited: true,
    default: 10 * GiB,
    describe: 'Storage each admin may fill (live videos + uploads in progress; `unlimited` or 0 = no limit); `cinebox admin quota` overrides it per admin',
  },
  uploadExpirySeconds: { flag: 'upload-expiry', kind: 'duration', default: 24 * 3600, describe: 'A cut upload nobody resumed for this long is deleted (row and partial file)' },
  uploadLeaseSeconds: { flag: 'upload-lease', kind: 'duration', default: 15, describe: 'An upload whose writer went silent this long (its node died) may be taken over by a resume' },
  durable: {
    flag: 'durable',
    kind: 'boolean',
    default: true,
    describe:
      'Acknowledge an upload only once its bytes, its name and its row are on stable storage (fdatasync, directory fsync, SQLite `synchronous=FULL`); `false` is for benchmarks and throwaway servers: a crash of the process stays safe, a power cut may lose acknowledged uploads (docs/durability.md)',
  },
  scrubIntervalSeconds: {
    flag: 'scrub-interval',
    kind: 'duration',
    default: 0,
    describe: 'Every so long this node hashes every live video and logs what is wrong (`cinebox fsck --full` without repairs); 0 = no scheduled scrub',
  },
  scrubBytesPerSecond: { flag: 'scrub-rate', kind: 'size', unit: 'size per second', default: 32 * 1024 ** 2, describe: 'How fast the scheduled scrub may read, so it leaves the disk to the transfers' },
  ffprobePath: { flag: 'ffprobe', kind: 'text', default: 'ffprobe', describe: "The ffprobe program that reads media facts (docs/media.md); '' = do not probe (no warning)" },
  // ffprobe reads headers only (~0.2 s here); 30 s leaves room for a slow disk or a huge moov.
  probeTimeoutSeconds: {
    flag: 'probe-timeout',
    kind: 'duration',
    default: 30,
    check: (seconds) => (seconds > 0 ? undefined : 'must be above 0'),
    describe: 'A running ffprobe is killed after this long; the video then has no facts until `cinebox media scan`',
  },
  probeConcurrency: { flag: 'probe-concurrency', kind: 'integer', default: 2, min: 1, describe: 'ffprobe runs at once; more wait their turn' },
  // ~150 bytes a video (names and their grams): 16 MB at 100,000, 150 MB at the default cap.
  memoryCatalogVideos: {
    flag: 'memory-catalog',
    kind: 'integer',
    default: 1_000_000,
    describe: 'Pages and name searches are served from a copy of the video list in memory while it has at most this many live videos (each node keeps its own, kept exact by the event log); above it, or 0, they read the database',
  },
  // Off: the original server stored any file, and admins are trusted; "unknown format" shows what it is.
  refuseNonVideo: {
    flag: 'refuse-non-video',
    kind: 'boolean',
    default: false,
    describe: 'Refuse uploads ffprobe does not read as a video (audio only, a still image, unreadable); with no answer from ffprobe the upload is accepted',
  },
  redisUrl: { flag: 'redis', kind: 'text', describe: 'Redis (`redis://host:port`) through which several nodes tell each other of new live events; unset = this node alone' },
  eventRetentionSeconds: {
    flag: 'event-retention',
    kind: 'duration',
    default: 7 * 24 * 3600,
    check: (seconds) => (seconds > 0 ? undefined : 'must be above 0'),
    describe: 'Live events are kept this long for clients that catch up with `since`; an older `since` gets `EVENTS_EXPIRED`',
  },
  // 1,000 events is hours of a busy shop's notices and videos; the frames are shared by all
  // subscribers, so a stuck one holds references, not copies.
  subscriberQueueLimit: {
    flag: 'subscriber-queue-limit',
    kind: 'integer',
    default: 1000,
    min: 1,
    describe: "Live events that may wait for one slow subscriber; past it its stream ends with `fell_behind` (it catches up with `since`)",
  },
  // Viewer policies by class (docs/policies.md says why these defaults); `cinebox admin policy` overrides them per viewer.
  normalDownloads: { flag: 'normal-downloads', kind: 'text', default: 'on', choices: ['on', 'off'], describe: 'Whether normal viewers may download' },
  normalSpeedBps: { flag: 'normal-speed', ...SPEED, default: 2 * MiB, describe: "Download speed of a normal viewer, shared by the account's downloads on a node (`unlimited` or 0 = no limit)" },
  normalDailyBytes: { flag: 'normal-daily', ...DAILY, default: 2 * GiB, describe: 'Bytes a normal viewer may download a day (`unlimited` or 0 = no limit)' },
  normalDailyCount: { flag: 'normal-daily-count', kind: 'integer', default: 50, describe: 'Downloads a normal viewer may make a day (0 = no limit)' },
  normalMaxSessions: { flag: 'normal-max-sessions', kind: 'integer', default: 2, describe: 'Live sessions of a normal viewer; a login past it ends the oldest (0 = no limit)' },
  vipDownloads: { flag: 'vip-downloads', kind: 'text', default: 'on', choices: ['on', 'off'], describe: 'Whether VIP viewers may download' },
  vipSpeedBps: { flag: 'vip-speed', ...SPEED, default: 0, describe: "Download speed of a VIP viewer, shared by the account's downloads on a node (`unlimited` or 0 = no limit)" },
  vipDailyBytes: { flag: 'vip-daily', ...DAILY, default: 0, describe: 'Bytes a VIP viewer may download a day (`unlimited` or 0 = no limit)' },
  vipDailyCount: { flag: 'vip-daily-count', kind: 'integer', default: 0, describe: 'Downloads a VIP viewer may make a day (0 = no limit)' },
  vipMaxSessions: { flag: 'vip-max-sessions', kind: 'integer', default: 4, describe: 'Live sessions of a VIP viewer; a login past it ends the oldest (0 = no limit)' },
  timeZone: {
    flag: 'time-zone',
    kind: 'text',
    describe: "IANA time zone whose midnight resets the viewers' daily allowances, e.g. `Europe/Berlin` (unset: the system's zone)",
  },
} as const satisfies Record<string, Setting>;

type Settings = typeof SETTINGS;
export type SettingName = keyof Settings;
type ValueOf<S> = S extends { kind: 'text' } ? string : S extends { kind: 'boolean' } ? boolean : number;
type WithDefault = { [K in SettingName]: Settings[K] extends { default: unknown } ? K : never }[SettingName];
type WithoutDefault = Exclude<SettingName, WithDefault>;

/** The typed settings a server runs with; those without a default are optional. */
export type ServerConfig = { [K in WithDefault]: ValueOf<Settings[K]> } & { [K in WithoutDefault]?: ValueOf<Settings[K]> };

/** Rules across settings, checked with each setting's own. */
export const SETTING_RULES: ReadonlyArray<(config: ServerConfig) => string | undefined> = [
  (config) => (Boolean(config.tlsCert) !== Boolean(config.tlsKey) ? '--tls-cert and --tls-key go together' : undefined),
  (config) => (config.proxyProtocol !== 'off' && config.tlsCert ? '--proxy-protocol and --tls-cert do not go together: terminate TLS at the balancer (docs/deploy.md)' : undefined),
  (config) => (config.nodeName !== undefined && !/^[\x21-\x7e]{1,64}$/.test(config.nodeName) ? '--node-name must be 1 to 64 printable characters without spaces' : undefined),
  (config) => (config.redisUrl !== undefined && !/^rediss?:\/\//.test(config.redisUrl) ? '--redis must be a redis:// or rediss:// URL' : undefined),
  (config) => (config.timeZone === undefined || knownTimeZone(config.timeZone) ? undefined : `--time-zone: Intl knows no time zone "${config.timeZone}" (use an IANA name such as Europe/Berlin)`),
];

function knownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}
