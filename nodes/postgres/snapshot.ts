/**
 * The snapshot half of postgres.source: tables read one after the other, each in primary-key (keyset)
 * order, chunk by chunk: `WHERE (pk) > (last key) ORDER BY pk LIMIT chunkSize`, so a resumed run goes on
 * after the last key it committed instead of starting the table again.
 *
 * Every reading session sits in one REPEATABLE READ transaction on the same snapshot: the one a new
 * replication slot exported (snapshot+cdc: the stream then starts exactly where the snapshot stands), or
 * one exported by the first session (pg_export_snapshot) and imported by the others (parallel reads).
 *
 * `parallel: N` reads N chunks of a table at once and still emits them in key order: one session plans
 * chunk boundaries with a cheap index-only query (`... ORDER BY pk OFFSET chunkSize-1 LIMIT 1`), the
 * others read the chunks `(pk) > (lo) AND (pk) <= (hi)` concurrently.
 */
import type pg from 'pg';
import type { SluiceRecord, SourceBatch, Value } from '../../runtime/index.js';
import type { TableMeta } from './catalog.js';
import { qualified, quoteIdent } from './connection.js';
import { toPgText, type TypeMapper } from './types.js';

/** where the snapshot stands: tables fully read, and the last key read of the current one */
export interface SnapshotState {
  done: string[];
  table?: string;
  after?: unknown[];
}

export interface SnapshotOptions {
  nodeId: string;
  tables: TableMeta[];
  chunkSize: number;
  parallel: number;
  /**
   * sessions inside a REPEATABLE READ transaction on one snapshot: with parallel 1 the first reads
   * everything; otherwise it plans and the others (at least one) read chunks
   */
  clients: pg.ClientBase[];
  mapper: TypeMapper;
  state: SnapshotState;
  /** the node's position for a snapshot state */
  position(state: SnapshotState): unknown;
}

type Statements = Record<'first' | 'next' | 'bounded' | 'boundedFirst' | 'tail' | 'tailFirst' | 'plan' | 'planFirst', string>;

interface Chunk {
  table: TableMeta;
  /** inclusive upper bound (key values); undefined: to the end of the table */
  hi?: unknown[];
  rows: Promise<unknown[][]>;
}

/**
 * Starts the snapshot transaction on every session: REPEATABLE READ, READ ONLY, on the exported
 * snapshot `snapshotName` when given; otherwise the first session exports one for the others.
 */
export async function beginSnapshot(clients: pg.ClientBase[], snapshotName?: string): Promise<void> {
  let name = snapshotName;
  for (const [i, c] of clients.entries()) {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    if (name) await c.query(`SET TRANSACTION SNAPSHOT '${name.replaceAll("'", "''")}'`);
    else if (clients.length > 1 && i === 0) name = (await c.query<{ s: string }>('SELECT pg_export_snapshot() AS s')).rows[0].s;
    else await c.query('SELECT 1'); // takes the snapshot now
  }
}

export class SnapshotReader {
  private readonly state: SnapshotState;
  private readonly sql = new Map<string, Statements>();
  /** parallel: chunks planned and being read, in key order */
  private readonly inflight: Chunk[] = [];
  private planTable = 0;
  private planAfter?: unknown[];
  private planned = false;
  private reader = 0;
  private failed?: unknown;

  constructor(private readonly o: SnapshotOptions) {
    this.state = { done: [...o.state.done], table: o.state.table, after: o.state.after };
    const start = o.tables.findIndex((t) => !this.state.done.includes(t.id));
    this.planTable = start < 0 ? o.tables.length : start;
    if (this.state.table && o.tables[this.planTable]?.id === this.state.table) this.planAfter = this.state.after;
  }

  /** where the snapshot stands after the last chunk handed out */
  current(): SnapshotState {
    return { done: this.state.done, ...(this.state.table ? { table: this.state.table, after: this.state.after } : {}) };
  }

  /** the next chunk in key order, or null once every table was read */
  async next(): Promise<SourceBatch | null> {
    return this.o.parallel > 1 && this.o.clients.length > 1 ? this.nextParallel() : this.nextSequential();
  }

  private async nextSequential(): Promise<SourceBatch | null> {
    const { chunkSize, clients } = this.o;
    for (;;) {
      const t = this.o.tables.find((x) => !this.state.done.includes(x.id));
      if (!t) return null;
      const after = this.state.table === t.id ? this.state.after : undefined;
      const q = this.statements(t);
      const params = after ? [...this.keyParams(t, after), chunkSize] : [chunkSize];
      const rows = await this.query(clients[0], after ? q.next : q.first, params);
      const done = rows.length < chunkSize;
      const batch = this.batch(t, rows, done);
      if (rows.length > 0 || done) return batch;
    }
  }

  private async nextParallel(): Promise<SourceBatch | null> {
    for (;;) {
      if (this.failed) throw this.failed;
      await this.fill();
      const chunk = this.inflight.shift();
      if (!chunk) return null;
      const rows = await chunk.rows;
      this.fill().catch((err) => (this.failed = err)); // plan the next chunk while this one travels
      const batch = this.batch(chunk.table, rows, chunk.hi === undefined, chunk.hi);
      if (rows.length > 0 || chunk.hi === undefined) return batch;
    }
  }

