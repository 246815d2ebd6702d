/** subscribe / unsubscribe: live events on the requesting connection (docs/events.md). */
import { EVENT_TOPICS, type Reply, type Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { ReplyThen } from '../reply-then.js';

export async function subscribe(req: Request<'subscribe'>, { app, conn, user }: UserContext): Promise<ReplyThen> {
  const topics = new Set(req.topics ?? EVENT_TOPICS);
  const { subscription, lastId } = await app.events.subscribe(conn, user.id, topics, req.since);
  conn.log.info({ user: user.id, topics: [...topics], since: req.since }, 'subscribed to events');
  const reply: Reply = {
    flag: true,
    msg: req.since === undefined ? 'subscribed' : `subscribed, replaying the events after #${req.since}`,
    topics: [...topics],
    last_id: lastId,
  };
  return new ReplyThen(reply, () => void subscription.start());
}

export async function unsubscribe(_req: Request<'unsubscribe'>, { app, conn }: UserContext): Promise<Reply> {
  const lastId = app.events.unsubscribe(conn);
  if (lastId === undefined) return { flag: true, msg: 'not subscribed' };
  return { flag: true, msg: 'unsubscribed', last_id: lastId };
}
