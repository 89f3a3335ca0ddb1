/**
 * The snapshot half of postgres.source: tables read one after the other, each in primary-key (keyset)
 * order, chunk by chunk: `WHERE (pk) > (last key) ORDER BY pk LIMIT chunkSize`, so a resumed run goes on
 * after the last key it committed instead of starting the table again. Each chunk is read with
 * `COPY (SELECT ...) TO STDOUT` and parsed here (parseCopyText): a third of the CPU of a SELECT's rows.
 *
 * Every reading session sits in one REPEATABLE READ transaction on the same snapshot: the one a new
 * replication slot exported (snapshot+cdc: the stream then starts exactly where the snapshot stands), or
 * one exported by the first session (pg_export_snapshot) and imported by the others (parallel reads).
 *
 * `parallel: N` reads N chunks of a table at once and still emits them in key order: one session plans
 * chunk boundaries with a cheap index-only query (`... ORDER BY pk OFFSET chunkSize-1 LIMIT 1`), the
 * others read the chunks `(pk) > (lo) AND (pk) <= (hi)` concurrently.
 *
 * A table without a primary key (`TableMeta.ctid`) is read in ranges of blocks,
 * `ctid >= '(lo,0)' AND ctid < '(hi,0)'` (a TID range scan: no index, no sort), with as many blocks per
 * chunk as hold about chunkSize rows (from the rows the last chunk brought). Its position is the next
 * block. Row locations are not stable across a resume (an UPDATE or VACUUM FULL moves rows), so a
 * resumed keyless table may re-read or miss rows changed in between: written append-only, a re-run
 * duplicates (the source warns).
 */
import { isAscii } from 'node:buffer';
import type pg from 'pg';
import { valueMaker, type SluiceRecord, type SourceBatch, type Value, type ValueMaker } from '../../runtime/index.js';
import type { TableMeta } from './catalog.js';
import { qualified, quoteIdent } from './connection.js';
import { copyOut } from './copy-out.js';
import { fieldReader, toPgText, type FieldReader, type Parser, type TypeMapper } from './types.js';
import { SCHEMA_META, type TableSchema } from '../shared/columns.js';
import { laneFilter, type LaneShare } from './lane-filter.js';

/** where the snapshot stands: tables fully read, and the last key read of the current one (ctid tables: [next block]) */
export interface SnapshotState {
  done: string[];
  table?: string;
  after?: unknown[];
  /** parallelTables (snapshot-lanes.ts): tables begun and not finished, each with the last key handed out */
  open?: Record<string, unknown[]>;
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
  /** each table's declared columns by table id: set (shared, not copied) on the first record of each chunk */
  schemas: ReadonlyMap<string, TableSchema>;
  state: SnapshotState;
  /** the node's position for a snapshot state: a new object (`state` may be reused after the call) */
  position(state: SnapshotState): unknown;
  /** settings.lanes > 1: read only this lane's share of each table (lane-filter.ts) */
  lane?: LaneShare;
}

