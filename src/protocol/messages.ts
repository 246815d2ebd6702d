/**
 * The request shapes of every message type (../shared/PROTOCOL.md is the contract).
 * One schema per type, shared by the server (validation) and the client (types), so the
 * two cannot disagree. Fields added beyond the original protocol are all optional.
 */
import { z } from 'zod';
import { TRAILER_TYPE } from './frame.js';

/** Printable text: no control characters (NUL, escapes) that would poison logs or terminals. */
const text = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `must be at most ${max} characters`)
    .refine((value) => !/[\u0000-\u001f\u007f]/.test(value), 'must not contain control characters');

const session = z.string().min(1, 'log in first').max(128);
const id = z.number().int().positive().max(2 ** 31 - 1);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits').transform((s) => s.toLowerCase());
/** The original sends flags as 1/0; JSON booleans are accepted too. */
const flag01 = z.union([z.literal(0), z.literal(1), z.boolean()]).transform((v) => (v === true || v === 1 ? 1 : 0));
/** A byte count or position in a file. */
const bytes = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
/** A whole number of things (downloads, sessions) that fits an INT column. */
const count = z.number().int().nonnegative().max(2 ** 31 - 1);

/** What a client may subscribe to: notices (kind `notice`), videos (`video_added`, `video_removed`). */
export const EVENT_TOPICS = ['notices', 'videos'] as const;
export const topicSchema = z.enum(EVENT_TOPICS);
export type EventTopic = z.infer<typeof topicSchema>;

const userTypeSchema = z.enum(['admin', 'user']);
const movieTypeSchema = z.enum(['all', 'free', 'charge']);
export const movieOrderSchema = z.enum(['oldest', 'newest', 'name']);
export type MovieOrder = z.output<typeof movieOrderSchema>;
/** The largest page `get_movie_list` returns for `limit`. */
export const MAX_PAGE = 1000;

export const requestSchemas = {
  register: z.object({
    name: text(64),
    password: z.string().min(1, 'must not be empty').max(256),
    user_type: userTypeSchema,
    admin_code: z.string().max(256).optional(),
  }),
  login: z.object({
    name: z.string().max(256),
    password: z.string().max(256),
    user_type: userTypeSchema,
  }),
  logout: z.object({ session }),
  server_info: z.object({}),
  check_movie: z.object({
    session,
    file_md5: z.string().min(1).max(64),
    sha256: sha256.optional(),
    /** The size of the file the admin means to upload: checked against the quota. */
    size: bytes.optional(),
    /**
     * The client has not hashed the file yet (it means to send the SHA-256 after the bytes):
     * instead of refusing a quick-fingerprint match, the reply says `sha256_needed`.
     */
    sha256_trailer: z.literal(true).optional(),
  }),
  update_movie: z.object({
    session,
    file_name: text(255),
    file_size: z.number().int().nonnegative(),
    file_md5: z.string().min(1).max(64),
    is_free: flag01,
    sha256: sha256.optional(),
    /** Resume: the bytes that follow start at this position of the file (needs sha256). */
    offset: bytes.optional(),
    /** Instead of `sha256`: the client sends it after the bytes, in an `upload_sha256` frame (see frame.ts). */
    sha256_trailer: z.literal(true).optional(),
  }),
  get_movie_list: z.object({
    session,
    movie_type: movieTypeSchema,
    details: z.boolean().optional(),
    // With any of the fields below the reply is one page (docs/PROTOCOL.md): `next_after`
    // for the next page, and an empty page is not an error.
    /** Each of `movies` (which it implies) carries `facts` (what ffprobe found, or null). */
    facts: z.boolean().optional(),
    /** Only names containing this, ignoring case and width (ＡＢＣ = abc); Chinese as typed. */
    search: text(255).optional(),
    /** At most this many videos. */
    limit: z.number().int().min(1).max(MAX_PAGE).optional(),
    /** Keyset cursor: the videos after this one in the chosen order (the last id of the page before). */
    after: id.optional(),
    /** 'oldest' (by id, as the original list), 'newest' first, or by 'name'. */
    order: movieOrderSchema.optional(),
  }),
  delete_movie: z.object({ session, movie_id: id }),
  release_notice: z.object({ session, title: text(255), content: text(10_000) }),
  buy_vip: z.object({ session }),
  download_movie: z.object({
    session,
    movie_id: id,
    movie_type: z.enum(['free', 'charge']),
    /** Resume: send the file from this position (the reply's `offset` says where it starts). */
    offset: bytes.optional(),
  }),
  download_movie_record: z.object({ session }),
  check_notice: z.object({ session }),
  list_users: z.object({ session }),
  lock_user: z.object({ session, name: z.string().min(1).max(64) }),
  unlock_user: z.object({ session, name: z.string().min(1).max(64) }),
  /** An admin's storage quota in bytes; null = the server default, 0 = no limit. */
  set_quota: z.object({ session, name: z.string().min(1).max(64), quota_bytes: bytes.nullable() }),
  /** The login guard's current blocks: (address, account) pairs and whole addresses. */
  list_blocks: z.object({ session }),
  /** Lifts the blocks and counters of an address; with `name`, only that account's from it. */
  unblock_address: z.object({ session, address: z.string().min(1).max(64), name: z.string().min(1).max(64).optional() }),
  /**
   * Live events on this connection (a cinebox extension): `event` frames follow the reply,
   * between later replies, never inside one. `since` replays every event after that id first.
   */
  subscribe: z.object({
    session,
    topics: z.array(topicSchema).min(1).max(EVENT_TOPICS.length).optional(),
    since: z.number().int().nonnegative().max(2 ** 31 - 1).optional(),
  }),
  unsubscribe: z.object({ session }),
  /**
   * A viewer's policy overrides (docs/policies.md): a value sets the field for this viewer,
   * null returns it to the class default, an absent field is left as it is; 0 = unlimited.
   */
  set_policy: z.object({
    session,
    name: z.string().min(1).max(64),
    downloads: flag01.nullable().optional(),
    speed_bps: bytes.nullable().optional(),
    daily_bytes: bytes.nullable().optional(),
    daily_count: count.nullable().optional(),
    max_sessions: count.nullable().optional(),
  }),
  /** The viewer's own standing: class, policy, today's usage, sessions, purchases. */
  user_status: z.object({ session }),
} as const;

