/**
 * `parallelTables: N` for the database sources' snapshots: N tables copied at once, each by its own
 * single-table reader on its lane's sessions (postgres.source: nodes/postgres/snapshot-lanes.ts;
 * mysql.source). Batches go out in the order they arrive; the position then names every table finished
 * (`done`) and, for each table begun but not finished, the last key handed out (`open`), so a resumed run
 * goes on in every one of them. The position is built when a batch is handed out, from what was handed
 * out before it: a batch read ahead by one lane never moves another lane's table forward in a committed
 * position, and a table finished later never appears in a position handed out before (positions are
 * kept by reference until committed, so the list of finished tables is replaced, never appended to).
 */
import type { SourceBatch } from '../../runtime/index.js';

/** where a snapshot read by lanes stands: tables finished, and per table begun the last key handed out */
export interface LanesState {
  done: string[];
  open?: Record<string, unknown[]>;
}

/** what a lane's reader of one table says of itself: the table is `done` (then [that table]), else the last key read */
export interface TableReadState {
  done: string[];
  after?: unknown[];
}

/** one table's reader on one lane: chunks in key order, an empty or last batch when the table ends, then null */
export interface TableLaneReader {
  next(): Promise<SourceBatch | null>;
  current(): TableReadState;
}

export interface TableLanesOptions<L> {
  /** table ids in the order they are taken */
  tables: string[];
  /** where to begin: a position taken with lanes (`open`), or by one reader (`table` / `after`) */
  state: LanesState & { table?: string; after?: unknown[] };
  /** each lane's own sessions (or whatever its readers need) */
  lanes: L[];
  /**
   * A reader of `table` on `lane`, going on after `after` (undefined: from its start). `position` gives a
   * record's position from the reader's own state: its table where the record stands, the others as
   * handed out so far.
   */
  reader(lane: L, table: string, after: unknown[] | undefined, position: (s: TableReadState) => unknown): TableLaneReader;
  /** the source's position for a lanes state: a new object */
  position(state: LanesState): unknown;
}

interface Lane<L> {
  resource: L;
  reader?: TableLaneReader;
  table?: string;
  pending?: Promise<{ lane: Lane<L>; batch: SourceBatch | null }>;
}

export class TableLanes<L> {
  /** replaced, never changed in place: positions handed out keep the array they were given */
  private done: readonly string[];
  private readonly open: Map<string, unknown[]>;
  private readonly lanes: Lane<L>[];
  /** tables no lane has taken yet, in table order */
  private readonly queue: string[];

  constructor(private readonly o: TableLanesOptions<L>) {
    this.done = [...o.state.done];
    this.open = new Map(Object.entries(o.state.open ?? {}));
    if (o.state.table !== undefined && o.state.after !== undefined) this.open.set(o.state.table, o.state.after);
    // tables begun in an earlier run first, so their lanes finish what was started
    const ids = o.tables.filter((id) => !this.done.includes(id));
    this.queue = [...ids.filter((id) => this.open.has(id)), ...ids.filter((id) => !this.open.has(id))];
    this.lanes = o.lanes.map((resource) => ({ resource }));
  }

  /** where the snapshot stands after the last batch handed out */
  current(): LanesState {
    return this.open.size > 0 ? { done: this.done as string[], open: Object.fromEntries(this.open) } : { done: this.done as string[] };
  }

  /** tables a lane is reading now */
  reading(): string[] {
    return this.lanes.flatMap((l) => (l.table !== undefined ? [l.table] : []));
  }

  async next(): Promise<SourceBatch | null> {
    for (const lane of this.lanes) if (!lane.pending) this.start(lane);
    const pending = this.lanes.flatMap((l) => (l.pending ? [l.pending] : []));
    if (pending.length === 0) return null;
    const { lane, batch } = await Promise.race(pending);
    lane.pending = undefined;
    if (!batch) {
      // the lane's table was finished by its previous batch: take the next table
      lane.reader = lane.table = undefined;
      return this.next();
    }
    const s = lane.reader!.current();
    const id = lane.table!;
    if (s.done.includes(id)) {
      this.done = [...this.done, id];
      this.open.delete(id);
    } else if (s.after !== undefined) this.open.set(id, s.after);
    this.start(lane); // read ahead while this batch travels
    batch.position = this.o.position(this.current());
    return batch;
  }

  private start(lane: Lane<L>): void {
    if (!lane.reader) {
      const id = this.queue.shift();
      if (id === undefined) return;
      lane.table = id;
      lane.reader = this.o.reader(lane.resource, id, this.open.get(id), (s) =>
        this.o.position(s.done.length > 0 ? { done: [...this.done, id], open: this.openWithout(id) } : { done: this.done as string[], open: { ...this.openWithout(id), [id]: s.after! } }),
      );
    }
    const p = lane.reader.next().then((batch) => ({ lane, batch }));
    p.catch(() => undefined); // awaited by next(); not unhandled meanwhile
    lane.pending = p;
  }

  private openWithout(id: string): Record<string, unknown[]> {
    const o: Record<string, unknown[]> = {};
    for (const [k, v] of this.open) if (k !== id) o[k] = v;
    return o;
  }
}