  /** plans chunks until `parallel` are in flight */
  private filling?: Promise<void>;
  private fill(): Promise<void> {
    this.filling ??= this.doFill().finally(() => (this.filling = undefined));
    return this.filling;
  }

  private async doFill(): Promise<void> {
    const { parallel, chunkSize, clients, tables } = this.o;
    const readers = clients.slice(1);
    while (!this.planned && this.inflight.length < parallel) {
      const t = tables[this.planTable];
      if (!t) {
        this.planned = true;
        break;
      }
      const q = this.statements(t);
      const lo = this.planAfter;
      const bound = await this.query(clients[0], lo ? q.plan : q.planFirst, lo ? [...this.keyParams(t, lo), chunkSize - 1] : [chunkSize - 1]);
      const hi = bound[0];
      const reader = readers[this.reader++ % readers.length];
      let rows: Promise<unknown[][]>;
      if (hi) rows = this.query(reader, lo ? q.bounded : q.boundedFirst, lo ? [...this.keyParams(t, lo), ...this.keyParams(t, hi)] : this.keyParams(t, hi));
      else rows = this.query(reader, lo ? q.tail : q.tailFirst, lo ? this.keyParams(t, lo) : []);
      rows.catch(() => undefined); // awaited in order by nextParallel; do not let it go unhandled meanwhile
      this.inflight.push({ table: t, hi, rows });
      if (hi) this.planAfter = hi;
      else {
        this.planTable++;
        this.planAfter = undefined;
        while (tables[this.planTable] && this.state.done.includes(tables[this.planTable].id)) this.planTable++;
      }
    }
  }

  private async query(client: pg.ClientBase, text: string, values: unknown[]): Promise<unknown[][]> {
    const res = await client.query<unknown[]>({ text, values, rowMode: 'array', types: this.o.mapper.pgTypes });
    return res.rows;
  }

  /** records of one chunk, and the state after it */
  private batch(t: TableMeta, rows: unknown[][], tableDone: boolean, hi?: unknown[]): SourceBatch {
    const names = t.columns.map((c) => c.name);
    const pkIdx = t.pk.map((k) => names.indexOf(k));
    const ts = Date.now();
    const records: SluiceRecord[] = new Array(rows.length);
    const done = this.state.done;
    let last: unknown[] | undefined;
    for (let r = 0; r < rows.length; r++) {
      const row = rows[r];
      const value: Value = {};
      for (let i = 0; i < names.length; i++) value[names[i]] = row[i];
      const key: Value = {};
      const after: unknown[] = new Array(pkIdx.length);
      for (let j = 0; j < pkIdx.length; j++) key[t.pk[j]] = after[j] = row[pkIdx[j]];
      records[r] = { key, value, op: 'r', meta: { source: this.o.nodeId, table: t.id, position: this.o.position({ done, table: t.id, after }), ts } };
      last = after;
    }
    if (tableDone) {
      this.state.done = [...done, t.id];
      this.state.table = this.state.after = undefined;
    } else {
      this.state.table = t.id;
      this.state.after = hi ?? last ?? this.state.after;
    }
    const position = this.o.position({ ...this.state });
    if (records.length > 0) records[records.length - 1].meta.position = position;
    return { records, position };
  }

  private keyParams(t: TableMeta, values: unknown[]): (string | null)[] {
    return t.pk.map((k, i) => toPgText(values[i], t.columns.find((c) => c.name === k)!));
  }

  private statements(t: TableMeta): Statements {
    let s = this.sql.get(t.id);
    if (!s) {
      const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
      const pk = t.pk.map(quoteIdent).join(', ');
      const types = t.pk.map((k) => t.columns.find((c) => c.name === k)!.sqlType);
      const tuple = (from: number) => `(${types.map((ty, i) => `$${from + i}::${ty}`).join(', ')})`;
      const n = t.pk.length;
      const from = `SELECT ${cols} FROM ${qualified(t.name)}`;
      const keys = `SELECT ${pk} FROM ${qualified(t.name)}`;
      s = {
        first: `${from} ORDER BY ${pk} LIMIT $1`,
        next: `${from} WHERE (${pk}) > ${tuple(1)} ORDER BY ${pk} LIMIT $${n + 1}`,
        bounded: `${from} WHERE (${pk}) > ${tuple(1)} AND (${pk}) <= ${tuple(n + 1)} ORDER BY ${pk}`,
        boundedFirst: `${from} WHERE (${pk}) <= ${tuple(1)} ORDER BY ${pk}`,
        tail: `${from} WHERE (${pk}) > ${tuple(1)} ORDER BY ${pk}`,
        tailFirst: `${from} ORDER BY ${pk}`,
        plan: `${keys} WHERE (${pk}) > ${tuple(1)} ORDER BY ${pk} OFFSET $${n + 1} LIMIT 1`,
        planFirst: `${keys} ORDER BY ${pk} OFFSET $1 LIMIT 1`,
      };
      this.sql.set(t.id, s);
    }
    return s;
  }
}
