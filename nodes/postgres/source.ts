/**
 * postgres.source: reads PostgreSQL tables as a snapshot, as a stream of changes (CDC), or both.
 *
 * - `tables`: names or patterns (`public.orders`, `orders`, `public.*`, `sales.order_*`); each table needs
 *   a primary key: it orders the snapshot and is every record's key (`{ id: 7 }`).
 * - mode `snapshot`: every table once, in primary-key (keyset) order, chunk by chunk (snapshot.ts); the
 *   position is the last key read, so a resumed run goes on mid-table (with a new snapshot for the rest).
 *   `parallel: N` reads N chunks of a table at once, still emitted in key order. `parallelTables: N` copies N
 *   tables at once (snapshot-lanes.ts; their batches interleave). Ends after the last table.
 * - mode `cdc`: changes from logical replication (pgoutput; cdc.ts), starting where the slot stands (a new
 *   slot: now). Records op c / u / d; `before` is the old row when the table has REPLICA IDENTITY FULL
 *   (otherwise deletes carry only the key, and an update's before is absent).
 * - mode `snapshot+cdc`: creates the slot first and reads the snapshot the slot exported, then streams
 *   from the slot's consistent point: no change between the two is lost or applied twice. A snapshot
 *   resumed after a restart reads the rest with a new snapshot and the stream still starts at the slot's
 *   point, so the changes in between are replayed over it (idempotent sinks converge).
 * - The publication (`publicationName`) and slot (`slotName`) are created when missing; both default to
 *   `sluice_<flow>_<node>`. The slot is confirmed only up to positions the runtime committed (every sink
 *   acknowledged), so PostgreSQL keeps what a restart needs; see cdc.ts for heartbeats, lag and a dropped
 *   slot. A slot you no longer need keeps WAL on the server: drop it (SELECT pg_drop_replication_slot('...')).
 * - Records: `{ key: { pk columns }, value: row, op, before?, meta: { source, table: 'schema.table',
 *   position, ts } }` (ts: read time for the snapshot, commit time for changes). Values: types.ts.
 * - Declared types (conversion mode): the first record of each table in every batch, snapshot or
 *   changes, also carries `meta.schema`, the table's declared columns (nodes/shared/columns.ts; one
 *   object per table, shared, never copied per record), which a sink creating the table maps to its own
 *   types. Built from the catalog when the source opens (`TypeMapper.columnSpec`: the kind says what the
 *   record value is, so it follows the value table in types.ts); while streaming, a relation message with
 *   other columns (ALTER TABLE) gives the table a new schema from its next change on, and a batch never
 *   holds two schemas of one table. Columns added that way are described as nullable.
 *
 *   | PostgreSQL column                         | kind                                                 |
 *   |-------------------------------------------|------------------------------------------------------|
 *   | smallint, integer, bigint / oid           | integer 16, 32, 64 bits / 32 bits unsigned           |
 *   | numeric(p,s) / numeric                    | decimal, precision p, scale s / without them (numeric(p,-s): precision p+s, scale 0) |
 *   | real, double precision                    | float 32, 64                                         |
 *   | boolean                                   | boolean                                              |
 *   | varchar(n), char(n) / text, varchar       | string, length n (fixed for char) / unbounded        |
 *   | json, jsonb; arrays of any type           | json (arrays travel as JS arrays)                    |
 *   | bytea                                     | binary                                               |
 *   | date / timestamp(f) / timestamptz(f) / time(f) | date / datetime / timestamp / time, fraction f (not declared: 6) |
 *   | uuid                                      | uuid                                                 |
 *   | domains                                   | as their base type (with the domain's typmod)        |
 *   | interval, timetz, money, inet, bit, enum, xml, ranges, anything else | other (the type's text form) |
 * - `schema: full`: the declared schema also carries the table's catalog facts (NOT NULL, defaults,
 *   serial / identity columns, unique constraints, indexes, foreign keys, checks, enum types, comments),
 *   read when the source opens for all its tables at once (schema-catalog.ts), for a sink that creates
 *   the tables (postgres/schema-ddl.ts).
 * - Test runs (preview) read the first rows of the tables, whatever the mode: no slot, no publication.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { ConfigError, NodeError, defineNode, type NodeContext, type SourceBatch, type SourceInstance, type SourceProgress, type TableProgress } from '../../runtime/index.js';
import { loadTable, resolveTables, tableSchema, type TableMeta } from './catalog.js';
import { ChangeStream, type CdcPosition, type StreamStatus } from './cdc.js';
import { parseLsn } from './lsn.js';
import { checkReplicaIdentity, checkSlot, checkWalLevel, createSlot, createSlotWithSnapshot, dropSlot, ensurePublication, heartbeatDdl, slotInfo } from './slot-admin.js';
import { connectionFields, display, oneConnection, openPool, pgError, quoteIdent, resolveTarget, splitName, type SessionOptions, type TableName, type Target } from './connection.js';
import { SnapshotReader, TableReadError, beginSnapshot, type SnapshotOptions, type SnapshotState } from './snapshot.js';
import { SkippedTables, appendOnlyWarning, checkKeys, exclusion, tableSelectionFields } from '../shared/table-select.js';
import { SnapshotLanes } from './snapshot-lanes.js';
import { TYPE_INFO_SQL, TypeMapper, type TypeInfo } from './types.js';
import type { TableSchema } from '../shared/columns.js';
import { openOrClose } from '../shared/open.js';
import { TableCounter } from '../shared/table-counter.js';
import { postgresPositionText } from './position-text.js';
import { readFullSchemas } from './schema-catalog.js';
import { schemaField } from '../shared/schema-field.js';

const NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const configSchema = z
  .object({
    ...connectionFields,
    tables: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .describe('tables to read: schema.table, table (schema public), or patterns such as public.* and sales.order_*; one or a list'),
    ...tableSelectionFields,
    schema: schemaField,
    mode: z
      .enum(['snapshot', 'cdc', 'snapshot+cdc'])
      .default('snapshot')
      .describe('snapshot: read the tables once; cdc: stream their changes (logical replication); snapshot+cdc: the snapshot, then the changes since, without a gap'),
    chunkSize: z.number().int().min(1).max(100_000).optional().describe('snapshot: rows per query and batch; default: the flow batch size'),
    parallel: z.number().int().min(1).max(16).default(1).describe('snapshot: chunks of a table read at once, on as many connections (emitted in key order)'),
    parallelTables: z.number().int().min(1).max(16).default(1).describe('snapshot: tables copied at once, each on its own connections (parallel chunks within each); batches of different tables interleave'),
    slotName: z.string().regex(NAME, 'lower-case letters, digits and _ (at most 63)').optional().describe('replication slot, created when missing; default sluice_<flow>_<node>'),
    publicationName: z.string().regex(NAME, 'lower-case letters, digits and _ (at most 63)').optional().describe('publication of the tables, created (or extended) when missing; default sluice_<flow>_<node>'),
    heartbeatIntervalMs: z
      .number()
      .int()
      .min(100)
      .default(10_000)
      .describe('cdc: how often the committed position is confirmed to the server, the slot lag measured, and an idle slot moved forward (ms)'),
    heartbeatTable: z
      .string()
      .min(1)
      .optional()
      .describe('cdc: a table (created when missing) written at each heartbeat, so the slot advances even when the captured tables are idle'),
    lagWarnMb: z.number().min(1).default(1024).describe('cdc: warn when the slot is this many MB of WAL behind the server'),
    reconnectTimeoutMs: z.number().int().min(0).default(30_000).describe('cdc: how long a lost replication connection is retried before the read fails (ms)'),
  })
  .strict()
  .superRefine(oneConnection);

type Config = z.output<typeof configSchema>;

interface SnapshotPosition extends SnapshotState {
  phase: 'snapshot';
  /** snapshot+cdc: the slot's consistent point, where the stream starts after the snapshot */
  lsn?: string;
  /** rows read per table up to this position (on batch positions only): progress goes on from them after a resume */
  rows?: Record<string, number>;
  /** tables skipped after an error (onTableError: skip), with why: not read again by a resumed run */
  skipped?: Record<string, string>;
}

