/**
 * mysql.source: reads MySQL 8 / MariaDB 10.11 tables — a snapshot in key order, changes from the row
 * binlog (CDC), or a snapshot and then the changes after it, losing nothing at the handoff.
 *
 * - `tables`: 'db.table', 'table' (in the connection's database) or patterns with * and ? ('shop.*').
 *   A PRIMARY KEY (or a UNIQUE index over NOT NULL columns) orders the snapshot, makes it resumable and is
 *   the record key. A table without one is read by one streamed query under the same consistent snapshot
 *   (snapshot.ts), keyed by the columns `keys` gives for it, else with an empty key: sinks then append its
 *   rows (a warning says a re-run duplicates them). Tables are read one after the other, sorted by name.
 * - `mode: snapshot`: every table once, in keyset chunks of `chunkSize` rows (snapshot.ts); records op r;
 *   a restarted flow continues after the last key committed. Ends after the last table.
 * - `mode: cdc`: the changes from the binlog from now on (binlog.ts): op c for inserts, u for updates
 *   (`before` = the old row image), d for deletes (`value` null, `before` = the deleted row). Runs until
 *   the flow stops. Needs log_bin, binlog_format=ROW, binlog_row_image=FULL, and REPLICATION SLAVE +
 *   REPLICATION CLIENT (MariaDB: BINLOG MONITOR): open() checks them and says what to change.
 * - `mode: snapshot+cdc`: the snapshot records the binlog position it corresponds to, then streams from
 *   there (see snapshot.ts for why the handoff loses nothing).
 *
 * Records: key = `{ <key columns> }`, value = the row (types.ts has the value mapping), meta
 * `{ source, table: 'db.table', position, ts }`; the first record of each table in a batch also carries
 * `meta.schema`, the table's declared columns (nodes/shared/columns.ts), from which a sink that creates
 * the table maps the types (conversion mode, docs/type-mapping.md section C). The position (committed once sinks acknowledged) is
 * `{ phase: 'snapshot', done, table?, after?, binlog? }` while the snapshot runs and
 * `{ phase: 'cdc', binlog: { file, pos, skip?, gtid? } }` after: file:offset of the binlog, see binlog.ts.
 *
 * A lost connection or a restarted server fails the read; the executor retries it (settings.retry) and
 * the source reconnects, resuming from the last position it handed out.
 */
import { z } from 'zod';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import {
  ConfigError,
  NodeError,
  UserError,
  defineNode,
  type NodeContext,
  type SluiceRecord,
  type SourceBatch,
  type SourceInstance,
  type SourceProgress,
  type TableProgress,
} from '../../runtime/index.js';
import { BinlogStream, defaultServerId, type BinlogItem, type BinlogPosition } from './binlog.js';
import {
  binlogEnd,
  binlogProblems,
  connectionFields,
  oneConnection,
  openPool,
  resolveTarget,
  statementError,
  type ServerInfo,
  type Target,
} from './connection.js';
import { TableChunks, beginSnapshot } from './snapshot.js';
import { describeTable, listTables, rowReader, schemaExists, tableSchema, ZERO_DATE_MODES, type TableInfo } from './types.js';
import { SCHEMA_META, type TableSchema } from '../shared/columns.js';
import { openOrClose } from '../shared/open.js';
import { TableCounter } from '../shared/table-counter.js';
import { TableLanes, type LanesState, type TableReadState } from '../shared/table-lanes.js';
import { SkippedTables, appendOnlyWarning, checkKeys, exclusion, tableSelectionFields } from '../shared/table-select.js';
import { mysqlPositionText } from './position-text.js';
import { readFullSchema } from './schema-ddl.js';
import { schemaField } from '../shared/schema-field.js';

