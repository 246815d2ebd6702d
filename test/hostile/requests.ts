/**
 * Every message type of src/protocol/messages.ts with who may call it and one valid request
 * (fields.test.ts holds the field rules and the hostile values). A type added to
 * `requestSchemas` without an entry here fails the suite, so the attack table grows with the
 * protocol.
 */
import { hasTrailer, TRAILER_TYPE } from '../../src/protocol/frame.js';
import { requestSchemas, type MessageType } from '../../src/protocol/messages.js';

export type Role = 'open' | 'loggedIn' | 'admin' | 'viewer';

/** Who may call what (mirrors src/server/handlers.ts, checked over the wire by auth.test.ts). */
export const ROLE_OF: Record<string, Role> = {
  register: 'open',
  login: 'open',
  server_info: 'open',
  logout: 'loggedIn',
  get_movie_list: 'loggedIn',
  check_notice: 'loggedIn',
  check_movie: 'admin',
  update_movie: 'admin',
  delete_movie: 'admin',
  release_notice: 'admin',
  list_users: 'admin',
  lock_user: 'admin',
  unlock_user: 'admin',
  set_quota: 'admin',
  list_blocks: 'admin',
  unblock_address: 'admin',
  set_policy: 'admin',
  buy_vip: 'viewer',
  download_movie: 'viewer',
  download_movie_record: 'viewer',
  subscribe: 'loggedIn',
  unsubscribe: 'loggedIn',
  user_status: 'viewer',
};

export const messageTypes = Object.keys(requestSchemas) as MessageType[];

export function roleOf(type: string): Role {
  const role = ROLE_OF[type];
  if (!role) throw new Error(`test/hostile/requests.ts: no role for the message type "${type}"; add it to ROLE_OF`);
  return role;
}

/** The fields a schema declares (zod 4 objects expose `shape`). */
export function fieldsOf(type: MessageType): string[] {
  return Object.keys((requestSchemas[type] as unknown as { shape: Record<string, unknown> }).shape);
}

/** Names that exist in no arena, so a valid request about them changes nothing. */
export const GHOST = 'ghost-who-is-not-here';

export interface BaseContext {
  session: string;
  /** A name no other case uses (register). */
  unique: string;
  freeMovieId: number;
  /** Login target (a viewer whose password is known). */
  loginName: string;
  loginPassword: string;
  /** Upload body of this case and its SHA-256. */
  bodySha256: string;
  bodySize: number;
}

/**
 * One valid request per type, with every optional field present so each gets attacked.
 * Valid requests of types that change state aim at nothing real (a ghost user) or at
 * something the case expects to change (a fresh name, a fresh upload).
 */
/** The frame after the bytes of an upload with `sha256_trailer` (sent only when the header has it). */
export function trailerOf(header: Record<string, unknown>, sha256: string): (() => Promise<Record<string, unknown>>) | undefined {
  return hasTrailer(header) ? () => Promise.resolve({ type: TRAILER_TYPE, sha256 }) : undefined;
}

export function baseRequest(type: string, c: BaseContext): Record<string, unknown> {
  const s = { session: c.session };
  const bases: Record<string, Record<string, unknown>> = {
    register: { name: c.unique, password: 'pw-md5-hex', user_type: 'user', admin_code: 'not-the-code' },
    login: { name: c.loginName, password: c.loginPassword, user_type: 'user' },
    server_info: {},
    logout: s,
    get_movie_list: { ...s, movie_type: 'all', details: true, facts: true, search: c.unique, limit: 10, after: 2 ** 31 - 1, order: 'newest' },
    check_notice: s,
    check_movie: { ...s, file_md5: 'abc', sha256: c.bodySha256, size: c.bodySize, sha256_trailer: true },
    update_movie: { ...s, file_name: `${c.unique}.mp4`, file_size: c.bodySize, file_md5: c.bodySha256.slice(0, 32), is_free: 1, sha256: c.bodySha256, offset: 0, sha256_trailer: true },
    delete_movie: { ...s, movie_id: 2 ** 31 - 1 },
    release_notice: { ...s, title: `title ${c.unique}`, content: `content ${c.unique}` },
    list_users: s,
    lock_user: { ...s, name: GHOST },
    unlock_user: { ...s, name: GHOST },
    set_quota: { ...s, name: GHOST, quota_bytes: 1024 },
    list_blocks: s,
    unblock_address: { ...s, address: '192.0.2.1', name: GHOST },
    buy_vip: s,
    download_movie: { ...s, movie_id: c.freeMovieId, movie_type: 'free', offset: 0 },
    download_movie_record: s,
    subscribe: { ...s, topics: ['notices', 'videos'], since: 0 },
    unsubscribe: s,
    set_policy: { ...s, name: GHOST, downloads: 1, speed_bps: 1024, daily_bytes: 1024, daily_count: 1, max_sessions: 1 },
    user_status: s,
  };
  const base = bases[type];
  if (!base) throw new Error(`test/hostile/requests.ts: no valid base request for "${type}"`);
  const missing = fieldsOf(type as MessageType).filter((field) => !(field in base));
  if (missing.length) throw new Error(`test/hostile/requests.ts: the base request of "${type}" lacks ${missing.join(', ')}`);
  return { type, ...base };
}