type Position = SnapshotPosition | CdcPosition;

/** `sluice_<flow>_<node>`, lower-cased, within 63 characters */
export function defaultSlotName(flowName: string, nodeId: string): string {
  const name = `sluice_${flowName}_${nodeId}`.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  if (name.length <= 63) return name;
  return `${name.slice(0, 54)}_${createHash('sha1').update(name).digest('hex').slice(0, 8)}`;
}

class PostgresSource implements SourceInstance {
  readonly kind = 'source' as const;
  private target!: Target;
  private pool?: pg.Pool;
  private tables: TableMeta[] = [];
  /** each table's declared columns (meta.schema) by table id, as the catalog said when the source opened */
  private schemas = new Map<string, TableSchema>();
  private readonly mapper = new TypeMapper();
  private readonly session: SessionOptions;
  private snapshot?: { reader: SnapshotReader | SnapshotLanes; clients: pg.PoolClient[]; lsn?: string };
  private stream?: ChangeStream;
  private cdcFrom?: CdcPosition;
  private readonly slot: string;
  private readonly publication: string;
  private heartbeatTable?: TableName;
  /** a snapshot to begin again (with a new snapshot) after a failed read */
  private pendingSnapshot?: SnapshotPosition;
  /** progress: rows (snapshot) or changes (cdc) read by this run per table, the planner's row estimates */
  private readonly counter = new TableCounter();
  private estimates = new Map<string, number>();
  private snapshotState?: SnapshotState;
  private readonly skipped = new SkippedTables();
  /** every table matched, in order, skipped ones included (for progress) */
  private matched: string[] = [];
  private streaming = false;

