/**
 * What a person can do with a cinebox server, as typed methods on one connection. The
 * menus and the scriptable commands both use this class, so neither builds requests nor
 * touches a socket; an empty list comes back as `[]`, not as the server's "no videos yet".
 */
import { FREE_LABEL, type EventFrame, type EventsEndedFrame, type EventTopic, type MovieDetails, type MovieOrder, type Reply } from '../protocol/messages.js';
import { wirePassword } from '../protocol/wire-password.js';
import { ClientConnection, ConnectionError, ServerError, type ConnectOptions, type Fields } from './connection.js';
import { downloadMovie, type DownloadOptions, type DownloadResult } from './download.js';
import { backoffDelay, DEFAULT_RETRIES, isDrop, pause, type RetryOptions } from './retry.js';
import { uploadFile, type UploadOptions } from './upload.js';

export type Role = 'admin' | 'user';

/**
 * How long a retried upload waits for the lease of its cut attempt: a dead node's is free
 * once it missed three heartbeats (6 s by default), a live writer's after --upload-lease (15 s).
 */
const WAIT_LIMIT_MS = 30_000;
const WAIT_STEP_MS = 1000;
export type MovieFilter = 'all' | 'free' | 'charge';

/** A listed video; size, hash and time are missing when the server predates `details`. */
export type MovieRow = Pick<MovieDetails, 'id' | 'name' | 'is_free'> & Partial<Omit<MovieDetails, 'id' | 'name' | 'is_free'>>;

/** One page of the list (`moviePage`). */
export interface MoviePageQuery {
  filter?: MovieFilter;
  /** Names containing this (case-insensitive). */
  search?: string;
  limit?: number;
  /** The `nextAfter` of the page before. */
  after?: number;
  order?: MovieOrder;
}

export interface MoviePage {
  movies: MovieRow[];
  /** Pass as `after` for the next page; null on the last page (and from servers without pages). */
  nextAfter: number | null;
}

export interface NoticeRow {
  id?: number;
  title: string;
  content: string;
  create_time?: string;
}

export interface HistoryRow {
  movie_id?: number;
  name: string;
  create_time?: string;
}

/** An account as `list_users` shows it to an admin; times are ISO strings. */
export interface UserRow {
  id: number;
  name: string;
  user_type: Role;
  is_vip: number;
  /** Locked by an admin: only an unlock lets them in again. */
  is_locked: number;
  failed_logins: number;
  /** Locked by the server after repeated failed logins, until then (null when not). */
  locked_until: string | null;
  register_time: string;
  /** Viewers only, from servers with viewer policies. */
  policy?: ViewerPolicyRow;
  usage_today?: { day: string; bytes: number; count: number };
  sessions?: number;
}

/** A viewer's policy as the server applies it; 0 = unlimited. */
export interface ViewerPolicyRow {
  downloads: number;
  speed_bps: number;
  daily_bytes: number;
  daily_count: number;
  max_sessions: number;
  is_vip: number;
  /** The fields an admin set for this viewer; the others follow the class (normal or VIP). */
  overrides: string[];
}

/** set_policy's fields: a value sets it for the viewer, null returns it to the class default. */
export type PolicyChanges = Partial<Record<'speed_bps' | 'daily_bytes' | 'daily_count' | 'max_sessions', number | null>> & { downloads?: 0 | 1 | null };

/** What `user_status` tells a viewer about their own account. */
export interface ViewerStatus {
  name: string;
  is_vip: number;
  policy: ViewerPolicyRow;
  usage: { day: string; bytes: number; count: number; resets_at: string; resets_at_text: string; time_zone: string };
  sessions: number;
  purchases: { movie_id: number; name: string; price_cents: number; create_time: string }[];
}

/** Prices (in cents) and the non-VIP wait, as the server will apply them. */
/** A login block: a whole address (`account` null: it failed against many accounts) or one account from an address. */
export interface BlockRow {
  address: string;
  account: string | null;
  /** Failures of the pair, or for a whole address the accounts it failed against. */
  failures: number;
  blocked_until: string;
}

export interface ServerInfo {
  vipPriceCents: number;
  paidPriceVipCents: number;
  paidPriceNormalCents: number;
  freeWaitSeconds: number;
}

export interface Account {
  name: string;
  role: Role;
  isVip: boolean;
}

