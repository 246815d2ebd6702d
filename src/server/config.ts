/**
 * Server settings. Defaults make `npm start` work on a fresh clone: an embedded SQLite
 * file under data/ and videos under media/. The CLI fills this from flags and CINEBOX_*
 * environment variables; tests build it directly.
 */
export interface ServerConfig {
  host: string;
  port: number;
  /** `sqlite:PATH` (default) or `mysql://user:pass@host:port/db`. */
  db: string;
  mediaDir: string;
  /** Lets `register` create admins when the request carries it; unset = admins only via create-admin. */
  adminCode?: string;
  /** Seconds a non-VIP viewer waits before a free download (the original's 30). */
  freeWaitSeconds: number;
  /** Prices in cents. */
  vipPriceCents: number;
  paidPriceVipCents: number;
  paidPriceNormalCents: number;
  /** A session unused this long is dropped (it also dies with its connection). */
  sessionIdleSeconds: number;
  maxHeaderBytes: number;
  logLevel: string;

  /** TLS: both set = the server speaks TLS (node:tls); unset = plain TCP. */
  tlsCert?: string;
  tlsKey?: string;
  /** When set, a client must first answer HMAC-SHA256(secret, nonce) to a 32-byte nonce. */
  clientSecret?: string;
  /** Seconds a client has to answer the handshake. */
  handshakeSeconds: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  /** Seconds a client has to complete a header once its first byte arrived (slowloris). */
  headerDeadlineSeconds: number;
  /** A connection with no traffic either way for this long is closed. */
  idleTimeoutSeconds: number;
  maxUploadBytes: number;
  /**
   * An upload's or download's bytes must move at least this many bytes per second on
   * average over every `transferWindowSeconds`, or the connection is cut (trickling); 0 = off.
   */
  minTransferRate: number;
  transferWindowSeconds: number;
  /** Requests per second one connection may make on average (burst: twice that); 0 = no limit. */
  requestsPerSecond: number;
  /** Failed logins from one address before it is blocked (then for 1 min, doubling, up to 1 h). */
  addressMaxFailures: number;
  /** Failed logins of one account, from any address, before it is locked for a growing time. */
  accountMaxFailures: number;
  /** scrypt's cost N for new password hashes (a power of two; existing hashes keep theirs). */
  scryptN: number;
  /** On SIGTERM/SIGINT, how long running transfers may take to finish. */
  shutdownGraceSeconds: number;

  /** Storage each admin may fill (live videos + uploads in progress); user.quota_bytes overrides; 0 = no limit. */
  adminQuotaBytes: number;
  /** A cut upload nobody resumed for this long is deleted (row and partial file). */
  uploadExpirySeconds: number;
  /** An upload whose writer went silent this long (its node died) may be taken over by a resume. */
  uploadLeaseSeconds: number;

  /** Viewer policies by class (docs/policies.md); `cinebox admin policy` overrides them per viewer. 0 = unlimited. */
  normalDownloads: number;
  normalSpeedBps: number;
  normalDailyBytes: number;
  normalDailyCount: number;
  normalMaxSessions: number;
  vipDownloads: number;
  vipSpeedBps: number;
  vipDailyBytes: number;
  vipDailyCount: number;
  vipMaxSessions: number;
  /** IANA zone whose midnight resets the daily allowances; default: the system's zone. */
  timeZone: string;
}

export const defaultConfig: ServerConfig = {
  host: '0.0.0.0',
  port: 1688,
  db: 'sqlite:data/cinebox.db',
  mediaDir: 'media',
  freeWaitSeconds: 30,
  vipPriceCents: 3000,
  paidPriceVipCents: 500,
  paidPriceNormalCents: 1000,
  sessionIdleSeconds: 30 * 60,
  maxHeaderBytes: 64 * 1024,
  logLevel: 'info',
  handshakeSeconds: 5,
  maxConnections: 20_000,
  maxConnectionsPerAddress: 256,
  headerDeadlineSeconds: 10,
  idleTimeoutSeconds: 600,
  maxUploadBytes: 64 * 1024 ** 3,
  // 4 KiB/s is below any real link still in use (a 56k modem moves ~5 KiB/s); over 30 s
  // it lets a congested link stall for a while, and a trickler holds a slot for 30 s at most.
  minTransferRate: 4096,
  transferWindowSeconds: 30,
  requestsPerSecond: 1000,
  addressMaxFailures: 5,
  accountMaxFailures: 20,
  shutdownGraceSeconds: 30,
  scryptN: 16384,
  adminQuotaBytes: 10 * 1024 ** 3,
  uploadExpirySeconds: 24 * 3600,
  uploadLeaseSeconds: 15,
  // Why these numbers: docs/policies.md ("Defaults").
  normalDownloads: 1,
  normalSpeedBps: 2 * 1024 ** 2,
  normalDailyBytes: 2 * 1024 ** 3,
  normalDailyCount: 50,
  normalMaxSessions: 2,
  vipDownloads: 1,
  vipSpeedBps: 0,
  vipDailyBytes: 0,
  vipDailyCount: 0,
  vipMaxSessions: 4,
  timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
};

export function configWith(overrides: Partial<ServerConfig>): ServerConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...defaultConfig, ...defined };
}
