/** The viewer functions: VIP, downloads (free and paid), download history. */
import { open } from 'node:fs/promises';
import { DuplicateKeyError } from '../../orm/index.js';
import { DownloadRecord, Movie, Purchase, User } from '../../orm/models/index.js';
import type { Reply, Request } from '../../protocol/messages.js';
import type { UserContext } from '../context.js';
import { BadRequest, Conflict, NotFound } from '../errors.js';
import { FileReply } from '../downloads/file-reply.js';
import { admitDownload, type DownloadGrant } from '../policies/download-grant.js';

export async function buyVip(_req: Request<'buy_vip'>, { app, conn, user }: UserContext): Promise<Reply> {
  // One conditional UPDATE: of 20 racing requests exactly one changes the row and pays.
  const changed = await User.updateWhere(app.db, { is_vip: 1 }, { id: user.id, is_vip: 0 });
  if (changed === 0) throw new Conflict('you are already a VIP');
  conn.log.info({ user: user.id, price_cents: app.config.vipPriceCents }, 'bought VIP');
  return { flag: true, msg: 'you are now a VIP', price_cents: app.config.vipPriceCents, is_vip: 1 };
}

/**
 * A paid video is charged once per viewer: the purchase row is unique per (user, movie),
 * so a repeated or raced download finds the earlier charge instead of paying again.
 */
async function chargeOnce(ctx: UserContext, movie: Movie): Promise<number> {
  const { app, user } = ctx;
  const price = user.is_vip ? app.config.paidPriceVipCents : app.config.paidPriceNormalCents;
  try {
    await Purchase.from({ user_id: user.id, movie_id: movie.id, price, create_time: new Date() }).save(app.db);
  } catch (error) {
    if (error instanceof DuplicateKeyError) return 0;
    throw error;
  }
  ctx.conn.log.info({ user: user.id, movie: movie.id, price_cents: price }, 'paid video charged');
  return price;
}

/**
 * download_movie. The viewer's policy admits it first (policies/download-grant.ts). With `offset` (a resume) the bytes start there: `file_size` is what
 * follows, `offset` and `total_size` say where it fits. A resumed paid video is not charged
 * again (the purchase row), but a non-VIP viewer waits again, as for any free download.
 */
export async function downloadMovie(req: Request<'download_movie'>, ctx: UserContext): Promise<FileReply> {
  const { app, conn, user } = ctx;
  const movie = await Movie.selectOne(app.db, { id: req.movie_id, is_delete: 0 });
  if (!movie) throw new NotFound(`no video #${req.movie_id}`);
  const isFree = movie.is_free === 1;
  if (isFree !== (req.movie_type === 'free')) {
    throw new BadRequest(`video #${movie.id} is ${isFree ? 'free' : 'paid'}; ask for movie_type "${isFree ? 'free' : 'charge'}"`);
  }
  const file = await open(app.media.pathOf(movie.path), 'r').catch((error: NodeJS.ErrnoException) => {
    conn.log.error({ movie: movie.id, err: error.message }, 'video file missing from the media store');
    throw new NotFound(`the file of video #${movie.id} is missing on the server`);
  });
  let grant: DownloadGrant | undefined;
  try {
    const { size } = await file.stat();
    if (size !== movie.size) throw new Error(`stored file of movie ${movie.id} has ${size} bytes, expected ${movie.size}`);
    // A resume past the end cannot be a prefix of this file: send all of it, from 0.
    const start = req.offset !== undefined && req.offset <= size ? req.offset : 0;
    if (req.offset !== undefined && start !== req.offset) conn.log.info({ movie: movie.id, offset: req.offset, size }, 'resume offset past the end, sending from 0');
    // Before charging: a download the policy refuses costs nothing.
    grant = await admitDownload(ctx, size - start);
    const charged = isFree ? 0 : await chargeOnce(ctx, movie);
    const waitSeconds = isFree && !user.is_vip ? app.config.freeWaitSeconds : 0;
    const header = {
      flag: true,
      file_name: movie.name,
      file_size: size - start,
      wait_time: waitSeconds,
      sha256: movie.sha256,
      movie_id: movie.id,
      charged_cents: charged,
      offset: start,
      total_size: size,
    };
    const recordDownload = async () => {
      await DownloadRecord.from({ user_id: user.id, movie_id: movie.id, create_time: new Date() }).save(app.db);
    };
    return new FileReply(header, file, start, waitSeconds, recordDownload, user.id, grant);
  } catch (error) {
    await file.close();
    await grant?.settle(0, false);
    throw error;
  }
}

/** Newest first; names of deleted videos stay in the history. */
export async function downloadHistory(_req: Request<'download_movie_record'>, { app, user }: UserContext): Promise<Reply> {
  const records = await DownloadRecord.select(app.db, { user_id: user.id }, { orderBy: [['id', 'desc']], limit: 1000 });
  if (records.length === 0) throw new NotFound('no downloads yet');
  const ids = [...new Set(records.map((r) => r.movie_id))];
  const names = new Map((await Movie.select(app.db, { id: ids })).map((m) => [m.id, m.name]));
  return {
    flag: true,
    back_record_list: records.map((r) => names.get(r.movie_id) ?? `#${r.movie_id}`),
    records: records.map((r) => ({ movie_id: r.movie_id, name: names.get(r.movie_id), create_time: r.create_time.toISOString() })),
  };
}