const configSchema = z
  .object({
    ...connectionFields,
    tables: z
      .array(z.string().min(1))
      .min(1, 'name at least one table')
      .describe("tables to read: 'db.table', 'table' (in the connection's database), or a pattern with * and ? such as 'shop.*'"),
    exclude: tableSelectionFields.exclude,
    keys: tableSelectionFields.keys,
    onTableError: tableSelectionFields.onTableError,
    mode: z
      .enum(['snapshot', 'cdc', 'snapshot+cdc'])
      .default('snapshot')
      .describe('snapshot: read the tables once, in key order; cdc: stream inserts, updates and deletes from the binlog; snapshot+cdc: the snapshot, then the changes after it'),
    chunkSize: z.number().int().min(1).max(100_000).optional().describe('rows per snapshot query and per batch; default: the flow batch size'),
    parallelTables: z
      .number()
      .int()
      .min(1)
      .max(16)
      .default(1)
      .describe('snapshot: tables copied at once, each on its own connection and snapshot transaction; batches of different tables interleave'),
    zeroDates: z
      .enum(ZERO_DATE_MODES)
      .default('error')
      .describe("a zero date ('0000-00-00', '0000-00-00 00:00:00'), which no other database holds: error (the flow fails naming table, column and key), null, or text (the text as MySQL prints it)"),
    schema: schemaField,
    serverId: z
      .number()
      .int()
      .min(1)
      .max(4_294_967_295)
      .optional()
      .describe('replication client id the binlog is read as; must differ from every server and replica; default: derived from the flow and node id'),
  })
  .strict()
  .superRefine(oneConnection);

type Config = z.output<typeof configSchema>;

/** `rows`: rows read per table up to here (on batch positions), so a resumed run's progress goes on from them */
type SnapshotPosition = {
  phase: 'snapshot';
  done: string[];
  table?: string;
  after?: unknown[];
  /** parallelTables: tables begun and not finished, each with the last key handed out (nodes/shared/table-lanes.ts) */
  open?: Record<string, unknown[]>;
  binlog?: BinlogPosition;
  rows?: Record<string, number>;
};
type CdcPosition = { phase: 'cdc'; binlog: BinlogPosition };
type Position = SnapshotPosition | CdcPosition;

interface Pattern {
  schema: RegExp;
  table: RegExp;
  /** the exact names when there is no wildcard */
  exactSchema?: string;
  exactTable?: string;
  index: number;
}

/** a lane of parallelTables: its connection, in its own snapshot transaction */
interface LaneConnection {
  conn: PoolConnection;
}

interface TableReader {
  info: TableInfo;
  read: ReturnType<typeof rowReader>;
  /** the table's declared columns, on its first record of each batch as meta.schema (nodes/shared/columns.ts) */
  schema: TableSchema;
}

class MysqlSource implements SourceInstance {
  readonly kind = 'source' as const;
  private target!: Target;
  private pool?: Pool;
  private server!: ServerInfo;
  private patterns: Pattern[] = [];
  private tables: TableChunks[] = [];
  private readers = new Map<string, TableReader>();
  // snapshot state: what was handed out last
  private snap?: SnapshotPosition;
  private conn?: PoolConnection;
  /** parallelTables: the lanes and their snapshot connections (one each) */
  private lanes?: { lanes: TableLanes<LaneConnection>; conns: PoolConnection[] };
  // cdc state
  private cdc?: BinlogPosition;
  private stream?: BinlogStream;

  /** progress: rows (snapshot) or changes (binlog) read by this run per table, the server's row estimates */
  private readonly counter = new TableCounter();
  /** tables a pattern matched that were skipped (onTableError: skip), with why */
  private readonly skipped = new SkippedTables();
  private excluded?: (schema: string, table: string) => boolean;
  private estimates = new Map<string, number>();
  /** how old the last change read was when it was read, ms (binlog timestamps have 1 s resolution) */
  private lagMs?: number;

  constructor(private readonly ctx: NodeContext<Config>) {}

