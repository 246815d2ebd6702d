/**
 * Days in the server's time zone (the `--time-zone` setting): the date a download counts on,
 * and the instant the next day begins. Only Intl knows the zone's rules (offsets, DST, days
 * that start at 01:00 or were skipped), so no offset is ever computed here: the next midnight
 * is found by asking Intl for the date of instants until it changes (a binary search, ~28 steps,
 * once per day and zone).
 */
const MAX_DAY_MS = 48 * 3600 * 1000;

export class DayClock {
  private readonly format: Intl.DateTimeFormat;
  private cached?: { day: string; next: Date };

  /** Throws a RangeError naming the zone when Intl does not know it. */
  constructor(readonly timeZone: string) {
    this.format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  }

  /** YYYY-MM-DD of `instant` in the zone. */
  dayOf(instant: Date | number): string {
    const parts = Object.fromEntries(this.format.formatToParts(instant).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day}`;
  }

  /** The first instant (to the millisecond) whose date in the zone is after `instant`'s. */
  nextDayStart(instant: Date | number = Date.now()): Date {
    const from = typeof instant === 'number' ? instant : instant.getTime();
    const day = this.dayOf(from);
    if (this.cached?.day === day && this.cached.next.getTime() > from) return this.cached.next;
    let before = from;
    let after = from + MAX_DAY_MS;
    while (after - before > 1) {
      const middle = before + Math.floor((after - before) / 2);
      if (this.dayOf(middle) === day) before = middle;
      else after = middle;
    }
    this.cached = { day, next: new Date(after) };
    return this.cached.next;
  }

  /** "2026-12-02 00:00 Europe/Berlin": a reset time as the viewer reads it. */
  describe(instant: Date): string {
    const text = new Intl.DateTimeFormat('sv-SE', { timeZone: this.timeZone, dateStyle: 'short', timeStyle: 'short' }).format(instant);
    return `${text} ${this.timeZone}`;
  }
}

const clocks = new Map<string, DayClock>();

/** The clock of `timeZone`, or of the system's zone when it is unset. */
export function dayClockFor(timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone): DayClock {
  let clock = clocks.get(timeZone);
  if (!clock) clocks.set(timeZone, (clock = new DayClock(timeZone)));
  return clock;
}