export interface QuotaResult {
  name: string;
  quota_bytes: number;
  used_bytes: number;
  is_default: boolean;
  msg: string;
}

/** What a subscription delivers: events, and the server's word that it ended the stream. */
export type SubscriptionFrame = EventFrame | EventsEndedFrame;

export interface SubscribeOptions {
  /** Default: every topic. */
  topics?: EventTopic[];
  /** Replay every event after this id first. */
  since?: number;
}

export interface UploadResult {
  movieId: number;
  sha256: string;
}

export class CineboxClient {
  /** Who is logged in on this connection, if anyone. */
  account?: Account;
  private info?: ServerInfo;
  /**
   * The last successful login, kept in this process's memory only (never written anywhere),
   * so `reconnect()` can log in again after a dropped connection; logout forgets it.
   */
  private loggedInAs?: { name: string; typedPassword: string; role: Role };
  /** Requests tried again after a dropped connection, since this client was made (counters). */
  retried = 0;
  /** close() was called: nothing is retried until reconnect(). */
  private stopped = false;

  constructor(
    private conn: ClientConnection,
    /** How to open another connection to the same server; without it, no reconnect. */
    private readonly options?: ConnectOptions,
    /** How requests ride through a dropped connection (retry.ts); `retries: 0` turns it off. */
    private readonly retry: RetryOptions = {},
  ) {}

  /** Connects once: a server that cannot be reached at all is told at once (a wrong port); drops later are retried. */
  static async connect(options: ConnectOptions, retry: RetryOptions = {}): Promise<CineboxClient> {
    return new CineboxClient(await ClientConnection.connect(options), options, retry);
  }

  /**
   * Runs `task` and, when the connection drops under it, connects again (logging in again as
   * before) and runs it again, up to `retries` times with backoff. Only for requests safe to
   * repeat: `task` gets the attempt number (0 first) to recognise its own earlier success.
   */
  private async retrying<T>(what: string, task: (attempt: number) => Promise<T>, waitFor?: (error: unknown) => boolean, unsentOnly = false): Promise<T> {
    const retries = this.options ? (this.retry.retries ?? DEFAULT_RETRIES) : 0;
    let reopen = false;
    let waitingSince: number | undefined;
    for (let attempt = 0; ; ) {
      try {
        if (reopen) await this.reopen();
        reopen = false;
        return await task(attempt);
      } catch (error) {
        // close() (a Ctrl-C cancelling a transfer) means stop, not retry.
        if (this.stopped || retries === 0) throw error;
        // The server is fine but must wait (an upload whose cut attempt still holds its lease
        // until its node is known dead): asked again on the same connection, for a while.
        if (attempt > 0 && waitFor?.(error) && Date.now() - (waitingSince ??= Date.now()) < WAIT_LIMIT_MS) {
          this.retry.onRetry?.({ what, attempt, delayMs: WAIT_STEP_MS, error: error as Error });
          await pause(WAIT_STEP_MS);
          if (this.stopped) throw error;
          continue;
        }
        const repeatable = unsentOnly ? error instanceof ConnectionError && !error.sent : isDrop(error);
        if (!repeatable || attempt >= retries) throw error;
        attempt++;
        this.retried++;
        reopen = true;
        const delayMs = backoffDelay(attempt, this.retry);
        this.retry.onRetry?.({ what, attempt, delayMs, error: error as Error });
        await pause(delayMs);
        if (this.stopped) throw error;
      }
    }
  }

  /** A request that is safe to repeat: it reads, or sets a value to what it already is on a repeat. */
  private call<T extends Parameters<ClientConnection['call']>[0]>(type: T, fields: Fields<T>): Promise<Reply> {
    return this.retrying(type, () => this.conn.call(type, fields));
  }

  /** False once the connection is closed or lost (a server restart, a cancelled transfer). */
  get connected(): boolean {
    return !this.conn.isClosed;
  }

  /**
   * A new connection to the same server, logged in again as before if someone was. Throws
   * ConnectionError when the server cannot be reached, ServerError when the login is refused
   * (then the client is connected but logged out).
   */
  async reconnect(): Promise<Account | undefined> {
    this.stopped = false;
    return this.reopen();
  }

