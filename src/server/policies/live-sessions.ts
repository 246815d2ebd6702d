/**
 * The cap on a viewer's live sessions, held across nodes by the live_session table: each
 * viewer login adds a row (deleted when the session ends: logout, a new login on the same
 * connection, the connection closing), then ends the oldest sessions past the cap by deleting
 * their rows. Every node checks on each request that the session's row still exists, so an
 * ended session is refused on its next request wherever it is.
 *
 * Why the oldest is ended rather than the new login refused (docs/policies.md): a session
 * whose client vanished (a crash, a dropped network) lives on until its connection times out,
 * and refusing would lock the viewer out of their own account for that long; ending the oldest
 * lets the person at the keyboard in and still caps how many use the account at once. It is
 * also safe without locks: any login's trim deletes only rows outside the newest N it saw,
 * which are outside the newest N of all, and the last login to insert sees every row.
 */
import { IdLoader } from '../../orm/index.js';
import { LiveSession, type User } from '../../orm/models/index.js';
import type { Connection, Session } from '../connection.js';
import type { App } from '../context.js';
import { allBeats, beatIsFresh } from '../nodes/heartbeat.js';

const rowOf = new WeakMap<Session, number>();
/** The row of each connection's current viewer session, deleted when the connection closes (one listener per connection). */
const rowOfConnection = new WeakMap<Connection, number>();
const rows = new IdLoader(LiveSession);

export const SESSION_ENDED = 'this session was ended: your account logged in elsewhere and has reached its limit of sessions; log in again';

/** Records the viewer session just opened on `conn` and ends the oldest ones past `maxSessions` (0 = no cap); returns how many it ended. */
export async function openLiveSession(app: App, conn: Connection, user: User, maxSessions: number): Promise<number> {
  const session = conn.session!;
  const row = await LiveSession.from({ user_id: user.id, node: app.node.name, created_at: new Date() }).save(app.db);
  rowOf.set(session, row.id);
  if (!rowOfConnection.has(conn)) {
    conn.closedSignal.addEventListener('abort', () => {
      const id = rowOfConnection.get(conn);
      if (id !== undefined) void endRow(app, id, conn);
    }, { once: true });
  }
  rowOfConnection.set(conn, row.id);
  if (maxSessions <= 0) return 0;
  const held = await LiveSession.select(app.db, { user_id: user.id }, { columns: ['id'], orderBy: [['id', 'desc']] });
  const ended = held.slice(maxSessions).map((r) => r.id);
  if (ended.length === 0) return 0;
  await LiveSession.deleteWhere(app.db, { id: ended });
  conn.log.info({ user: user.id, ended: ended.length, max_sessions: maxSessions }, 'ended the oldest sessions over the cap');
  return ended.length;
}

/** Ends the session's row (logout, or a new login on the same connection). */
export async function endLiveSession(app: App, conn: Connection, session: Session | undefined): Promise<void> {
  const id = session && rowOf.get(session);
  if (id === undefined) return;
  rowOf.delete(session!);
  if (rowOfConnection.get(conn) === id) rowOfConnection.delete(conn);
  await endRow(app, id, conn);
}

/** False once a newer login ended this session; sessions without a row (admins) are always live. */
export async function sessionIsLive(app: App, session: Session): Promise<boolean> {
  const id = rowOf.get(session);
  if (id === undefined) return true;
  return (await rows.load(app.db, id)) !== undefined;
}

export function liveSessionCount(app: App, userId: number): Promise<number> {
  return LiveSession.count(app.db, { user_id: userId });
}

/**
 * Deletes the rows of sessions whose node died: its beat is stale (killed, never restarted), or
 * the row is older than the node's current run (killed and started again). They would count in
 * `user_status` and `list_users` until a login over the cap ended them. Rows of a node with no
 * beat row (an older cinebox during an upgrade) are left alone. Row times and the run's start
 * are the same node's clock.
 */
export async function endSessionsOfDeadNodes(app: App, now = Date.now()): Promise<number> {
  const beats = await allBeats(app.db);
  const rows = await LiveSession.select(app.db, {}, { columns: ['id', 'node', 'created_at'] });
  const dead = rows
    .filter((row) => {
      const beat = beats.get(row.node);
      return beat !== undefined && (!beatIsFresh(beat, now) || row.created_at.getTime() < beat.started_at.getTime());
    })
    .map((row) => row.id);
  if (dead.length === 0) return 0;
  const ended = await LiveSession.deleteWhere(app.db, { id: dead });
  app.log.info({ ended }, 'ended the sessions of nodes that stopped');
  return ended;
}

/** At a graceful stop, once every connection of this node has closed: no session of it is left. */
export async function endSessionsOfThisNode(app: App): Promise<void> {
  try {
    await LiveSession.deleteWhere(app.db, { node: app.node.name });
  } catch (error) {
    app.log.warn({ err: (error as Error).message }, 'could not delete the live session rows of this node');
  }
}

async function endRow(app: App, id: number, conn: Connection): Promise<void> {
  try {
    await LiveSession.deleteWhere(app.db, { id });
  } catch (error) {
    // At shutdown the database may be closed already; a row left behind is ended by the next login over the cap.
    conn.log.debug({ err: (error as Error).message, session_row: id }, 'could not delete a live session row');
  }
}
