/**
 * Records per second per node, from the deltas of the run's counters between two samples. A node's
 * count is what it received (`in`), or what it read for a source (`out`, it has no input).
 */
import type { NodeStats } from '../executor/flow-run.js';

export class RateMeter {
  private last?: { at: number; counts: Map<string, number> };
  private rates = new Map<string, number>();

  /**
   * @param sources ids of the nodes without inputs
   * @param minIntervalMs samples closer together than this keep the previous rates (no jitter from
   *        a status request that lands right after a tick)
   */
  constructor(private readonly sources: ReadonlySet<string>, private readonly minIntervalMs = 200) {}

  /** takes a sample at `now` (ms) and answers the current rate of every node */
  sample(stats: Record<string, NodeStats>, now: number): Record<string, number> {
    const counts = new Map<string, number>();
    for (const [id, s] of Object.entries(stats)) counts.set(id, this.sources.has(id) ? s.out : s.in);
    if (!this.last) this.last = { at: now, counts };
    else if (now - this.last.at >= this.minIntervalMs) {
      const seconds = (now - this.last.at) / 1000;
      for (const [id, count] of counts) this.rates.set(id, Math.max(0, (count - (this.last.counts.get(id) ?? 0)) / seconds));
      this.last = { at: now, counts };
    }
    return Object.fromEntries([...counts.keys()].map((id) => [id, this.rates.get(id) ?? 0]));
  }

  /** a finished run moves nothing */
  zero(): void {
    this.rates.clear();
  }
}
