// Coalescing live updates: many updates may arrive between two frames; the chart needs only the
// newest version of each candle, in time order, once per frame.

/** The last update per candle time, ordered by time; unusable ones are dropped by the caller. */
export function coalesce(updates) {
  const byTime = new Map();
  for (const u of updates) {
    if (u && u.time != null) byTime.set(u.time, u);
  }
  return [...byTime.values()].sort((a, b) => a.time - b.time);
}

/**
 * A queue that hands its content to `flush` once per scheduled turn (a display frame in the
 * browser). `schedule` is injected so tests can drive it by hand.
 */
export class Coalescer {
  constructor(flush, schedule) {
    this.flush = flush;
    this.schedule = schedule;
    this.pending = [];
    this.scheduled = false;
  }

  /** Queue one update; a flush is scheduled if none is. */
  push(update) {
    this.pending.push(update);
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.run());
    }
  }

  /** Flush what is queued now (the scheduler calls this). */
  run() {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = coalesce(this.pending);
    this.pending = [];
    this.flush(batch);
  }

  /** Forget what is queued (after a switch of asset or timeframe). */
  clear() {
    this.pending = [];
  }
}