/** The frame after the bytes of an `update_movie` with `sha256_trailer`: not a request of its own. */
export const uploadTrailerSchema = z.object({ type: z.literal(TRAILER_TYPE), sha256 });

export type MessageType = keyof typeof requestSchemas;
export type Request<T extends MessageType> = z.output<(typeof requestSchemas)[T]>;
/** What a client sends: the schema's input side (e.g. is_free may be a boolean). */
export type RequestInput<T extends MessageType> = z.input<(typeof requestSchemas)[T]> & { type: T };

export function isMessageType(type: unknown): type is MessageType {
  return typeof type === 'string' && Object.hasOwn(requestSchemas, type);
}

/** Every reply carries `flag`; failures carry `msg` and a stable `code`. */
export interface Reply {
  flag: boolean;
  msg?: string;
  code?: string;
  [field: string]: unknown;
}

/** One video as listed with `details: true` (an optional extension of get_movie_list). */
export interface MovieDetails {
  id: number;
  name: string;
  is_free: 0 | 1;
  size: number;
  sha256: string;
  create_time: string;
  /** For a viewer and a paid video: 1 when this viewer has bought it (downloading it again costs nothing). */
  bought?: 0 | 1;
  /** With `facts: true`: what ffprobe found, or null when the video was not probed. */
  facts?: MediaFactsWire | null;
}

/** What ffprobe found in a video (`get_movie_list` with `facts: true`); 'unknown' = it could not read it. */
export interface MediaFactsWire {
  format: 'video' | 'audio' | 'image' | 'unknown';
  /** ffprobe's format_name, e.g. "mov,mp4,m4a,3gp,3g2,mj2". */
  container: string | null;
  duration_ms: number | null;
  width: number | null;
  height: number | null;
  video_codec: string | null;
  audio_codec: string | null;
  /** Bits per second. */
  bit_rate: number | null;
  /** A player can start before the whole file has arrived. */
  streamable: boolean | null;
}

/** A frame the server sends without being asked (only to a subscribed connection). */
export const EVENT_FRAME_TYPES = ['event', 'events_ended'] as const;

export type EventKind = 'notice' | 'video_added' | 'video_removed';

/** One `event` frame. */
export interface EventFrame {
  type: 'event';
  id: number;
  kind: EventKind;
  /** When it was recorded, ISO 8601 UTC. */
  time: string;
  data: Record<string, unknown>;
}

/**
 * Why the server ended a stream: the client fell behind (subscribe again with `since`), or
 * its account was locked (no subscribing again until it is unlocked).
 */
export type EventsEndedReason = 'fell_behind' | 'account_locked';

/** The server ended the stream; `last_id` is the last event sent. */
export interface EventsEndedFrame {
  type: 'events_ended';
  reason: EventsEndedReason;
  last_id: number;
  msg: string;
}

/** Whether a decoded header is an unasked frame of a subscription rather than a reply. */
export function isEventFrame(header: Record<string, unknown>): boolean {
  return header.type === 'event' || header.type === 'events_ended';
}

/** The labels the original clients print for free and paid videos. */
export const FREE_LABEL = '免费';
export const CHARGE_LABEL = '收费';
