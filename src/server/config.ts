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
};

export function configWith(overrides: Partial<ServerConfig>): ServerConfig {
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  return { ...defaultConfig, ...defined };
}
