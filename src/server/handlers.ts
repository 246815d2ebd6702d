/**
 * The one map from message type to handler, like the original's `func_dic`. Each entry
 * shows who may call it: `open` (anyone), `loggedIn`, `admin` or `viewer`. The wrapper
 * validates the request against its schema before the handler sees it.
 */
import type { z } from 'zod';
import { requestSchemas, type MessageType, type Reply, type Request } from '../protocol/messages.js';
import * as accounts from './handlers/accounts.js';
import * as blocks from './handlers/blocks.js';
import * as admin from './handlers/admin.js';
import * as common from './handlers/common.js';
import * as events from './handlers/events.js';
import * as policies from './handlers/policies.js';
import * as quotas from './handlers/quotas.js';
import type { HandlerContext, UserContext } from './context.js';
import { BadRequest } from './errors.js';
import type { FileReply } from './downloads/file-reply.js';
import type { EncodedReply } from './encoded-reply.js';
import { requireAdmin, requireLogin, requireViewer } from './guards.js';
import type { ReplyThen } from './reply-then.js';
import * as viewer from './handlers/viewer.js';

export type Result = Reply | FileReply | ReplyThen | EncodedReply;
export type Route = (raw: Record<string, unknown>, ctx: HandlerContext) => Promise<Result>;
type Guard = typeof requireLogin;

function parse<T extends MessageType>(type: T, raw: Record<string, unknown>): Request<T> {
  const parsed = (requestSchemas[type] as unknown as z.ZodType<Request<T>>).safeParse(raw);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.join('.') || 'request';
  throw new BadRequest(`${type}: ${field} ${issue.message}`);
}

function open<T extends MessageType>(type: T, handler: (req: Request<T>, ctx: HandlerContext) => Promise<Result>): Route {
  return (raw, ctx) => handler(parse(type, raw), ctx);
}

function guarded(guard: Guard) {
  return <T extends MessageType>(type: T, handler: (req: Request<T>, ctx: UserContext) => Promise<Result>): Route =>
    async (raw, ctx) => {
      const req = parse(type, raw);
      const user = await guard((req as { session: string }).session, ctx);
      // A literal, not `{ ...ctx, user }`: V8 built a new hidden class for the spread on every
      // request. `await`: returning the promise would cost two more ticks.
      return await handler(req, { app: ctx.app, conn: ctx.conn, body: ctx.body, user });
    };
}

const loggedIn = guarded(requireLogin);
const asAdmin = guarded(requireAdmin);
const asViewer = guarded(requireViewer);

export const routes: Record<MessageType, Route> = {
  register: open('register', common.register),
  login: open('login', common.login),
  server_info: open('server_info', common.serverInfo),
  logout: loggedIn('logout', common.logout),
  get_movie_list: loggedIn('get_movie_list', common.getMovieList),
  check_notice: loggedIn('check_notice', common.checkNotices),
  check_movie: asAdmin('check_movie', admin.checkMovie),
  update_movie: asAdmin('update_movie', admin.uploadMovie),
  delete_movie: asAdmin('delete_movie', admin.deleteMovie),
  release_notice: asAdmin('release_notice', admin.releaseNotice),
  list_users: asAdmin('list_users', accounts.listUsers),
  lock_user: asAdmin('lock_user', accounts.lockUser),
  unlock_user: asAdmin('unlock_user', accounts.unlockUser),
  set_quota: asAdmin('set_quota', quotas.setQuota),
  list_blocks: asAdmin('list_blocks', blocks.listBlocks),
  unblock_address: asAdmin('unblock_address', blocks.unblockAddress),
  set_policy: asAdmin('set_policy', policies.setPolicy),
  buy_vip: asViewer('buy_vip', viewer.buyVip),
  download_movie: asViewer('download_movie', viewer.downloadMovie),
  download_movie_record: asViewer('download_movie_record', viewer.downloadHistory),
  subscribe: loggedIn('subscribe', events.subscribe),
  unsubscribe: loggedIn('unsubscribe', events.unsubscribe),
  user_status: asViewer('user_status', policies.userStatus),
};
