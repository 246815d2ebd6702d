/** What the viewer-policy suites share: a world with an admin and one uploaded free video, and reads of the usage rows. */
import { join } from 'node:path';
import type { ClientConnection } from '../../src/client/connection.js';
import { downloadMovie } from '../../src/client/download.js';
import { uploadFile } from '../../src/client/upload.js';
import { DownloadUsage } from '../../src/orm/models/index.js';
import type { ServerConfig } from '../../src/server/config.js';
import { startWorld, type World } from '../helpers/world.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;

export interface PolicyWorld {
  world: World;
  admin: ClientConnection;
  /** A free video of `size` bytes per size asked for. */
  movies: Map<number, number>;
}

export async function startPolicyWorld(kind: 'sqlite' | 'mysql', sizes: number[], overrides: Partial<ServerConfig>): Promise<PolicyWorld> {
  const world = await startWorld(kind, overrides);
  const admin = await world.loginAs('boss', 'admin');
  const movies = new Map<number, number>();
  for (const size of sizes) {
    const path = await world.makeFile(`video-${size}.mp4`, size);
    movies.set(size, Number((await uploadFile(admin, path, { isFree: true })).movie_id));
  }
  return { world, admin, movies };
}

/** Downloads into a fresh folder under the world's dir; returns the seconds it took and the result. */
export async function timedDownload(world: World, viewer: ClientConnection, movieId: number, folder: string) {
  const started = performance.now();
  const result = await downloadMovie(viewer, movieId, 'free', { outDir: join(world.dir, folder) });
  return { seconds: (performance.now() - started) / 1000, result };
}

/** The usage rows of a viewer, as the database holds them. */
export async function usageRows(world: World, name: string) {
  const viewer = await world.server.app.db.query<{ id: number }>('SELECT id FROM user WHERE name = ?', [name]);
  const rows = await DownloadUsage.select(world.server.app.db, { user_id: Number(viewer[0]!.id) });
  return rows.map((r) => ({ day: r.day, bytes: Number(r.bytes), count: Number(r.count) }));
}