  /**
   * Per table: the phase, rows read by this run (a resumed run counts from its position) and
   * information_schema's estimate (InnoDB: approximate); while streaming, the binlog position and how
   * old the last change read was when it was read (lag ms).
   */
  progress(): SourceProgress {
    const snap = this.snap;
    const phaseOf = (id: string): TableProgress['phase'] => {
      if (!snap) return this.cdc ? 'streaming' : 'done';
      if (snap.done.includes(id)) return 'done';
      return snap.table === id || (this.lanes?.lanes.reading().includes(id) ?? false) ? 'snapshot' : 'pending';
    };
    const ids = this.tables.length > 0 ? this.tables.map((t) => t.id) : Object.keys(this.counter.counts());
    const tables = ids.map((id): TableProgress => this.counter.table(id, phaseOf(id), this.estimates.get(id)));
    for (const [id, error] of Object.entries(this.skipped.toJSON() ?? {})) tables.push({ ...this.counter.table(id, 'skipped'), error });
    const rate = this.counter.overall();
    const rates = rate !== undefined ? { rowsPerSec: rate } : {};
    if (snap || !this.cdc) return { tables, ...rates };
    return {
      tables,
      ...rates,
      ...(this.lagMs !== undefined ? { lag: { ms: this.lagMs } } : {}),
      detail: { binlogFile: this.cdc.file, binlogPos: this.cdc.pos, ...(this.cdc.gtid ? { gtid: String(this.cdc.gtid) } : {}) },
    };
  }

  private count(batch: SourceBatch | null): SourceBatch | null {
    this.counter.count(batch);
    if (batch && this.snap) (batch.position as SnapshotPosition).rows = this.counter.counts();
    return batch;
  }

  private get chunk(): number {
    return this.ctx.config.chunkSize ?? this.ctx.settings.batchSize;
  }

  async open(position: unknown): Promise<void> {
    await openOrClose(() => this.start(position), () => this.close());
  }

  private async start(position: unknown): Promise<void> {
    const { config, nodeId } = this.ctx;
    this.target = resolveTarget(this.ctx, config);
    this.patterns = this.parsePatterns();
    const { pool, server } = await openPool(nodeId, this.target, config.parallelTables + 1);
    this.pool = pool;
    this.server = server;
    const cdc = config.mode !== 'snapshot';
    if (cdc) {
      const problems = await binlogProblems(pool, server, this.target.user).catch((err) => {
        throw statementError(nodeId, 'mode', this.target, err, 'checking the binlog settings');
      });
      if (problems.length > 0) throw new ConfigError(nodeId, 'mode', `${config.mode} needs the row binlog at ${this.target.label}: ${problems.join('; ')}`);
    }
    const p = this.parsePosition(position);
    if (config.mode !== 'cdc') {
      const keyless = new Set<string>();
      this.tables = (await this.resolveTables(keyless)).map((t) => new TableChunks(t, keyless.has(`${t.schema}.${t.name}`), config.zeroDates));
      checkKeys(nodeId, config.keys, this.tables.map((t) => ({ id: t.id, hasKey: !t.keyless, columns: t.table.columns.map((c) => c.name) })));
      const appendOnly = this.tables.filter((t) => t.keyless && t.table.key.length === 0).map((t) => t.id);
      if (appendOnly.length > 0) this.ctx.log.warn(appendOnlyWarning(appendOnly));
      for (const t of this.tables) this.readers.set(t.id, { info: t.table, read: rowReader(t.table.columns, t.id, { zeroDates: config.zeroDates, key: t.table.key }), schema: tableSchema(t.table) });
      if (config.schema === 'full') await this.readFullSchemas();
      this.estimates = await tableRowEstimates(pool, this.tables.map((t) => t.table)).catch(() => new Map<string, number>());
    }
    if (p?.phase === 'cdc') this.cdc = p.binlog;
    else if (p?.phase === 'snapshot') {
      this.counter.restore(p.rows);
      this.snap = p;
    }
    else if (config.mode === 'cdc') this.cdc = await binlogEnd(pool, server);
    else this.snap = { phase: 'snapshot', done: [] };
  }