/** a query of the snapshot failed while reading `table` (the source decides whether that table is skipped) */
export class TableReadError extends Error {
  constructor(
    readonly table: string,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/** a row query with its values inlined (COPY takes no parameters): key values as text, then the limit */
type RowSql = (values: (string | null)[], limit?: number) => string;

interface Statements {
  first: RowSql;
  next: RowSql;
  bounded: RowSql;
  boundedFirst: RowSql;
  tail: RowSql;
  tailFirst: RowSql;
  /** key-only planning queries (parallel): ordinary parameters */
  plan: string;
  planFirst: string;
}

interface Chunk {
  table: TableMeta;
  /** inclusive upper bound (key values); undefined: to the end of the table */
  hi?: unknown[];
  rows: Promise<Value[]>;
  /** ctid tables: the chunk's first block, each record's resume point */
  lo?: unknown[];
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
  /** per table: its columns' parsers and field readers (their caches last across chunks), and the maker of its row values */
  private readonly readers = new Map<string, { parsers: Parser[]; fields: FieldReader[]; make: ValueMaker }>();
  /** per table: the maker of its records' keys */
  private readonly keyMakers = new Map<string, ValueMaker>();
  /** parallel: chunks planned and being read, in key order */
  private readonly inflight: Chunk[] = [];
  private planTable = 0;
  private planAfter?: unknown[];
  private planned = false;
  private reader = 0;
  private failed?: unknown;
  /** ctid tables: blocks in the table when its reading began, and blocks per chunk (adapted as rows arrive) */
  private readonly blocks = new Map<string, { total: number; perChunk: number }>();

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
      if (t.ctid) {
        const lo = Number(after?.[0] ?? 0);
        const b = await this.blockPlan(clients[0], t);
        const hi = lo + b.perChunk;
        const last = hi >= b.total;
        const rows = await this.rows(clients[0], t, this.ctidRange(t, lo, last ? undefined : hi));
        this.adapt(t, b, rows.length);
        const batch = this.batch(t, rows, last, [hi], [lo]);
        if (rows.length > 0 || last) return batch;
        continue;
      }
      const q = this.statements(t);
      const rows = await this.rows(clients[0], t, after ? q.next(this.keyParams(t, after), chunkSize) : q.first([], chunkSize));
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
      const batch = this.batch(chunk.table, rows, chunk.hi === undefined, chunk.hi, chunk.lo);
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
    while (!this.planned && this.inflight.length < this.o.parallel) {
      const t = this.o.tables[this.planTable];
      if (!t) {
        this.planned = true;
        break;
      }
      try {
        await this.planChunk(t);
      } catch (err) {
        throw err instanceof TableReadError ? err : new TableReadError(t.id, err);
      }
    }
  }

  /** plans the next chunk of `t` and starts reading it */
  private async planChunk(t: TableMeta): Promise<void> {
    const { chunkSize, clients } = this.o;
    const readers = clients.slice(1);
    const reader = readers[this.reader++ % readers.length];
    if (t.ctid) {
      const b = await this.blockPlan(clients[0], t);
      const lo = Number(this.planAfter?.[0] ?? 0);
      const end = lo + b.perChunk;
      const hi = end >= b.total ? undefined : [end];
      const rows = this.rows(reader, t, this.ctidRange(t, lo, hi ? end : undefined));
      rows.catch(() => undefined);
      this.inflight.push({ table: t, hi, rows, lo: [lo] });
      this.advancePlan(hi);
      return;
    }
    const q = this.statements(t);
    const lo = this.planAfter;
    const bound = await this.query(clients[0], lo ? q.plan : q.planFirst, lo ? [...this.keyParams(t, lo), chunkSize - 1] : [chunkSize - 1]);
    const hi = bound[0];
    let rows: Promise<Value[]>;
    if (hi) rows = this.rows(reader, t, lo ? q.bounded([...this.keyParams(t, lo), ...this.keyParams(t, hi)]) : q.boundedFirst(this.keyParams(t, hi)));
    else rows = this.rows(reader, t, lo ? q.tail(this.keyParams(t, lo)) : q.tailFirst([]));
    rows.catch(() => undefined); // awaited in order by nextParallel; do not let it go unhandled meanwhile
    this.inflight.push({ table: t, hi, rows });
    this.advancePlan(hi);
  }

  /** the planner goes on after `hi`, or to the next table not yet read */
  private advancePlan(hi: unknown[] | undefined): void {
    const { tables } = this.o;
    if (hi) this.planAfter = hi;
    else {
      this.planTable++;
      this.planAfter = undefined;
      while (tables[this.planTable] && this.state.done.includes(tables[this.planTable].id)) this.planTable++;
    }
  }

  /** ctid tables: the table's blocks (as its reading begins) and a first guess of blocks per chunk from the planner's statistics */
  private async blockPlan(client: pg.ClientBase, t: TableMeta): Promise<{ total: number; perChunk: number }> {
    let b = this.blocks.get(t.id);
    if (!b) {
      const [row] = await this.query(
        client,
        "SELECT (pg_relation_size(c.oid) / current_setting('block_size')::int)::int, c.reltuples::float8, c.relpages::int FROM pg_class c WHERE c.oid = to_regclass($1)",
        [qualified(t.name)],
      ).catch((err) => {
        throw new TableReadError(t.id, err);
      });
      const [total, tuples, pages] = (row ?? [0, -1, 0]) as [number, number, number];
      const perBlock = tuples > 0 && pages > 0 ? tuples / pages : 50;
      b = { total: Number(total), perChunk: Math.max(1, Math.floor(this.o.chunkSize / Math.max(1, perBlock))) };
      this.blocks.set(t.id, b);
    }
    return b;
  }

  /** ctid tables: blocks per chunk after a chunk of `rows` rows, toward chunkSize rows (at most doubled at once) */
  private adapt(t: TableMeta, b: { perChunk: number }, rows: number): void {
    const want = rows > 0 ? Math.floor((b.perChunk * this.o.chunkSize) / rows) : b.perChunk * 2;
    b.perChunk = Math.max(1, Math.min(want, b.perChunk * 2));
  }

  private ctidRange(t: TableMeta, lo: number, hi: number | undefined): string {
    const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
    const lane = laneFilter(t, this.o.lane);
    return `SELECT ${cols} FROM ${qualified(t.name)} WHERE ctid >= '(${Math.trunc(lo)},0)'::tid${hi !== undefined ? ` AND ctid < '(${Math.trunc(hi)},0)'::tid` : ''}${lane ? ` AND ${lane}` : ''}`;
  }

  private async query(client: pg.ClientBase, text: string, values: unknown[]): Promise<unknown[][]> {
    const res = await client.query<unknown[]>({ text, values, rowMode: 'array', types: this.o.mapper.pgTypes });
    return res.rows;
  }

  /**
   * The rows of a chunk, through `COPY (query) TO STDOUT`: one text stream decoded at once instead of
   * a protocol message and a string per field. The same text forms as a query's (each type's output
   * function), parsed by the same parsers: far less CPU in Node than pg's row parser on the same SELECTs
   * (`npm run bench -- postgres.copy`). COPY takes no parameters: key values are inlined as escaped
   * literals (statements()).
   */
  private async rows(client: pg.ClientBase, t: TableMeta, sql: string): Promise<Value[]> {
    try {
      let reader = this.readers.get(t.id);
      if (!reader) {
        const parsers = t.columns.map((c) => this.o.mapper.parser(c.typeOid));
        this.readers.set(t.id, (reader = { parsers, fields: parsers.map(fieldReader), make: valueMaker(t.columns.map((c) => c.name)) }));
      }
      const bytes = await copyOut(client, `COPY (${sql}) TO STDOUT`);
      return parseCopyText(bytes.toString('utf8'), reader.parsers, reader.make, reader.fields, isAscii(bytes) ? bytes : undefined);
    } catch (err) {
      throw new TableReadError(t.id, err);
    }
  }

  /** records of one chunk, and the state after it */
  private batch(t: TableMeta, rows: Value[], tableDone: boolean, hi?: unknown[], lo?: unknown[]): SourceBatch {
    const pk = t.pk;
    const makeKey = this.keyMaker(t);
    const ts = Date.now();
    const records: SluiceRecord[] = new Array(rows.length);
    const done = this.state.done;
    // each record's position: the state after it (`position` copies what it keeps, so one object serves)
    const scratch: SnapshotState = { done, table: t.id, after: undefined };
    let last: unknown[] | undefined;
    for (let r = 0; r < rows.length; r++) {
      const value = rows[r];
      const after: unknown[] = new Array(pk.length);
      for (let j = 0; j < pk.length; j++) after[j] = value[pk[j]];
      const key = makeKey(after);
      scratch.after = t.ctid ? lo : after;
      records[r] = { key, value, op: 'r', meta: { source: this.o.nodeId, table: t.id, position: this.o.position(scratch), ts } };
      if (!t.ctid) last = after;
    }
    if (tableDone) {
      this.state.done = [...done, t.id];
      this.state.table = this.state.after = undefined;
    } else {
      this.state.table = t.id;
      this.state.after = hi ?? last ?? this.state.after;
    }
    const position = this.o.position(this.state);
    if (records.length > 0) {
      records[records.length - 1].meta.position = position;
      const schema = this.o.schemas.get(t.id);
      if (schema) records[0].meta[SCHEMA_META] = schema;
    }
    return { records, position };
  }

  /** the maker of a record's key from its key values: a literal of the key's fields, as rows are made */
  private keyMaker(t: TableMeta): ValueMaker {
    let make = this.keyMakers.get(t.id);
    if (!make) this.keyMakers.set(t.id, (make = valueMaker(t.pk)));
    return make;
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
      // key values inlined as escaped string literals (E'...': whatever standard_conforming_strings says), cast as parameters are
      const lit = (v: string | null, type: string) => (v === null ? `NULL::${type}` : `E'${v.replaceAll('\\', '\\\\').replaceAll("'", "''")}'::${type}`);
      const tupleOf = (values: (string | null)[], from: number) => `(${types.map((ty, i) => lit(values[from + i], ty)).join(', ')})`;
      const limit = (n: number | undefined) => `LIMIT ${Math.trunc(Number(n))}`;
      const n = t.pk.length;
      const from = `SELECT ${cols} FROM ${qualified(t.name)}`;
      const keys = `SELECT ${pk} FROM ${qualified(t.name)}`;
      // lanes: this lane's rows only (the planning queries below still plan over every key)
      const lf = laneFilter(t, this.o.lane);
      const and = lf ? ` AND ${lf}` : '';
      const only = lf ? ` WHERE ${lf}` : '';
      s = {
        first: (_, l) => `${from}${only} ORDER BY ${pk} ${limit(l)}`,
        next: (v, l) => `${from} WHERE (${pk}) > ${tupleOf(v, 0)}${and} ORDER BY ${pk} ${limit(l)}`,
        bounded: (v) => `${from} WHERE (${pk}) > ${tupleOf(v, 0)} AND (${pk}) <= ${tupleOf(v, n)}${and} ORDER BY ${pk}`,
        boundedFirst: (v) => `${from} WHERE (${pk}) <= ${tupleOf(v, 0)}${and} ORDER BY ${pk}`,
        tail: (v) => `${from} WHERE (${pk}) > ${tupleOf(v, 0)}${and} ORDER BY ${pk}`,
        tailFirst: () => `${from}${only} ORDER BY ${pk}`,
        plan: `${keys} WHERE (${pk}) > ${tuple(1)} ORDER BY ${pk} OFFSET $${n + 1} LIMIT 1`,
        planFirst: `${keys} ORDER BY ${pk} OFFSET $1 LIMIT 1`,
      };
      this.sql.set(t.id, s);
    }
    return s;
  }
}