  private async reopen(): Promise<Account | undefined> {
    if (!this.options) throw new ConnectionError(`cannot reconnect to ${this.where}`);
    this.conn.close();
    this.conn = await ClientConnection.connect(this.options);
    this.info = undefined;
    this.account = undefined;
    const again = this.loggedInAs;
    if (!again) return undefined;
    this.loggedInAs = undefined;
    return this.loginOnce(again.name, again.typedPassword, again.role);
  }

  /** "host:port", for messages. */
  get where(): string {
    return this.conn.where;
  }

  /** Sent again only when the connection was found closed before it went out (a repeat could find the name taken by itself). */
  async register(name: string, typedPassword: string, role: Role, adminCode?: string): Promise<void> {
    await this.retrying('register', () => this.conn.call('register', {
      name,
      password: wirePassword(typedPassword),
      user_type: role,
      ...(role === 'admin' && adminCode !== undefined ? { admin_code: adminCode } : {}),
    }), undefined, true);
  }

  /** Retried after a drop: a login changes nothing a second one would undo. */
  login(name: string, typedPassword: string, role: Role): Promise<Account> {
    return this.retrying('login', () => this.loginOnce(name, typedPassword, role));
  }

  private async loginOnce(name: string, typedPassword: string, role: Role): Promise<Account> {
    const reply = await this.conn.call('login', { name, password: wirePassword(typedPassword), user_type: role });
    this.account = { name, role, isVip: Number(reply.is_vip) === 1 };
    this.loggedInAs = { name, typedPassword, role };
    return this.account;
  }

  async logout(): Promise<void> {
    if (!this.account) return;
    this.loggedInAs = undefined;
    this.account = undefined;
    // A dropped connection has ended the session as surely as a logout.
    await this.conn.call('logout', {}).catch((error: unknown) => {
      if (!isDrop(error)) throw error;
    });
  }

  /** Cached: prices do not change while a client runs. */
  async serverInfo(): Promise<ServerInfo> {
    if (this.info) return this.info;
    const reply = await this.call('server_info', {});
    this.info = {
      vipPriceCents: Number(reply.vip_price_cents),
      paidPriceVipCents: Number(reply.paid_price_vip_cents),
      paidPriceNormalCents: Number(reply.paid_price_normal_cents),
      freeWaitSeconds: Number(reply.free_wait_seconds),
    };
    return this.info;
  }

  /** What the logged-in viewer would pay for a paid video they have not bought yet. */
  async paidPriceCents(): Promise<number> {
    const info = await this.serverInfo();
    return this.account?.isVip ? info.paidPriceVipCents : info.paidPriceNormalCents;
  }

  async listMovies(filter: MovieFilter = 'all'): Promise<MovieRow[]> {
    const reply = await emptyWhenNotFound(this.call('get_movie_list', { movie_type: filter, details: true }));
    if (!reply) return [];
    if (Array.isArray(reply.movies)) return reply.movies as MovieDetails[];
    // An original server: [name, label, id] triples only.
    return (reply.movie_list as [string, string, number][]).map(([name, label, id]) => ({ id, name, is_free: label === FREE_LABEL ? 1 : 0 }));
  }

  /**
   * One page, with media facts. A server without pages answers with its whole list (it
   * ignores the new fields), so the page is then everything and there is no next one.
   */
  async moviePage(query: MoviePageQuery = {}): Promise<MoviePage> {
    const fields = {
      movie_type: query.filter ?? 'all',
      details: true,
      facts: true,
      ...(query.search !== undefined ? { search: query.search } : {}),
      ...(query.limit !== undefined ? { limit: query.limit } : {}),
      ...(query.after !== undefined ? { after: query.after } : {}),
      ...(query.order !== undefined ? { order: query.order } : {}),
    };
    const reply = await emptyWhenNotFound(this.call('get_movie_list', fields));
    if (!reply) return { movies: [], nextAfter: null };
    const movies = Array.isArray(reply.movies)
      ? (reply.movies as MovieDetails[])
      : (reply.movie_list as [string, string, number][]).map(([name, label, id]) => ({ id, name, is_free: label === FREE_LABEL ? (1 as const) : (0 as const) }));
    return { movies, nextAfter: typeof reply.next_after === 'number' ? reply.next_after : null };
  }

