/**
 * Per-second rates from the deltas of growing counters between two samples: records per node (what it
 * received, `in`, or what it read for a source, `out`), rows per source table.
 */
import type { NodeStats } from '../executor/run-summary.js';
import type { SourceProgress } from '../node-api.js';
import type { TableRates } from './status.js';

/** rates of named counters; samples closer together than `minIntervalMs` keep the previous rates */
class CounterRates {
  private last?: { at: number; counts: Map<string, number> };
  private rates = new Map<string, number>();

  constructor(private readonly minIntervalMs: number) {}

  sample(counts: Map<string, number>, now: number): Map<string, number> {
    if (!this.last) this.last = { at: now, counts };
    else if (now - this.last.at >= this.minIntervalMs) {
      const seconds = (now - this.last.at) / 1000;
      for (const [id, count] of counts) this.rates.set(id, Math.max(0, (count - (this.last.counts.get(id) ?? 0)) / seconds));
      this.last = { at: now, counts };
    }
    return new Map([...counts.keys()].map((id) => [id, this.rates.get(id) ?? 0]));
  }

  zero(): void {
    this.rates.clear();
  }
}


export class RateMeter {
  private readonly nodes: CounterRates;
  private readonly tables: CounterRates;

  /**
   * @param sources ids of the nodes without inputs
   * @param minIntervalMs samples closer together than this keep the previous rates (no jitter from
   *        a status request that lands right after a tick)
   */
  constructor(private readonly sources: ReadonlySet<string>, minIntervalMs = 200) {
    this.nodes = new CounterRates(minIntervalMs);
    this.tables = new CounterRates(minIntervalMs);
  }

  /** takes a sample at `now` (ms) and answers the current rate of every node */
  sample(stats: Record<string, NodeStats>, now: number): Record<string, number> {
    const counts = new Map<string, number>();
    for (const [id, s] of Object.entries(stats)) counts.set(id, this.sources.has(id) ? s.out : s.in);
    return Object.fromEntries(this.nodes.sample(counts, now));
  }

  /** the sources' progress with rows/s added to each table */
  tableRates(progress: Record<string, SourceProgress>, now: number): TableRates {
    const key = (node: string, table: string) => `${node}\u0000${table}`;
    const counts = new Map<string, number>();
    for (const [id, p] of Object.entries(progress)) for (const t of p.tables ?? []) counts.set(key(id, t.name), t.done);
    const rates = this.tables.sample(counts, now);
    const out: TableRates = {};
    for (const [id, p] of Object.entries(progress)) {
      out[id] = p.tables ? { ...p, tables: p.tables.map((t) => ({ ...t, rate: Math.round(rates.get(key(id, t.name)) ?? 0) })) } : { ...p, tables: undefined };
      if (!p.tables) delete out[id].tables;
    }
    return out;
  }

  /** a finished run moves nothing */
  zero(): void {
    this.nodes.zero();
    this.tables.zero();
  }
}