const UNESCAPE: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * COPY's text format (tab-separated fields, one row a line, `\N` for NULL, backslash escapes) into row
 * values, field i through `parsers[i]`, each row made by `make` from its fields (one array reused for all).
 * `readers`: the columns' field readers (fieldReader), kept by the caller so their caches last across chunks.
 * `ascii`: the bytes `text` was decoded from, when they are all ASCII (FieldReader).
 */
export function parseCopyText(text: string, parsers: Parser[], make: ValueMaker, readers: FieldReader[] = parsers.map(fieldReader), ascii?: Buffer): Value[] {
  const rows: Value[] = [];
  const n = parsers.length;
  const row: unknown[] = new Array(n);
  // the first backslash at or after the current field: fields that end before it are read in place, unsliced
  let bs = nextBackslash(text, 0);
  let i = 0;
  while (i < text.length) {
    let nl = text.indexOf('\n', i);
    if (nl < 0) nl = text.length;
    let start = i;
    for (let f = 0; f < n; f++) {
      let end = f === n - 1 ? nl : text.indexOf('\t', start);
      if (end < 0 || end > nl) end = nl;
      if (bs >= end) row[f] = readers[f](text, start, end, ascii);
      else {
        const raw = text.slice(start, end);
        row[f] = raw === '\\N' ? null : parsers[f](raw.replace(/\\(.)/g, (_, c: string) => UNESCAPE[c] ?? c));
        bs = nextBackslash(text, end);
      }
      start = end + 1;
    }
    rows.push(make(row));
    i = nl + 1;
  }
  return rows;
}

function nextBackslash(text: string, from: number): number {
  const i = text.indexOf('\\', from);
  return i < 0 ? text.length : i;
}
