/**
 * `parallelTables: N`: N tables copied at once, each by its own SnapshotReader on its own sessions (all
 * in the one exported snapshot), beside the `parallel` chunks within a table. Batches go out in the
 * order they arrive; the position then names every table finished (`done`) and, for each table begun
 * but not finished, the last key handed out (`open`), so a resumed run goes on in every one of them.
 * The position is built when a batch is handed out, from what was handed out before it: a batch read
 * ahead by one lane never moves another lane's table forward in a committed position.
 */
import type pg from 'pg';
import type { SourceBatch } from '../../runtime/index.js';
import { SnapshotReader, type SnapshotOptions, type SnapshotState } from './snapshot.js';

interface Lane {
  clients: pg.ClientBase[];
  reader?: SnapshotReader;
  table?: string;
  pending?: Promise<{ lane: Lane; batch: SourceBatch | null }>;
}

export class SnapshotLanes {
  private readonly done: string[];
  private readonly open: Map<string, unknown[]>;
  private readonly lanes: Lane[];
  /** tables no lane has taken yet, in table order */
  private readonly queue: string[];

  /** `lanes`: the sessions of each lane (each as SnapshotReader wants them for `o.parallel`) */
  constructor(
    private readonly o: SnapshotOptions,
    lanes: pg.ClientBase[][],
  ) {
    this.done = [...o.state.done];
    this.open = new Map(Object.entries(o.state.open ?? {}));
    if (o.state.table !== undefined && o.state.after !== undefined) this.open.set(o.state.table, o.state.after);
    // tables begun in an earlier run first, so their lanes finish what was started
    const ids = o.tables.map((t) => t.id).filter((id) => !this.done.includes(id));
    this.queue = [...ids.filter((id) => this.open.has(id)), ...ids.filter((id) => !this.open.has(id))];
    this.lanes = lanes.map((clients) => ({ clients }));
  }

  current(): SnapshotState {
    return this.open.size > 0 ? { done: this.done, open: Object.fromEntries(this.open) } : { done: this.done };
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
      this.done.push(id);
      this.open.delete(id);
    } else if (s.after !== undefined) this.open.set(id, s.after);
    this.start(lane); // read ahead while this batch travels
    batch.position = this.o.position(this.current());
    return batch;
  }

  private start(lane: Lane): void {
    if (!lane.reader) {
      const id = this.queue.shift();
      if (id === undefined) return;
      const table = this.o.tables.find((t) => t.id === id)!;
      const after = this.open.get(id);
      lane.table = id;
      lane.reader = new SnapshotReader({
        ...this.o,
        tables: [table],
        clients: lane.clients,
        state: after ? { done: [], table: id, after } : { done: [] },
        // a record's own position: its lane's table where the record stands, the others as handed out so far
        position: (s) => this.o.position(s.done.length > 0 ? { done: [...this.done, id], open: this.openWithout(id) } : { done: this.done, open: { ...this.openWithout(id), [id]: s.after! } }),
      });
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
