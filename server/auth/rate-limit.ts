/**
 * Counters per key in fixed windows (in memory, per server process): enough to stop password guessing
 * and floods. `hit` counts and says whether the key is over its limit and for how long.
 */
export interface Limit {
  max: number;
  windowMs: number;
}

export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  private lastSweep = 0;

  constructor(readonly limit: Limit, private readonly now: () => number = Date.now) {}

  /** counts one for `key`; undefined when within the limit, else the seconds until the window ends */
  hit(key: string): number | undefined {
    const now = this.now();
    this.sweep(now);
    let w = this.windows.get(key);
    if (!w || now - w.start >= this.limit.windowMs) {
      w = { start: now, count: 0 };
      this.windows.set(key, w);
    }
    w.count++;
    return w.count > this.limit.max ? this.retryAfter(w, now) : undefined;
  }

  /** like hit but does not count: the seconds to wait when the key is over its limit */
  blocked(key: string): number | undefined {
    const now = this.now();
    const w = this.windows.get(key);
    if (!w || now - w.start >= this.limit.windowMs || w.count < this.limit.max) return undefined;
    return this.retryAfter(w, now);
  }

  /** takes back one count of `key` (an attempt counted up front that turned out not to be a failure) */
  unhit(key: string): void {
    const w = this.windows.get(key);
    if (w && w.count > 0) w.count--;
  }

  reset(key: string): void {
    this.windows.delete(key);
  }

  private retryAfter(w: { start: number }, now: number): number {
    return Math.max(1, Math.ceil((w.start + this.limit.windowMs - now) / 1000));
  }

  /** forgets ended windows now and then, so memory stays bounded by the keys of one window */
  private sweep(now: number): void {
    if (now - this.lastSweep < this.limit.windowMs) return;
    this.lastSweep = now;
    for (const [k, w] of this.windows) if (now - w.start >= this.limit.windowMs) this.windows.delete(k);
  }
}
