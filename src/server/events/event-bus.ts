/**
 * How a node learns that events were committed. A message is only a hint to wake up: the
 * hub then reads the table from the last id it delivered, so a lost, late or doubled message
 * can delay an event but never lose or double one.
 */
export interface EventBus {
  /** Tells every node (this one at once) that event `id` is committed. */
  announce(id: number): void;
  /** `listener` runs on every announcement and whenever the bus comes back after an outage. */
  onWake(listener: () => void): void;
  /** False while a shared bus is unreachable: the hub then polls the table itself. */
  readonly connected: boolean;
  /** Resolves when the shared bus answers now (the health check); a local bus has none. */
  ping?(): Promise<void>;
  close(): Promise<void>;
}

/** One node, no Redis: announcements stay in the process. */
export class LocalBus implements EventBus {
  readonly connected = true;
  private readonly listeners: (() => void)[] = [];

  announce(): void {
    for (const listener of this.listeners) listener();
  }

  onWake(listener: () => void): void {
    this.listeners.push(listener);
  }

  async close(): Promise<void> {}
}