  constructor(private readonly ctx: NodeContext<Config>) {
    this.session = { flowName: ctx.flowName, nodeId: ctx.nodeId };
    this.slot = ctx.config.slotName ?? defaultSlotName(ctx.flowName, ctx.nodeId);
    this.publication = ctx.config.publicationName ?? defaultSlotName(ctx.flowName, ctx.nodeId);
  }

  private get cdc(): boolean {
    return this.ctx.config.mode !== 'snapshot' && !this.ctx.preview;
  }

  async open(position: unknown): Promise<void> {
    await openOrClose(() => this.start(this.parsePosition(position)), () => this.close(), (err) => (this.target ? pgError(this.ctx.nodeId, this.target, err, { what: 'opening' }) : err));
  }

  /** slot lag and positions while streaming (undefined before the stream starts) */
  status(): StreamStatus | undefined {
    return this.stream?.status();
  }

  /**
   * Per table: the phase, rows read and the planner's estimate; while streaming, the changes read and
   * the slot lag. A snapshot's batch positions carry the rows read so far, so a run resumed mid-snapshot
   * goes on counting from the committed position (rows re-read after it are counted once, as they are
   * re-read from the position). Changes are counted by this run only (a CDC position carries no counts),
   * and a position written before positions carried counts resumes counting from 0.
   */
  progress(): SourceProgress {
    const state = this.snapshot?.reader.current() ?? this.snapshotState;
    const phaseOf = (id: string): TableProgress['phase'] => {
      if (this.streaming) return 'streaming';
      if (!state) return this.ctx.config.mode === 'cdc' ? 'pending' : 'done';
      if (state.done.includes(id)) return 'done';
      return state.table === id || state.open?.[id] ? 'snapshot' : 'pending';
    };
    const tables = this.matched.map((id): TableProgress => {
      const why = this.skipped.reason(id);
      return why !== undefined ? { ...this.counter.table(id, 'skipped'), error: why } : this.counter.table(id, phaseOf(id), this.estimates.get(id));
    });
    const rate = this.counter.overall();
    const status = this.stream?.status();
    if (!status) return { tables, ...(rate !== undefined ? { rowsPerSec: rate } : {}) };
    return {
      tables,
      ...(rate !== undefined ? { rowsPerSec: rate } : {}),
      ...(status.lagBytes !== undefined ? { lag: { bytes: status.lagBytes } } : {}),
      detail: { slot: status.slot, publication: this.publication, confirmedLsn: status.confirmedLsn, connected: status.connected },
    };
  }