  /** A live video by id (with its facts), or undefined. */
  async findMovie(id: number, filter: MovieFilter = 'all'): Promise<MovieRow | undefined> {
    // In id order, the first video after id - 1 is this one if it is live; an old server sends every video.
    const page = await this.moviePage({ filter, after: id > 1 ? id - 1 : undefined, limit: 1, order: 'oldest' });
    return page.movies.find((m) => m.id === id);
  }

  async notices(): Promise<NoticeRow[]> {
    const reply = await emptyWhenNotFound(this.call('check_notice', {}));
    if (!reply) return [];
    if (Array.isArray(reply.notices)) return reply.notices as NoticeRow[];
    return (reply.back_notice_list as [string, string][]).map(([title, content]) => ({ title, content }));
  }

  async history(): Promise<HistoryRow[]> {
    const reply = await emptyWhenNotFound(this.call('download_movie_record', {}));
    if (!reply) return [];
    if (Array.isArray(reply.records)) return reply.records as HistoryRow[];
    return (reply.back_record_list as string[]).map((name) => ({ name }));
  }

  /**
   * Returns the price charged, in cents. After a drop it is sent again only if the login
   * that follows says the account is not a VIP yet: an answer lost after the server's
   * commit is never paid twice (and the server's conditional update pays at most once anyway).
   */
  async buyVip(): Promise<number> {
    const reply = await this.retrying('buy_vip', async (attempt) => {
      if (attempt > 0 && this.account?.isVip) return { flag: true, price_cents: (await this.serverInfo()).vipPriceCents, after_drop: true };
      return this.conn.call('buy_vip', {});
    });
    if (this.account) this.account.isVip = true;
    return Number(reply.price_cents ?? (await this.serverInfo()).vipPriceCents);
  }

  /** Retried after a drop; NOT_FOUND on a retry means the first attempt deleted it. */
  async deleteMovie(movieId: number): Promise<void> {
    await this.retrying('delete_movie', async (attempt) => {
      try {
        await this.conn.call('delete_movie', { movie_id: movieId });
      } catch (error) {
        if (!(attempt > 0 && error instanceof ServerError && error.code === 'NOT_FOUND')) throw error;
      }
    });
  }

  /** Every account, oldest first (admins only). */
  async listUsers(): Promise<UserRow[]> {
    const reply = await this.call('list_users', {});
    return reply.users as UserRow[];
  }

  /** Locks an account until an admin unlocks it; the server refuses to lock the caller. */
  async lockUser(name: string): Promise<void> {
    await this.call('lock_user', { name });
  }

  /** Lifts an admin lock and a temporary lock after failed logins, and resets the failure count. */
  async unlockUser(name: string): Promise<void> {
    await this.call('unlock_user', { name });
  }

  /** The login guard's current blocks (admins only). */
  async listBlocks(): Promise<BlockRow[]> {
    const reply = await this.call('list_blocks', {});
    return reply.blocks as BlockRow[];
  }

  /** Lifts the login blocks of an address (with `name`, only that account's from it); the server's summary. */
  async unblockAddress(address: string, name?: string): Promise<string> {
    return this.retrying('unblock_address', async (attempt) => {
      try {
        const reply = await this.conn.call('unblock_address', { address, ...(name === undefined ? {} : { name }) });
        return String(reply.msg ?? '');
      } catch (error) {
        // Nothing recorded any more: the first attempt lifted it.
        if (attempt > 0 && error instanceof ServerError && error.code === 'NOT_FOUND') return `unblocked ${address}`;
        throw error;
      }
    });
  }

  /** Sets an admin's storage quota (null = the server default, 0 = no limit); the server's summary in `msg`. */
  async setQuota(name: string, quotaBytes: number | null): Promise<QuotaResult> {
    const reply = await this.call('set_quota', { name, quota_bytes: quotaBytes });
    return {
      name: String(reply.name),
      quota_bytes: Number(reply.quota_bytes),
      used_bytes: Number(reply.used_bytes),
      is_default: Boolean(reply.is_default),
      msg: String(reply.msg ?? ''),
    };
  }

  /** Sets or clears a viewer's policy overrides (admins only); the server's summary in `msg`. */
  async setPolicy(name: string, changes: PolicyChanges): Promise<{ policy: ViewerPolicyRow; msg: string }> {
    const reply = await this.call('set_policy', { name, ...changes });
    return { policy: reply.policy as ViewerPolicyRow, msg: String(reply.msg ?? '') };
  }

