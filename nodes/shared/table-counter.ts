/**
 * Rows read per table, for a database source's progress(): the total since the first run (restored
 * from the committed position, so tables finished in an earlier run keep their count after a resume)
 * and this run's rate, rows/s per table and for the whole source. Rates count only rows read by this
 * run, over the time from the read that brought a table's first rows to its last ones.
 */
import type { SourceBatch, TableProgress } from '../../runtime/index.js';

interface RunSpan {
  rows: number;
  first: number;
  last: number;
}

export class TableCounter {
  private readonly total = new Map<string, number>();
  private readonly run = new Map<string, RunSpan>();
  private readStartedAt?: number;

  constructor(private readonly now: () => number = Date.now) {}

  /** counts carried by a committed position (`{ table: rows }`); anything else is ignored */
  restore(rows: unknown): void {
    if (typeof rows !== 'object' || rows === null) return;
    for (const [table, n] of Object.entries(rows)) if (Number.isSafeInteger(n) && (n as number) >= 0) this.total.set(table, n as number);
  }

  /** call when a read() starts: the rows it brings are timed from here */
  reading(): void {
    this.readStartedAt = this.now();
  }

  /** `n` rows of `table` read now */
  add(table: string, n: number): void {
    if (n <= 0) return;
    const at = this.now();
    this.total.set(table, (this.total.get(table) ?? 0) + n);
    const span = this.run.get(table);
    if (span) {
      span.rows += n;
      span.last = at;
    } else this.run.set(table, { rows: n, first: Math.min(this.readStartedAt ?? at, at), last: at });
  }

  /** counts a batch's records by meta.table (runs of one table counted at once) and returns it */
  count<B extends SourceBatch | null>(batch: B): B {
    if (!batch) return batch;
    let table: string | undefined;
    let n = 0;
    for (const r of batch.records) {
      if (r.meta.table === table) {
        n++;
        continue;
      }
      if (table !== undefined) this.add(table, n);
      table = r.meta.table as string;
      n = 1;
    }
    if (table !== undefined) this.add(table, n);
    return batch;
  }

  /** rows per table since the first run: what a position carries */
  counts(): Record<string, number> {
    return Object.fromEntries(this.total);
  }

  done(table: string): number {
    return this.total.get(table) ?? 0;
  }

  /** this run's rows/s of `table`; undefined before it read any */
  rate(table: string): number | undefined {
    const s = this.run.get(table);
    return s ? perSecond(s.rows, s.last - s.first) : undefined;
  }

  /** this run's rows/s over every table, from the first rows to the last */
  overall(): number | undefined {
    if (this.run.size === 0) return undefined;
    let rows = 0;
    let first = Infinity;
    let last = 0;
    for (const s of this.run.values()) {
      rows += s.rows;
      first = Math.min(first, s.first);
      last = Math.max(last, s.last);
    }
    return perSecond(rows, last - first);
  }

  /** a TableProgress with the counts and rate of `table` */
  table(name: string, phase: TableProgress['phase'], estimated?: number): TableProgress {
    const rate = this.rate(name);
    return { name, phase, done: this.done(name), ...(estimated !== undefined ? { estimated } : {}), ...(rate !== undefined ? { rowsPerSec: rate } : {}) };
  }
}

/** a one-read burst (under a millisecond) counts as one millisecond */
const perSecond = (rows: number, ms: number) => Math.round((rows * 1000) / Math.max(1, ms));