  private async start(pos: Position | undefined): Promise<void> {
    const { config, nodeId } = this.ctx;
    if (pos?.phase === 'snapshot') {
      this.counter.restore(pos.rows);
      this.skipped.restore(pos.skipped);
    }
    this.target = resolveTarget(this.ctx, config);
    this.pool = await openPool(this.target, { ...this.session, max: this.sessionsPerLane() * config.parallelTables + 2 });
    await this.loadTables();
    if (!this.cdc) {
      if (pos?.phase === 'cdc') throw this.mismatch(pos);
      await this.beginSnapshot(pos ?? { phase: 'snapshot', done: [] });
      return;
    }
    const pool = this.pool;
    try {
      await checkWalLevel(pool, nodeId);
    } catch (err) {
      throw pgError(nodeId, this.target, err);
    }
    const changed = await this.setupPublication();
    const keyOnly = this.tables.filter((t) => t.replicaIdentity !== 'f').map((t) => t.id);
    if (keyOnly.length > 0) {
      this.ctx.log.info(
        `without REPLICA IDENTITY FULL (${keyOnly.join(', ')}), deletes carry only the key and updates have no before row; ` +
          'ALTER TABLE <table> REPLICA IDENTITY FULL gives before rows',
      );
    }
    const db = this.target.database;
    if (pos?.phase === 'cdc') {
      const info = await checkSlot(pool, nodeId, this.slot, db, pos.lsn);
      if (info.confirmed && parseLsn(info.confirmed) > parseLsn(pos.lsn)) {
        throw new ConfigError(
          nodeId,
          'slotName',
          `replication slot ${this.slot} was confirmed up to ${info.confirmed}, past this flow's committed position ${pos.lsn}: another consumer used the slot (two flows with one slotName?) and the changes in between are lost to this flow. Give each flow its own slotName and reset the flow's position (sluice run --from-start)`,
        );
      }
      this.cdcFrom = changed && pos.tx ? { phase: 'cdc', lsn: pos.lsn } : pos;
      return;
    }
    if (config.mode === 'cdc') {
      if (pos) throw this.mismatch(pos);
      const info = await slotInfo(pool, this.slot);
      let lsn: string;
      if (info?.confirmed) {
        await checkSlot(pool, nodeId, this.slot, db, info.confirmed);
        lsn = info.confirmed;
      } else {
        if (info) await dropSlot(pool, this.slot); // never got ready: start it again
        lsn = await createSlot(pool, nodeId, this.target, this.slot);
        this.ctx.log.info(`created replication slot ${this.slot} at ${lsn}`);
      }
      this.cdcFrom = { phase: 'cdc', lsn };
      return;
    }
    // snapshot+cdc
    if (pos) {
      if (!pos.lsn) throw this.mismatch(pos);
      await checkSlot(pool, nodeId, this.slot, db, pos.lsn);
      await this.beginSnapshot(pos);
      return;
    }
    const leftover = await slotInfo(pool, this.slot);
    if (leftover) {
      if (leftover.active) {
        throw new ConfigError(nodeId, 'slotName', `replication slot ${this.slot} is in use by server process ${leftover.activePid}: is another run of this flow (or another flow with this slotName) active?`);
      }
      // a first run (nothing committed) found a slot: left by a run that never committed, or by a reset flow
      await dropSlot(pool, this.slot);
      this.ctx.log.info(`dropped replication slot ${this.slot} left from an earlier run: a new snapshot starts`);
    }
    const { lsn, snapshot, client } = await createSlotWithSnapshot(this.target, this.session, this.slot);
    this.ctx.log.info(`created replication slot ${this.slot} at ${lsn}; reading the snapshot it exported`);
    try {
      await this.beginSnapshot({ phase: 'snapshot', lsn, done: [] }, snapshot);
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  private async loadTables(): Promise<void> {
    const { config, nodeId } = this.ctx;
    const pool = this.pool!;
    const patterns = typeof config.tables === 'string' ? [config.tables] : config.tables;
    try {
      const excluded = exclusion(config.exclude);
      const names = (await resolveTables(pool, nodeId, 'tables', patterns)).filter((n) => !excluded(n.schema, n.name));
      if (names.length === 0) throw new ConfigError(nodeId, 'exclude', `exclude leaves none of the tables that tables matches`);
      this.matched = names.map(display);
      this.tables = [];
      const all: TableMeta[] = [];
      for (const name of names) {
        const id = display(name);
        if (this.skipped.has(id)) continue;
        try {
          const t = await loadTable(pool, name);
          if (!t) throw new ConfigError(nodeId, 'tables', `table ${id} disappeared while the source opened`);
          all.push(t);
          if (t.pk.length === 0) {
            t.ctid = true;
            t.pk = config.keys?.[id] ?? [];
          }
          if (this.cdc) checkReplicaIdentity(nodeId, t);
          this.tables.push(t);
        } catch (err) {
          if (config.onTableError === 'stop') throw err;
          this.skip(id, err);
        }
      }
      checkKeys(nodeId, config.keys, all.map((t) => ({ id: t.id, hasKey: !t.ctid, columns: t.columns.map((c) => c.name) })));
      const appendOnly = this.tables.filter((t) => t.ctid && t.pk.length === 0).map((t) => t.id);
      if (appendOnly.length > 0) this.ctx.log.warn(appendOnlyWarning(appendOnly));
      // the planner's estimate (pg_class.reltuples: -1 until the table is first analysed)
      const { rows: est } = await pool.query<{ n: number }>('SELECT (SELECT reltuples::float8 FROM pg_class WHERE oid = to_regclass(t)) AS n FROM unnest($1::text[]) WITH ORDINALITY AS u(t, i) ORDER BY i', [
        this.tables.map((t) => `${quoteIdent(t.name.schema)}.${quoteIdent(t.name.name)}`),
      ]);
      this.estimates = new Map(this.tables.flatMap((t, i) => (est[i]?.n !== null && est[i]?.n !== undefined && est[i].n >= 0 ? [[t.id, Math.round(est[i].n)] as const] : [])));
      const oids = this.mapper.unknown(this.tables.flatMap((t) => t.columns.map((c) => c.typeOid)));
      if (oids.length > 0) {
        let known = (await pool.query<TypeInfo>(TYPE_INFO_SQL, [oids])).rows;
        // arrays and domains of further types: one more round is enough in practice
        const more = this.mapper.unknown([...known.map((k) => k.elem), ...known.map((k) => k.basetype)].filter((o) => o > 0));
        if (more.length > 0) known = [...known, ...(await pool.query<TypeInfo>(TYPE_INFO_SQL, [more])).rows];
        this.mapper.learn(known);
      }
      this.schemas = new Map(this.tables.map((t) => [t.id, tableSchema(t, this.mapper)]));
    } catch (err) {
      throw pgError(nodeId, this.target, err, { field: 'tables' });
    }
    if (config.schema === 'full') {
      const full = await readFullSchemas(pool, this.tables).catch((err) => {
        throw pgError(nodeId, this.target, err, { field: 'schema', what: 'reading the tables\' schema (schema: full)' });
      });
      for (const [id, f] of full) this.schemas.get(id)!.full = f;
    }
  }

  /** onTableError skip: the table is left out, with a warning and its reason in progress and the position */
  private skip(id: string, err: unknown): void {
    const why = err instanceof Error ? err.message : String(err);
    this.skipped.add(id, why);
    this.tables = this.tables.filter((t) => t.id !== id);
    this.ctx.log.warn(`table ${id} skipped (onTableError: skip): ${why}`);
  }

  private async setupPublication(): Promise<boolean> {
    const { config, nodeId } = this.ctx;
    const pool = this.pool!;
    const names = this.tables.map((t) => t.name);
    if (config.heartbeatTable) {
      const hb = splitName(config.heartbeatTable);
      if (!hb) throw new ConfigError(nodeId, 'heartbeatTable', `${JSON.stringify(config.heartbeatTable)} is not a table name: write schema.table or table`);
      try {
        await pool.query(heartbeatDdl(hb));
      } catch (err) {
        throw pgError(nodeId, this.target, err, { field: 'heartbeatTable', what: `heartbeat table ${config.heartbeatTable}` });
      }
      this.heartbeatTable = hb;
      names.push(hb);
    }
    return ensurePublication(pool, nodeId, this.target, this.publication, names);
  }

  /** a table's reading sessions: one, or a planner and `parallel` readers */
  private sessionsPerLane(): number {
    return this.ctx.config.parallel > 1 ? this.ctx.config.parallel + 1 : 1;
  }

  private async beginSnapshot(pos: SnapshotPosition, snapshotName?: string): Promise<void> {
    const { config, settings, nodeId } = this.ctx;
    // lanes: several tables at once, or a position taken with them (open tables) that a single reader cannot go on from
    const lanes = config.parallelTables > 1 || (pos.open !== undefined && Object.keys(pos.open).length > 0) ? config.parallelTables : 0;
    const perLane = this.sessionsPerLane();
    const n = Math.max(1, lanes) * perLane;
    const clients: pg.PoolClient[] = [];
    try {
      for (let i = 0; i < n; i++) {
        clients.push(await this.pool!.connect());
      }
      await beginSnapshot(clients, snapshotName);
    } catch (err) {
      for (const c of clients) c.release(true);
      throw pgError(nodeId, this.target, err, { what: 'starting the snapshot' });
    }
    const lsn = pos.lsn;
    const options: SnapshotOptions = {
      nodeId,
      tables: this.tables,
      chunkSize: config.chunkSize ?? settings.batchSize,
      parallel: config.parallel,
      clients,
      ...(this.ctx.lane ? { lane: this.ctx.lane } : {}),
      mapper: this.mapper,
      schemas: this.schemas,
      state: { done: pos.done, table: pos.table, after: pos.after, ...(pos.open ? { open: pos.open } : {}) },
      // one object per record: no spreads (this runs for every row of the snapshot), its usual fields in one literal
      position: (s): SnapshotPosition => {
        let p: SnapshotPosition;
        if (s.table !== undefined) p = lsn ? { phase: 'snapshot', lsn, done: s.done, table: s.table, after: s.after } : { phase: 'snapshot', done: s.done, table: s.table, after: s.after };
        else p = lsn ? { phase: 'snapshot', lsn, done: s.done } : { phase: 'snapshot', done: s.done };
        if (s.open !== undefined) p.open = s.open;
        const skipped = this.skipped.toJSON();
        if (skipped) p.skipped = skipped;
        return p;
      },
    };
    const reader = lanes > 0 ? new SnapshotLanes(options, Array.from({ length: lanes }, (_, i) => clients.slice(i * perLane, (i + 1) * perLane))) : new SnapshotReader(options);
    this.snapshot = { reader, clients, lsn };
  }

  private async endSnapshot(broken = false): Promise<void> {
    const s = this.snapshot;
    this.snapshot = undefined;
    if (!s) return;
    for (const c of s.clients) {
      if (!broken) await c.query('COMMIT').catch(() => (broken = true));
      c.release(broken);
    }
  }

  async read(): Promise<SourceBatch | null> {
    this.counter.reading();
    if (this.pendingSnapshot) {
      // the snapshot failed (a lost connection): go on from what was handed out, with a new snapshot
      await this.beginSnapshot(this.pendingSnapshot);
      this.pendingSnapshot = undefined;
    }
    if (this.snapshot) {
      const s = this.snapshot;
      let batch: SourceBatch | null;
      try {
        batch = await s.reader.next();
      } catch (err) {
        const current = s.reader.current();
        this.pendingSnapshot = { phase: 'snapshot', ...(s.lsn ? { lsn: s.lsn } : {}), ...current };
        await this.endSnapshot(true);
        if (err instanceof TableReadError && this.ctx.config.onTableError === 'skip' && tableProblem(err.cause)) {
          // the rest goes on with a new snapshot (a failed statement ends a transaction), without the table
          this.skip(err.table, pgError(this.ctx.nodeId, this.target, err.cause, { what: `table ${err.table}` }));
          const open = { ...current.open };
          delete open[err.table];
          this.pendingSnapshot = { ...this.pendingSnapshot, done: [...current.done, err.table], ...(current.table === err.table ? { table: undefined, after: undefined } : {}), open };
          return this.read();
        }
        throw pgError(this.ctx.nodeId, this.target, err instanceof TableReadError ? err.cause : err, { what: 'snapshot' });
      }
      if (batch) {
        this.counter.count(batch);
        (batch.position as SnapshotPosition).rows = this.counter.counts();
        return batch;
      }
      this.snapshotState = { done: this.tables.map((t) => t.id) };
      await this.endSnapshot();
      if (!this.cdc) return null;
      this.cdcFrom = { phase: 'cdc', lsn: s.lsn! };
      this.ctx.log.info(`snapshot done; streaming changes from ${s.lsn}`);
    }
    if (!this.cdcFrom) return null;
    if (!this.stream) {
      const stream = new ChangeStream(
        {
          nodeId: this.ctx.nodeId,
          target: this.target,
          session: this.session,
          pool: this.pool!,
          slot: this.slot,
          publication: this.publication,
          tables: this.tables,
          schemas: this.schemas,
          mapper: this.mapper,
          batchSize: this.ctx.settings.batchSize,
          heartbeatIntervalMs: this.ctx.config.heartbeatIntervalMs,
          heartbeatTable: this.heartbeatTable,
          lagWarnBytes: this.ctx.config.lagWarnMb * 1048576,
          reconnectTimeoutMs: this.ctx.config.reconnectTimeoutMs,
          log: this.ctx.log,
          signal: this.ctx.signal,
        },
        this.cdcFrom,
      );
      try {
        await stream.open();
      } catch (err) {
        await stream.close();
        throw pgError(this.ctx.nodeId, this.target, err, { what: `streaming from replication slot ${this.slot}` });
      }
      this.stream = stream;
      this.streaming = true;
    }
    return this.counter.count(await this.stream.read());
  }

  committed(position: unknown): void {
    const p = position as Position | undefined;
    if (p?.phase === 'cdc' && this.stream) this.stream.committed(p);
  }

  async close(): Promise<void> {
    const stream = this.stream;
    this.stream = undefined;
    await stream?.close();
    await this.endSnapshot();
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  private parsePosition(p: unknown): Position | undefined {
    if (p === undefined || p === null) return undefined;
    const o = p as Record<string, unknown>;
    const lsn = (v: unknown) => typeof v === 'string' && /^[0-9A-F]{1,8}\/[0-9A-F]{1,8}$/i.test(v);
    const open = o.open as Record<string, unknown> | undefined;
    const openOk = open === undefined || (typeof open === 'object' && open !== null && Object.values(open).every(Array.isArray));
    if (o.phase === 'snapshot' && Array.isArray(o.done) && (o.lsn === undefined || lsn(o.lsn)) && (o.after === undefined || Array.isArray(o.after)) && openOk) return o as unknown as SnapshotPosition;
    if (o.phase === 'cdc' && lsn(o.lsn)) {
      const tx = o.tx as { commit?: unknown; done?: unknown } | undefined;
      if (tx === undefined || (lsn(tx.commit) && Number.isInteger(tx.done))) return o as unknown as CdcPosition;
    }
    throw new NodeError(this.ctx.nodeId, `position ${JSON.stringify(p).slice(0, 200)} is not a postgres.source position: was the node's type changed? Reset the flow's position (sluice run --from-start)`);
  }

  private mismatch(pos: Position): ConfigError {
    return new ConfigError(
      this.ctx.nodeId,
      'mode',
      `the committed position (${pos.phase}${pos.phase === 'snapshot' && !pos.lsn ? ' without a slot' : ''}) was taken in another mode than ${this.ctx.config.mode}: reset the flow's position (sluice run --from-start) after changing mode`,
    );
  }
}

/** an error that belongs to the table read (privilege, a value that cannot be read), not to the connection or the server */
function tableProblem(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return /^(42|22|0A)/.test(code);
  return err instanceof Error && code === undefined && !(err as { errno?: unknown }).errno;
}

export const postgresSource = defineNode({
  type: 'postgres.source',
  category: 'source',
  title: 'PostgreSQL source',
  description:
    'Reads PostgreSQL tables: a snapshot in primary-key order (resumable, optionally parallel), changes through logical replication (pgoutput), or the snapshot then the changes without a gap.',
  icon: 'database',
  configSchema,
  inputs: [],
  outputs: [{ name: 'out', description: 'one record per row or change: op r (snapshot), c / u / d (changes); key = { primary key columns }' }],
  position: postgresPositionText,
  lanes: (c) => (c.mode === 'snapshot' ? undefined : `mode ${c.mode} reads one replication stream, which cannot be shared out: lanes need mode snapshot`),
  create: (ctx) => new PostgresSource(ctx),
});

export default postgresSource;