  /** The viewer's own standing: class, policy, today's usage, sessions, purchases. */
  async status(): Promise<ViewerStatus> {
    const { flag: _flag, ...status } = await this.call('user_status', {});
    return status as unknown as ViewerStatus;
  }

  /**
   * Never repeated once sent: a notice sent again would be published twice. A drop after it
   * went out is told as such, for the person to check the notices before sending it again;
   * a connection found closed before it went out is opened again and the notice sent.
   */
  async releaseNotice(title: string, content: string): Promise<number | undefined> {
    const send = () => this.conn.call('release_notice', { title, content });
    const reply = await this.retrying('release_notice', send, undefined, true).catch((error: unknown) => {
      if (error instanceof ConnectionError && error.sent) throw new ConnectionError(`${error.message}; the notice may have been published before the connection dropped, check the notices before sending it again`);
      throw error;
    });
    return reply.notice_id === undefined ? undefined : Number(reply.notice_id);
  }

  /**
   * Rides through drops: each retry asks the server how much it holds and sends the rest. A
   * CONFLICT naming the stored video on a retry means the first attempt was stored (its reply
   * was lost); `upload_busy` means the cut attempt's lease has not run out yet: wait and retry.
   */
  async upload(path: string, options: UploadOptions): Promise<UploadResult> {
    return this.retrying(
      'upload',
      async (attempt) => {
        try {
          const reply = await uploadFile(this.conn, path, options);
          return { movieId: Number(reply.movie_id), sha256: String(reply.sha256 ?? '') };
        } catch (error) {
          const stored = error instanceof ServerError && error.code === 'CONFLICT' ? error.reply?.movie_id : undefined;
          if (attempt > 0 && typeof stored === 'number') return { movieId: stored, sha256: String(error instanceof ServerError ? (error.reply?.sha256 ?? '') : '') };
          throw error;
        }
      },
      (error) => error instanceof ServerError && error.code === 'CONFLICT' && error.reply?.upload_busy === true,
    );
  }

  /**
   * Rides through drops: each retry continues the `.part` from where it stopped. A paid
   * video is charged once per viewer on the server, so a repeat never pays again.
   */
  download(movieId: number, movieType: 'free' | 'charge', options: DownloadOptions): Promise<DownloadResult> {
    return this.retrying('download', () => downloadMovie(this.conn, movieId, movieType, options));
  }

  /**
   * Subscribes this connection to live events; `onFrame` gets each one as it arrives, between
   * replies, while the connection goes on serving requests. Resolves to the server's last
   * event id at the time (where a subscription without `since` starts).
   */
  async subscribe(options: SubscribeOptions, onFrame: (frame: SubscriptionFrame) => void): Promise<{ lastId: number }> {
    this.conn.onUnasked((frame) => onFrame(frame as unknown as SubscriptionFrame));
    try {
      const reply = await this.conn.call('subscribe', {
        ...(options.topics ? { topics: options.topics } : {}),
        ...(options.since !== undefined ? { since: options.since } : {}),
      });
      return { lastId: Number(reply.last_id) };
    } catch (error) {
      this.conn.onUnasked(undefined);
      throw error;
    }
  }

  /** Ends the subscription; events sent before the reply have been delivered by then. */
  async unsubscribe(): Promise<void> {
    await this.conn.call('unsubscribe', {});
    this.conn.onUnasked(undefined);
  }

  /** One uncached round trip (server_info): keeps an idle connection open and proves it alive. */
  async ping(): Promise<void> {
    await this.conn.call('server_info', {}); // never retried: a dead link is what it looks for
  }

  /** Resolves when the connection closes. */
  get closed(): Promise<void> {
    return this.conn.closed$;
  }

  close(): void {
    this.stopped = true;
    this.conn.close();
  }
}

/** The list types answer "nothing yet" with NOT_FOUND; that is an empty list, not an error. */
async function emptyWhenNotFound(call: Promise<Reply>): Promise<Reply | undefined> {
  try {
    return await call;
  } catch (error) {
    if (error instanceof ServerError && error.code === 'NOT_FOUND') return undefined;
    throw error;
  }
}