  async read(): Promise<SourceBatch | null> {
    if (!this.pool) throw new NodeError(this.ctx.nodeId, 'read() before open()');
    this.counter.reading();
    if (this.snap) {
      const batch = await this.readSnapshot();
      if (batch) return this.count(batch);
      if (this.ctx.config.mode === 'snapshot') return null;
      this.cdc = { ...this.snap.binlog! };
      this.snap = undefined;
    }
    const batch = await this.readBinlog();
    const last = batch?.records.at(-1)?.meta.ts;
    if (typeof last === 'number') this.lagMs = Math.max(0, Date.now() - last);
    return this.count(batch);
  }

  async close(): Promise<void> {
    await this.stream?.stop();
    this.stream = undefined;
    await this.endSnapshot(false);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  // ---- snapshot ----------------------------------------------------------------------------------

  private async readSnapshot(): Promise<SourceBatch | null> {
    const { nodeId, signal } = this.ctx;
    const snap = this.snap!;
    // lanes: several tables at once, or a position taken with them (open tables) that one reader cannot go on from
    if (this.ctx.config.parallelTables > 1 || (snap.open !== undefined && Object.keys(snap.open).length > 0)) return this.readLanes();
    const needBinlog = this.ctx.config.mode === 'snapshot+cdc';
    for (;;) {
      if (signal.aborted) return null;
      const table = snap.table !== undefined ? this.tables.find((t) => t.id === snap.table) : this.tables.find((t) => !snap.done.includes(t.id));
      if (!table) {
        if (snap.table !== undefined) {
          throw new NodeError(nodeId, `the committed position is inside table ${snap.table}, which tables no longer lists: add it back, or reset the flow's position`);
        }
        await this.endSnapshot(true);
        return null;
      }
      let rows: Record<string, unknown>[];
      try {
        if (!this.conn) {
          this.conn = await this.pool!.getConnection();
          const point = await beginSnapshot(this.conn, this.server, needBinlog && !snap.binlog, this.ctx.log);
          if (point) snap.binlog = point;
        }
        rows = await table.next(this.conn, snap.table === table.id ? snap.after : undefined, this.chunk);
      } catch (err) {
        await this.endSnapshot(false);
        throw statementError(nodeId, 'tables', this.target, err, `reading table ${table.id}`);
      }
      if (rows.length === 0) {
        this.snap = { ...snap, done: [...snap.done, table.id], table: undefined, after: undefined };
        return this.readSnapshot();
      }
      const from = snap.table === table.id ? snap.after : undefined;
      const { records, last } = this.chunkRecords(table, rows, from, (after): SnapshotPosition => ({ phase: 'snapshot', done: snap.done, table: table.id, after, binlog: snap.binlog }));
      const finished = rows.length < this.chunk;
      const next: SnapshotPosition = finished
        ? { phase: 'snapshot', done: [...snap.done, table.id], binlog: snap.binlog }
        : { phase: 'snapshot', done: snap.done, table: table.id, after: last, binlog: snap.binlog };
      if (!next.binlog) delete next.binlog;
      this.snap = next;
      return { records, position: next };
    }
  }

  /** a chunk's rows as records, each with its position (`positionAt` the key after it), and the last key */
  private chunkRecords(table: TableChunks, rows: Record<string, unknown>[], from: unknown[] | undefined, positionAt: (after: unknown[]) => unknown): { records: SluiceRecord[]; last: unknown[] } {
    const ts = Date.now();
    const records: SluiceRecord[] = new Array(rows.length);
    let last: unknown[] = [];
    for (let i = 0; i < rows.length; i++) {
      const { key, values } = table.keyOf(rows[i], from, i);
      last = values;
      records[i] = { key, value: rows[i], op: 'r', meta: { source: this.ctx.nodeId, table: table.id, position: positionAt(values), ts } };
    }
    if (records.length > 0) records[0].meta[SCHEMA_META] = this.readers.get(table.id)?.schema;
    return { records, last };
  }

  /**
   * parallelTables: tables read by the shared lanes (nodes/shared/table-lanes.ts), each lane on its own
   * connection in its own consistent-snapshot transaction. MySQL cannot share one snapshot between
   * sessions, so each table is consistent in itself and the lanes' transactions begin one after the
   * other; snapshot+cdc records the binlog position with the first, before the others begin, so every
   * change a later lane's snapshot already holds is replayed from the binlog (harmless to an idempotent
   * sink, as on a resume). A failed read drops every lane; the retry goes on from what was handed out.
   */
  private async readLanes(): Promise<SourceBatch | null> {
    const { nodeId, signal, config } = this.ctx;
    if (signal.aborted) return null;
    const snap = this.snap!;
    if (!this.lanes) {
      const missing = Object.keys(snap.open ?? {}).concat(snap.table ?? []).find((id) => !this.tables.some((t) => t.id === id));
      if (missing) throw new NodeError(nodeId, `the committed position is inside table ${missing}, which tables no longer lists: add it back, or reset the flow's position`);
      const conns: PoolConnection[] = [];
      try {
        for (let i = 0; i < config.parallelTables; i++) {
          const conn = await this.pool!.getConnection();
          conns.push(conn);
          const point = await beginSnapshot(conn, this.server, i === 0 && config.mode === 'snapshot+cdc' && !snap.binlog, this.ctx.log);
          if (point) snap.binlog = point;
        }
      } catch (err) {
        for (const c of conns) c.destroy();
        throw statementError(nodeId, 'tables', this.target, err, 'starting the snapshot');
      }
      const binlog = snap.binlog;
      const position = (s: LanesState): SnapshotPosition => {
        const p: SnapshotPosition = { phase: 'snapshot', done: s.done };
        if (s.open) p.open = s.open;
        if (binlog) p.binlog = binlog;
        return p;
      };
      const chunk = this.chunk;
      const lanes = new TableLanes<LaneConnection>({
        tables: this.tables.map((t) => t.id),
        state: snap,
        lanes: conns.map((conn) => ({ conn })),
        position,
        reader: (lane, id, after, positionOf) => {
          const table = this.tables.find((t) => t.id === id)!;
          let state: TableReadState = { done: [], after };
          let ended = false;
          return {
            current: () => state,
            next: async () => {
              if (ended) return null;
              let rows: Record<string, unknown>[];
              try {
                rows = await table.next(lane.conn, state.after, chunk);
              } catch (err) {
                throw statementError(nodeId, 'tables', this.target, err, `reading table ${id}`);
              }
              const from = state.after;
              const { records, last } = this.chunkRecords(table, rows, from, (k) => positionOf({ done: [], after: k }));
              ended = rows.length < chunk;
              state = ended ? { done: [id] } : { done: [], after: last };
              return { records, position: undefined };
            },
          };
        },
      });
      this.lanes = { lanes, conns };
    }
    let batch: SourceBatch | null;
    try {
      batch = await this.lanes.lanes.next();
    } catch (err) {
      await this.endLanes(false);
      throw err;
    }
    if (!batch) {
      this.snap = { phase: 'snapshot', done: this.lanes.lanes.current().done, ...(snap.binlog ? { binlog: snap.binlog } : {}) };
      await this.endLanes(true);
      return null;
    }
    this.snap = batch.position as SnapshotPosition;
    return batch;
  }

  /** ends the lanes' snapshot transactions: committed when `clean`, else their connections are dropped */
  private async endLanes(clean: boolean): Promise<void> {
    const l = this.lanes;
    this.lanes = undefined;
    for (const conn of l?.conns ?? []) {
      if (clean && (await conn.query('COMMIT').then(() => true, () => false))) conn.release();
      else conn.destroy();
    }
  }

  /** ends the snapshot transaction: committed when `clean`, else the connection is dropped */
  private async endSnapshot(clean: boolean): Promise<void> {
    await this.endLanes(clean);
    const conn = this.conn;
    this.conn = undefined;
    if (!conn) return;
    if (clean) {
      try {
        await conn.query('COMMIT');
        conn.release();
        return;
      } catch {
        // fall through: drop it
      }
    }
    conn.destroy();
  }

  // ---- binlog ------------------------------------------------------------------------------------

  private async readBinlog(): Promise<SourceBatch | null> {
    const { signal, nodeId } = this.ctx;
    if (signal.aborted) return null;
    if (!this.stream) {
      const stream = new BinlogStream({
        nodeId,
        target: this.target,
        server: this.server,
        serverId: this.ctx.config.serverId ?? defaultServerId(this.ctx.flowName, nodeId),
        match: (s, t) => this.matches(s, t),
        includeSchema: this.includeSchema(),
        highWater: Math.max(4 * this.chunk, 10_000),
        warn: (m) => this.ctx.log.warn(m),
      });
      try {
        await stream.start(this.cdc!);
      } catch (err) {
        await stream.stop();
        throw err;
      }
      this.stream = stream;
    }
    let items: BinlogItem[];
    try {
      items = await this.stream.take(this.chunk, signal);
    } catch (err) {
      await this.stream.stop();
      this.stream = undefined;
      throw err;
    }
    if (items.length === 0) return null; // stopping
    const records: SluiceRecord[] = [];
    const described = new Set<string>();
    for (const item of items) {
      if (item.kind === 'mark') {
        this.cdc = item.position;
        continue;
      }
      const reader = await this.tableReader(item.schema, item.table, item.rows[0], item.op === 'u');
      const id = `${item.schema}.${item.table}`;
      const first = records.length;
      const gtid = item.gtid ? { gtid: item.gtid } : {};
      for (let i = 0; i < item.rows.length; i++) {
        const binlog: BinlogPosition = { file: item.file, pos: item.pos, skip: item.first + i + 1, ...gtid };
        const meta = { source: nodeId, table: id, position: { phase: 'cdc', binlog } satisfies CdcPosition, ts: item.ts };
        const raw = item.rows[i] as Record<string, unknown>;
        let rec: SluiceRecord;
        if (item.op === 'u') {
          const { before, after } = raw as { before: Record<string, unknown>; after: Record<string, unknown> };
          const value = reader.read.fromObject(after);
          rec = { key: keyOf(reader.info, value), value, op: 'u', before: reader.read.fromObject(before), meta };
        } else if (item.op === 'd') {
          const before = reader.read.fromObject(raw);
          rec = { key: keyOf(reader.info, before), value: null, op: 'd', before, meta };
        } else {
          const value = reader.read.fromObject(raw);
          rec = { key: keyOf(reader.info, value), value, op: 'c', meta };
        }
        records.push(rec);
        this.cdc = binlog;
      }
      if (records.length > first && !described.has(id)) {
        described.add(id);
        records[first].meta[SCHEMA_META] = reader.schema;
      }
    }
    return { records, position: { phase: 'cdc', binlog: this.cdc! } satisfies CdcPosition };
  }

  /** the reader of a table seen in the binlog; described again when its columns changed (ALTER TABLE) */
  private async tableReader(schema: string, table: string, sample: unknown, update: boolean): Promise<TableReader> {
    const id = `${schema}.${table}`;
    const row = (update ? (sample as { after: Record<string, unknown> }).after : sample) as Record<string, unknown>;
    let r = this.readers.get(id);
    const fits = r && Object.keys(row).length === r.info.columns.length && r.info.columns.every((c) => c.name in row);
    if (!r || !fits) {
      const info = await describeTable(this.pool!, schema, table, this.server.mariadb).catch((err) => {
        throw statementError(this.ctx.nodeId, 'tables', this.target, err, `reading the columns of ${id}`);
      });
      if (!info) throw new NodeError(this.ctx.nodeId, `table ${id} is in the binlog but no longer exists: its changes cannot be decoded`);
      if (info.key.length === 0) info.key = this.ctx.config.keys?.[id] ?? [];
      if (info.key.length === 0) throw noKey(this.ctx.nodeId, id);
      r = { info, read: rowReader(info.columns, `${info.schema}.${info.name}`, { zeroDates: this.ctx.config.zeroDates, key: info.key }), schema: tableSchema(info) };
      this.readers.set(id, r);
    }
    return r;
  }

  /** `schema: full`: the catalog facts beyond the key, on each snapshot table's declared schema */
  private async readFullSchemas(): Promise<void> {
    for (const r of this.readers.values()) {
      r.schema.full = await readFullSchema(this.pool!, r.info.schema, r.info.name, this.server.mariadb).catch((err) => {
        throw statementError(this.ctx.nodeId, 'schema', this.target, err, `reading the schema of ${r.info.schema}.${r.info.name}`);
      });
    }
  }

  // ---- tables ------------------------------------------------------------------------------------

  private parsePatterns(): Pattern[] {
    const { config, nodeId } = this.ctx;
    return config.tables.map((text, index) => {
      const dot = text.indexOf('.');
      const schema = dot >= 0 ? text.slice(0, dot) : this.target.database;
      const table = dot >= 0 ? text.slice(dot + 1) : text;
      if (!schema) {
        throw new ConfigError(nodeId, `tables[${index}]`, `${JSON.stringify(text)} names no database and the ${this.target.via} has none: write it as 'database.${text}'`);
      }
      if (!table) throw new ConfigError(nodeId, `tables[${index}]`, `${JSON.stringify(text)} names no table: write 'database.table' or 'database.*'`);
      const wild = (s: string) => /[*?]/.test(s);
      return {
        schema: globRegex(schema),
        table: globRegex(table),
        exactSchema: wild(schema) ? undefined : schema,
        exactTable: wild(table) ? undefined : table,
        index,
      };
    });
  }

  private matches(schema: string, table: string): boolean {
    this.excluded ??= exclusion(this.ctx.config.exclude);
    return this.patterns.some((p) => p.schema.test(schema) && p.table.test(table)) && !this.excluded(schema, table) && !this.skipped.has(`${schema}.${table}`);
  }

  /** zongji's includeSchema: only when every pattern names its database exactly */
  private includeSchema(): Record<string, string[] | true> | undefined {
    if (this.patterns.some((p) => p.exactSchema === undefined)) return undefined;
    const out: Record<string, string[] | true> = {};
    for (const p of this.patterns) {
      const s = p.exactSchema!;
      if (p.exactTable === undefined || out[s] === true) out[s] = true;
      else out[s] = [...((out[s] as string[] | undefined) ?? []), p.exactTable];
    }
    return out;
  }

  /** the tables read; those without a primary key go into `keyless`, keyed by `keys` when given there */
  private async resolveTables(keyless: Set<string>): Promise<TableInfo[]> {
    const { nodeId } = this.ctx;
    const pool = this.pool!;
    const mariadb = this.server.mariadb;
    const found = new Map<string, TableInfo>();
    const excluded = exclusion(this.ctx.config.exclude);
    try {
      for (const p of this.patterns) {
        const field = `tables[${p.index}]`;
        const text = this.ctx.config.tables[p.index];
        if (p.exactSchema !== undefined && !(await schemaExists(pool, p.exactSchema))) {
          throw new ConfigError(nodeId, field, `database ${JSON.stringify(p.exactSchema)} does not exist at ${this.target.label}`);
        }
        let names: [string, string][];
        if (p.exactSchema !== undefined && p.exactTable !== undefined) {
          names = [[p.exactSchema, p.exactTable]];
        } else {
          names = (await listTables(pool, p.exactSchema)).filter(([s, t]) => p.schema.test(s) && p.table.test(t));
          if (names.length === 0) throw new ConfigError(nodeId, field, `${JSON.stringify(text)} matches no table at ${this.target.label}`);
        }
        for (const [s, t] of names) {
          const id = `${s}.${t}`;
          if (found.has(id)) continue;
          const info = await describeTable(pool, s, t, mariadb);
          if (!info) {
            const have = (await listTables(pool, s)).map(([, n]) => n);
            throw new ConfigError(nodeId, field, `table ${JSON.stringify(id)} not found at ${this.target.label}; ${have.length ? `tables in ${s}: ${have.join(', ')}` : `database ${s} has no tables`}`);
          }
          if (excluded(s, t)) continue;
          if (this.skipped.has(id)) continue;
          if (info.key.length === 0) {
            // read by one streamed query (snapshot.ts), keyed by keys when given, else written append-only
            keyless.add(id);
            info.key = this.ctx.config.keys?.[id] ?? [];
          }
          found.set(id, info);
        }
      }
    } catch (err) {
      throw statementError(nodeId, 'tables', this.target, err, 'reading the table list');
    }
    return [...found.values()].sort((a, b) => (`${a.schema}.${a.name}` < `${b.schema}.${b.name}` ? -1 : 1));
  }

  private parsePosition(position: unknown): Position | undefined {
    if (position === undefined || position === null) return undefined;
    const { nodeId, config } = this.ctx;
    const p = position as { phase?: string; done?: unknown; after?: unknown; binlog?: unknown };
    const binlogOk = (b: unknown) => typeof b === 'object' && b !== null && typeof (b as BinlogPosition).file === 'string' && typeof (b as BinlogPosition).pos === 'number';
    const bad = (why: string) =>
      new UserError(`node ${nodeId}: the committed position ${JSON.stringify(position)} ${why}: was mode changed? Reset the flow's position (sluice run --from-start)`);
    if (p.phase === 'cdc' && binlogOk(p.binlog)) {
      if (config.mode === 'snapshot') throw bad('is a binlog position but mode is snapshot');
      return p as unknown as CdcPosition;
    }
    if (p.phase === 'snapshot' && Array.isArray(p.done)) {
      if (config.mode === 'cdc') throw bad('is a snapshot position but mode is cdc');
      if (config.mode === 'snapshot+cdc' && !binlogOk(p.binlog)) throw bad('has no binlog position to continue from after the snapshot');
      if (p.after !== undefined && !Array.isArray(p.after)) throw bad('is not a mysql.source position');
      return p as unknown as SnapshotPosition;
    }
    throw bad('is not a mysql.source position');
  }
}

function keyOf(info: TableInfo, value: Record<string, unknown>): Record<string, unknown> {
  const key: Record<string, unknown> = {};
  for (const k of info.key) key[k] = value[k];
  return key;
}

function noKey(nodeId: string, id: string, field = 'tables'): ConfigError {
  return new ConfigError(
    nodeId,
    field,
    `table ${id} has no PRIMARY KEY and no UNIQUE index over NOT NULL columns: its binlog changes cannot be keyed; add one (ALTER TABLE ${id} ADD PRIMARY KEY (...)) or give its key columns in keys ('${id}': [...])`,
  );
}

function globRegex(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
  return new RegExp(`^${body}$`);
}

/** information_schema.TABLES.TABLE_ROWS per `db.table` (exact for MyISAM, an estimate for InnoDB) */
async function tableRowEstimates(pool: Pool, tables: TableInfo[]): Promise<Map<string, number>> {
  if (tables.length === 0) return new Map();
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t, TABLE_ROWS AS n FROM information_schema.TABLES WHERE (TABLE_SCHEMA, TABLE_NAME) IN (${tables.map(() => '(?, ?)').join(', ')})`,
    tables.flatMap((t) => [t.schema, t.name]),
  );
  return new Map(rows.filter((r) => r.n !== null).map((r) => [`${r.s}.${r.t}`, Number(r.n)]));
}

export const mysqlSource = defineNode({
  type: 'mysql.source',
  category: 'source',
  title: 'MySQL source',
  description:
    'Reads MySQL / MariaDB tables: a snapshot in key order (resumable), changes from the row binlog (CDC), or both with a lossless handoff.',
  icon: 'database',
  configSchema,
  inputs: [],
  outputs: [{ name: 'out', description: 'op r (snapshot), c / u / d (binlog) with before; key = the key columns; meta.table = db.table' }],
  position: mysqlPositionText,
  create: (ctx) => new MysqlSource(ctx),
});

export default mysqlSource;

/** checks a MySQL connection entry (server version, CDC readiness) for the connection store: see connection.ts */
export { testConnection } from './connection.js';
