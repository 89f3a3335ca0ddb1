/**
 * Time as the cluster code sees it: injected, so tests drive leases, heartbeats and timeouts with a
 * manual clock instead of sleeping on the wall clock.
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

/** a clock that moves only when told: `advance(ms)` runs the timers that come due, in order */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 1_000_000) {
    this.time = start;
  }

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): number {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as number);
  }

  /** moves time forward by `ms` running nothing, as a blocked event loop does: the next advance runs what came due, in order */
  stall(ms: number): void {
    this.time += ms;
  }

  /** moves time forward by `ms`, running each timer due on the way (and letting its promises settle) */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.time = end;
    for (let i = 0; i < 10; i++) await Promise.resolve();
  }
}
