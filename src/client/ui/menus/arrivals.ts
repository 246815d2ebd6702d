/**
 * What arrived while the viewer's menu waited: the menu subscribes once logged in, counts
 * the notices and videos that come in, says so on its next screen ("2 new notices, 1 new
 * video") and marks them in the lists until they have been shown.
 */
import type { CineboxClient, SubscriptionFrame } from '../../cinebox-client.js';
import { ServerError } from '../../connection.js';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export class Arrivals {
  private following = false;
  private lastId?: number;
  private readonly newNotices = new Set<number>();
  private readonly newVideos = new Set<number>();
  private counted = { notices: 0, videos: 0, removed: 0 };

  constructor(private readonly client: CineboxClient) {}

  /** Subscribes when logged in and not yet following; forgets everything once logged out. */
  async follow(): Promise<void> {
    if (!this.client.account) {
      this.following = false;
      this.lastId = undefined;
      this.newNotices.clear();
      this.newVideos.clear();
      this.counted = { notices: 0, videos: 0, removed: 0 };
      return;
    }
    if (this.following) return;
    this.following = true;
    try {
      const { lastId } = await this.client.subscribe({ since: this.lastId }, (frame) => this.take(frame));
      this.lastId ??= lastId;
    } catch (error) {
      // An older server has no live events (UNKNOWN_TYPE): the menu works as before.
      if (!(error instanceof ServerError)) throw error;
    }
  }

  /** "2 new notices, 1 new video" for what came in since the last call; undefined if nothing did. */
  news(): string | undefined {
    const { notices, videos, removed } = this.counted;
    this.counted = { notices: 0, videos: 0, removed: 0 };
    const parts = [
      notices ? plural(notices, 'new notice', 'new notices') : '',
      videos ? plural(videos, 'new video', 'new videos') : '',
      removed ? plural(removed, 'video removed', 'videos removed') : '',
    ].filter(Boolean);
    return parts.length ? parts.join(', ') : undefined;
  }

  isNewNotice = (id: number | undefined) => id !== undefined && this.newNotices.has(id);
  isNewVideo = (id: number) => this.newVideos.has(id);

  /** The lists were shown: what was new is now seen. */
  seenNotices(): void {
    this.newNotices.clear();
  }

  seenVideos(): void {
    this.newVideos.clear();
  }

  private take(frame: SubscriptionFrame): void {
    if (frame.type === 'events_ended') {
      this.lastId = frame.last_id;
      this.following = false; // resubscribed with since on the next screen
      return;
    }
    this.lastId = frame.id;
    const id = Number(frame.kind === 'notice' ? frame.data.notice_id : frame.data.movie_id);
    if (frame.kind === 'notice') {
      this.newNotices.add(id);
      this.counted.notices++;
    } else if (frame.kind === 'video_added') {
      this.newVideos.add(id);
      this.counted.videos++;
    } else if (frame.kind === 'video_removed') {
      if (this.newVideos.delete(id)) this.counted.videos = Math.max(0, this.counted.videos - 1);
      else this.counted.removed++;
    }
  }
}
