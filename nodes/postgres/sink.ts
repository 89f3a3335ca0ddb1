/**
 * postgres.sink: upserts records into a PostgreSQL table by key, deletes on op d, one transaction per
 * batch (a failed batch rolls back and is thrown: the executor retries it and commits no position
 * until it succeeds). Within a batch the records of one key collapse to their net effect, in order,
 * since PostgreSQL cannot update one row twice in one statement.
 *
 * Why two write paths: small batches are cheaper as multi-row `INSERT ... ON CONFLICT`, large ones as
 * COPY, and `copyThreshold` (1000) sits where they cross (`npm run bench -- postgres.sink-paths` measures
 * both). A COPY of only reads and creates goes straight into the table inside a savepoint, the fastest
 * path for a snapshot; a conflict (a resumed run replaying, a table others write) falls back to COPY
 * into a temporary table and one merge, and straight COPY is retried after 1, 2, 4 ... 64 batches so
 * a table of existing rows wastes little. Created tables and column types: docs/type-mapping.md.
 */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { lazyModule } from '../shared/lazy-module.js';
import { z } from 'zod';
import { ConfigError, NodeError, defineNode, type NodeContext, type SinkInstance, type SinkPreviewTarget, type SluiceRecord, type TableReport, type Value } from '../../runtime/index.js';
import { sinkPerTable } from '../shared/table-router.js';
import { appendPlan, coversKey, eachRecordItsOwnKey, keysForNewTable, netEffect, type KeyChange, type SinkTarget } from '../shared/sink-plan.js';
import { listTables, loadTable, type ColumnMeta, type TableMeta } from './catalog.js';
import { connectionFields, display, oneConnection, openPool, pgError, qualified, quoteIdent, resolveTarget, splitName, type TableName, type Target } from './connection.js';
import { RefusedValueError, refusedValue } from './refused-value.js';
import { arrayLiteral, pgTypeForSpec, pgTypeOf, toPgText } from './types.js';
import { copyChunks } from './copy-text.js';
import { declaredSchema, type TableSchema } from '../shared/columns.js';
import { openOrClose } from '../shared/open.js';
import { wouldCreate } from '../shared/preview-target.js';
import { newReport, type FullSchema } from '../shared/schema-full.js';
import { afterCreate, afterData, dryRun, prepareFull } from './schema-ddl.js';

const copyStreams = lazyModule<typeof import('pg-copy-streams')>('pg-copy-streams');
const copyFrom = (sql: string) => copyStreams.from(sql);

const MAX_PARAMS = 65_535;
const MAX_ROWS_PER_STATEMENT = 1000;

const configSchema = z
  .object({
    ...connectionFields,
    table: z.string().min(1).describe('table to write: schema.table or table (schema public); created when missing (createTable). {table} and {schema} stand for the source table of each record (copy.{table}: every table a multi-table source reads, each into its own table)'),
    keys: z
      .array(z.string().min(1))
      .min(1, 'name at least one key column')
      .optional()
      .describe("columns that identify a row: upserts and deletes match on them. Default: the table's primary key (a created table: the source table's key, else the fields of the record key)"),
    createTable: z.boolean().default(true).describe("create the table when missing (types from the source's declared columns, else from the first batch's values) and add columns for new fields"),
    copyThreshold: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('batches with at least this many upserts (of one column set) are written with COPY into a temporary table and one merge; smaller ones with multi-row INSERT'),
  })
  .strict()
  .superRefine(oneConnection);

type Config = z.output<typeof configSchema>;

/** rows written by each path (tests and benches read it) */
export interface SinkStats {
  /** COPY straight into the table (new rows) */
  copied: number;
  /** COPY into the staging table and INSERT … SELECT … ON CONFLICT */
  merged: number;
  /** multi-row INSERT … ON CONFLICT */
  inserted: number;
  /** straight COPYs that met an existing key and were redone as a merge */
  conflicts: number;
}

/** after a straight COPY met an existing key, the next batches merge: 1, 2, 4 ... at most this many */
const MAX_DIRECT_BACKOFF = 64;

class PostgresSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private target!: Target;
  private pool?: pg.Pool;
  /** the target has the PostGIS extension (asked once, when a declared geometry column is created) */
  private postgis?: boolean;
  private readonly name: TableName;
  private meta?: TableMeta;
  /** `schema: full`: the table this sink created, its source's catalog facts (foreign keys wait for close) and its report */
  private full?: { schema: FullSchema; report: TableReport };
  private keys?: string[];
  /** the sink created this table without a key, for a keyless source table: rows are appended */
  private appendOnly = false;
  /** temporary staging tables that exist on a pooled connection */
  private readonly staged = new WeakMap<pg.PoolClient, Set<string>>();
  private readonly counts: SinkStats = { copied: 0, merged: 0, inserted: 0, conflicts: 0 };
  /** batches still to merge before a straight COPY is tried again, and the next such pause */
  private directSkip = 0;
  private directBackoff = 1;

  /** for messages of the shared planning */
  private readonly sinkTarget: SinkTarget;

  constructor(private readonly ctx: NodeContext<Config>) {
    const name = splitName(ctx.config.table);
    if (!name) throw new ConfigError(ctx.nodeId, 'table', `${JSON.stringify(ctx.config.table)} is not a table name: write schema.table or table`);
    this.name = name;
    this.sinkTarget = { nodeId: ctx.nodeId, what: `table ${display(name)}` };
  }

  async open(): Promise<void> {
    await openOrClose(() => this.start(), () => this.close());
  }

  /** a test run: would the first write create the table? Read-only: only the catalog is read */
  async previewTarget(): Promise<SinkPreviewTarget | undefined> {
    const { config, nodeId } = this.ctx;
    return wouldCreate(config.createTable, `table ${display(this.name)}`, async () => {
      const pool = await openPool(resolveTarget(this.ctx, config), { flowName: this.ctx.flowName, nodeId, max: 1 });
      try {
        return (await loadTable(pool, this.name)) !== undefined;
      } finally {
        await pool.end();
      }
    });
  }

  /** a test run: what `schema: full` would create, map lossy and leave out, when the table would be created */
  async previewReport(records: SluiceRecord[]): Promise<TableReport[]> {
    const schema = declaredSchema(records);
    if (!schema?.full || !(await this.previewTarget())?.creates) return [];
    const report = newReport(display(this.name), schema.table);
    await prepareFull(dryRun, this.name, schema, schema.full, report);
    await afterCreate(dryRun, this.name, schema.full, new Set(schema.columns.map((c) => c.name)), report);
    await afterData(dryRun, this.name, schema.full, report);
    return [report];
  }

  private async start(): Promise<void> {
    const { config, nodeId } = this.ctx;
    this.target = resolveTarget(this.ctx, config);
    this.pool = await openPool(this.target, { flowName: this.ctx.flowName, nodeId, max: 2 });
    const pool = this.pool;
    this.meta = await loadTable(pool, this.name).catch((err) => {
      throw pgError(nodeId, this.target, err, { field: 'table' });
    });
    if (!this.meta) {
      if (!config.createTable) {
        const inSchema = (await listTables(pool)).filter((t) => t.schema === this.name.schema).map(display);
        throw new ConfigError(nodeId, 'table', `table ${display(this.name)} not found (${inSchema.length > 0 ? `tables there: ${inSchema.slice(0, 20).join(', ')}` : `no table in schema ${this.name.schema}`}); create it or set createTable: true`);
      }
      this.keys = config.keys;
      return;
    }
    // a table without a key, no keys given: the first batch says (a keyless source table appends)
    this.keys = this.meta.pk.length === 0 && !config.keys ? undefined : this.checkKeys(this.meta);
  }

  private checkKeys(meta: TableMeta): string[] {
    const { config, nodeId } = this.ctx;
    const keys = config.keys ?? meta.pk;
    if (keys.length === 0 && this.appendOnly) return [];
    if (keys.length === 0) throw new ConfigError(nodeId, 'keys', `table ${meta.id} has no primary key: set keys to the columns of a UNIQUE index`);
    const missing = keys.filter((k) => !meta.columns.some((c) => c.name === k));
    if (missing.length > 0) throw new ConfigError(nodeId, 'keys', `table ${meta.id} has no column ${missing.map((k) => JSON.stringify(k)).join(', ')}; columns: ${meta.columns.map((c) => c.name).join(', ')}`);
    if (!coversKey(meta.uniqueSets, keys)) {
      throw new ConfigError(nodeId, 'keys', `table ${meta.id} has no PRIMARY KEY or UNIQUE index on (${keys.join(', ')}): upserts need one (CREATE UNIQUE INDEX ON ${qualified(meta.name)} (${keys.map(quoteIdent).join(', ')}))`);
    }
    return keys;
  }

  async write(records: SluiceRecord[]): Promise<void> {
    if (!this.pool) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    if (records.length === 0) return;
    const keys = this.keys ?? keysForNewTable(this.sinkTarget, records);
    if (keys.length === 0) this.appendOnly = true;
    else if (!this.keys && this.meta) this.keys = this.checkKeys(this.meta);
    // a snapshot's batch (new keys, in key order) is its records as they are: no change per record to make
    const asIs = keys.length > 0 && eachRecordItsOwnKey(records, keys);
    const plan = asIs ? undefined : keys.length === 0 ? appendPlan(this.sinkTarget, records) : netEffect(this.sinkTarget, records, keys);
    const groups = plan ? groupByColumns(plan, changeRow, changeFresh) : groupByColumns(records, recordRow, recordFresh);
    await this.ensureSchema(records, () => plan ?? netEffect(this.sinkTarget, records, keys), keys, groups);
    const meta = this.meta!;
    const client = await this.pool.connect().catch((err) => {
      throw pgError(this.ctx.nodeId, this.target, err, { what: `table ${meta.id}` });
    });
    const created: string[] = [];
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const deletes = plan ? plan.filter((p) => p.del).map((p) => p.key) : [];
      if (deletes.length > 0) await this.delete(client, meta, keys, deletes);
      const direct = this.directSkip === 0;
      if (!direct) this.directSkip--;
      for (const [id, g] of groups) {
        const cols = id.split('\0').map((name) => meta.columns.find((c) => c.name === name)!);
        const rows = g.rows;
        if (keys.length === 0) {
          // append-only (a keyless source table): straight in, no conflict to look for
          if (rows.length < this.ctx.config.copyThreshold) await this.upsertValues(client, meta, keys, cols, rows);
          else await this.copyDirect(client, meta, keys, cols, rows);
          this.counts.inserted += rows.length;
          continue;
        }
        if (rows.length < this.ctx.config.copyThreshold) {
          await this.upsertValues(client, meta, keys, cols, rows);
          this.counts.inserted += rows.length;
          continue;
        }
        if (direct && g.fresh && (await this.copyDirect(client, meta, keys, cols, rows))) {
          this.counts.copied += rows.length;
          continue;
        }
        await this.upsertCopy(client, meta, keys, cols, rows, created);
        this.counts.merged += rows.length;
      }
      await client.query('COMMIT');
      const have = this.staged.get(client) ?? new Set<string>();
      for (const c of created) have.add(c);
      this.staged.set(client, have);
    } catch (err) {
      await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      if (err instanceof RefusedValueError) throw new NodeError(this.ctx.nodeId, err.message, { cause: err });
      throw pgError(this.ctx.nodeId, this.target, err, { what: `writing ${records.length} record(s) to table ${meta.id}`, field: 'table' });
    } finally {
      client.release(broken);
    }
  }

  /** rows written by each path since open */
  stats(): SinkStats {
    return { ...this.counts };
  }

  report(): TableReport[] {
    return this.full ? [this.full.report] : [];
  }

  async close(): Promise<void> {
    if (this.full && this.pool) await afterData(this.pool, this.name, this.full.schema, this.full.report);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  // ---- planning ----

  /**
   * Creates the table, or adds columns for fields it lacks (createTable), before the batch's transaction.
   * A column the batch's meta.schema declares gets the mapped declared type (`pgTypeForSpec`) and, in a
   * created table, its place in the source table's column order; any other column the type of its
   * values (`pgTypeOf`). Only key columns are NOT NULL, unless the source sends `schema: full` facts (schema-ddl.ts).
   */
  private async ensureSchema(records: SluiceRecord[], planOf: () => KeyChange[], keys: string[], groups: Map<string, unknown>): Promise<void> {
    const { nodeId, config } = this.ctx;
    if (this.meta) {
      // the common case: every field (of every column set the upserts have) is a known column
      const known = new Set(this.meta.columns.map((c) => c.name));
      const fresh = [...groups.keys()].some((id) => id.split('\0').some((k) => !known.has(k)));
      if (!fresh) return;
    }
    const schema: TableSchema | undefined = declaredSchema(records);
    const declared = new Map(schema?.columns.map((c, i) => [c.name, { spec: c, at: i }]));
    const types = new Map<string, string | undefined>();
    // a geometry column becomes PostGIS geometry where the extension is installed, else bytea (EWKB)
    if (this.postgis === undefined && schema?.columns.some((c) => c.kind === 'geometry')) {
      this.postgis = (await this.pool!.query<{ ok: boolean }>("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'postgis') AS ok")).rows[0].ok;
    }
    const see = (name: string, v: unknown) => {
      if (types.get(name) !== undefined) {
        if (types.get(name) === 'bigint' && typeof v === 'number' && !Number.isInteger(v) && !declared.has(name)) types.set(name, 'double precision');
        return;
      }
      const d = declared.get(name);
      types.set(name, d ? pgTypeForSpec(d.spec, { postgis: this.postgis }) : pgTypeOf(v));
    };
    for (const p of planOf()) {
      keys.forEach((k, i) => see(k, p.key[i]));
      if (p.row) for (const [k, v] of Object.entries(p.row)) if (v !== undefined) see(k, v);
    }
    const pool = this.pool!;
    const table = qualified(this.name);
    try {
      if (!this.meta) {
        // declared columns in the source table's order, then the others as first seen
        const names = [...types.keys()];
        const at = (name: string) => declared.get(name)?.at ?? Number.MAX_SAFE_INTEGER;
        if (schema) names.sort((a, b) => at(a) - at(b));
        // only key columns are NOT NULL: a captured update may leave unchanged (TOASTed) columns out, and
        // a MySQL zero date reads as null, so a declared NOT NULL could refuse rows the source holds
        // (schema: full at the source: NOT NULL as declared, enum types, then defaults, indexes ... below)
        const full = schema?.full ? { schema: schema.full, report: newReport(display(this.name), schema.table) } : undefined;
        // the schema first: the enum types of schema: full are made in it before the table
        await pool.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(this.name.schema)}`).catch(() => undefined);
        const extra = full ? await prepareFull(pool, this.name, schema!, full.schema, full.report) : undefined;
        const notNull = (name: string) => keys.includes(name) || extra?.notNull.has(name) === true;
        const cols = names.map((name) => `${quoteIdent(name)} ${extra?.types.get(name) ?? types.get(name) ?? 'text'}${notNull(name) ? ' NOT NULL' : ''}`);
        const pk = keys.length > 0 ? `, PRIMARY KEY (${keys.map(quoteIdent).join(', ')})` : '';
        await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (${cols.join(', ')}${pk})`);
        this.appendOnly = keys.length === 0;
        if (full) {
          await afterCreate(pool, this.name, full.schema, new Set(names), full.report);
          this.full = full;
          for (const l of full.report.leftOut) this.ctx.log.warn(`table ${display(this.name)}: left out ${l}`);
        }
        this.ctx.log.info(`created table ${display(this.name)}`);
      } else {
        const missing = [...types.keys()].filter((name) => !this.meta!.columns.some((c) => c.name === name));
        if (missing.length === 0) return;
        if (!config.createTable) {
          throw new ConfigError(nodeId, 'table', `table ${this.meta.id} has no column ${missing.map((m) => JSON.stringify(m)).join(', ')}: add the column(s), drop the field(s) before the sink (core.select), or set createTable: true`);
        }
        for (const name of missing) await pool.query(`ALTER TABLE ${table} ADD COLUMN IF NOT EXISTS ${quoteIdent(name)} ${types.get(name) ?? 'text'}`);
        this.ctx.log.info(`added column(s) ${missing.join(', ')} to table ${this.meta.id}`);
      }
      const meta = await loadTable(pool, this.name);
      if (!meta) throw new NodeError(nodeId, `table ${display(this.name)} disappeared`);
      this.meta = meta;
      this.keys = this.checkKeys(meta);
    } catch (err) {
      throw pgError(nodeId, this.target, err, { field: 'table', what: `table ${display(this.name)}` });
    }
  }

  // ---- statements ----

  private async delete(client: pg.PoolClient, meta: TableMeta, keys: string[], rows: unknown[][]): Promise<void> {
    const cols = keys.map((k) => meta.columns.find((c) => c.name === k)!);
    const params = cols.map((c, i) => arrayLiteral(rows.map((r) => toPgText(r[i], c)), 'other'));
    const sql =
      `DELETE FROM ${qualified(meta.name)} AS t USING unnest(${cols.map((c, i) => `$${i + 1}::${c.sqlType}[]`).join(', ')}) AS d(${cols.map((_, i) => `k${i}`).join(', ')}) ` +
      `WHERE ${cols.map((c, i) => `t.${quoteIdent(c.name)} = d.k${i}`).join(' AND ')}`;
    await client.query({ name: statementName(sql), text: sql, values: params });
  }

  private conflict(keys: string[], cols: ColumnMeta[]): string {
    if (keys.length === 0) return '';
    const updates = cols.filter((c) => !keys.includes(c.name)).map((c) => `${quoteIdent(c.name)} = EXCLUDED.${quoteIdent(c.name)}`);
    return `ON CONFLICT (${keys.map(quoteIdent).join(', ')}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`;
  }

  private async upsertValues(client: pg.PoolClient, meta: TableMeta, keys: string[], cols: ColumnMeta[], rows: Value[]): Promise<void> {
    const per = Math.max(1, Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(MAX_PARAMS / cols.length)));
    const head = `INSERT INTO ${qualified(meta.name)} (${cols.map((c) => quoteIdent(c.name)).join(', ')}) VALUES `;
    const tail = ` ${this.conflict(keys, cols)}`;
    for (let i = 0; i < rows.length; i += per) {
      const chunk = rows.slice(i, i + per);
      const values: (string | null)[] = [];
      const tuples: string[] = [];
      let n = 1;
      for (const row of chunk) {
        tuples.push(`(${cols.map((c) => `$${n++}::${paramType(c)}`).join(', ')})`);
        for (const c of cols) values.push(toPgText(row[c.name], c));
      }
      const sql = head + tuples.join(', ') + tail;
      try {
        await client.query({ name: statementName(sql), text: sql, values });
      } catch (err) {
        throw refusedValue(err, meta, cols, rows, keys, 'values', i);
      }
    }
  }

  /**
   * New rows (a snapshot, inserts) go straight into the table with COPY, inside a savepoint: the fastest
   * way in (no staging table, no speculative insertion). A row that exists already (a resumed run
   * replaying what it wrote, a table written by others) breaks the COPY with a unique violation: the
   * savepoint is rolled back, the caller merges the group instead, and the next batches merge too
   * (1, 2, 4 ... 64 batches) before a straight COPY is tried again. False when it fell back.
   */
  private async copyDirect(client: pg.PoolClient, meta: TableMeta, keys: string[], cols: ColumnMeta[], rows: Value[]): Promise<boolean> {
    const list = cols.map((c) => quoteIdent(c.name)).join(', ');
    await client.query('SAVEPOINT sluice_copy');
    try {
      await pipeline(Readable.from(copyChunks(rows, cols)), client.query(copyFrom(`COPY ${qualified(meta.name)} (${list}) FROM STDIN`)));
    } catch (err) {
      if ((err as { code?: string }).code !== '23505') throw refusedValue(err, meta, cols, rows, keys, 'copy');
      await client.query('ROLLBACK TO SAVEPOINT sluice_copy');
      this.counts.conflicts++;
      this.directSkip = this.directBackoff;
      this.directBackoff = Math.min(this.directBackoff * 2, MAX_DIRECT_BACKOFF);
      return false;
    }
    this.directBackoff = 1;
    return true;
  }

  private async upsertCopy(client: pg.PoolClient, meta: TableMeta, keys: string[], cols: ColumnMeta[], rows: Value[], created: string[]): Promise<void> {
    const list = cols.map((c) => quoteIdent(c.name)).join(', ');
    const stage = `sluice_stage_${createHash('sha1').update(`${meta.id}\0${list}`).digest('hex').slice(0, 16)}`;
    if (!this.staged.get(client)?.has(stage)) {
      await client.query(`CREATE TEMP TABLE IF NOT EXISTS ${stage} ON COMMIT DELETE ROWS AS SELECT ${list} FROM ${qualified(meta.name)} WITH NO DATA`);
      created.push(stage);
    }
    try {
      await pipeline(Readable.from(copyChunks(rows, cols)), client.query(copyFrom(`COPY ${stage} (${list}) FROM STDIN`)));
      await client.query(`INSERT INTO ${qualified(meta.name)} (${list}) SELECT ${list} FROM ${stage} ${this.conflict(keys, cols)}`);
    } catch (err) {
      throw refusedValue(err, meta, cols, rows, keys, 'copy');
    }
  }
}

/**
 * The type a VALUES parameter is cast to: the column's, except that a string type with a length
 * (varchar(n), char(n)) is cast to text, because an explicit cast to varchar(n) silently truncates a
 * longer value, where storing text into the column fails with "value too long" as COPY does.
 */
function paramType(c: ColumnMeta): string {
  return c.category === 'S' && c.typeMod >= 0 ? 'text' : c.sqlType;
}

/**
 * Upserts grouped by the columns they set (one statement per column set), in first-seen order; a group
 * is fresh when every row in it is. Consecutive rows with the fields of the previous one (the usual
 * case) are matched without listing their keys again. `items`: a plan's changes, or records that are
 * their own net effect (eachRecordItsOwnKey).
 */
function groupByColumns<T>(items: readonly T[], rowOf: (item: T) => Value | null | undefined, freshOf: (item: T) => boolean): Map<string, { rows: Value[]; fresh: boolean }> {
  const groups = new Map<string, { rows: Value[]; fresh: boolean }>();
  const one = oneGroup(items, rowOf, freshOf);
  if (one) return groups.set(one.cols.join('\0'), one.group);
  let lastCols: string[] | undefined;
  let last: { rows: Value[]; fresh: boolean } | undefined;
  for (const item of items) {
    const row = rowOf(item);
    if (!row) continue;
    if (lastCols && last && sameColumns(row, lastCols)) {
      last.rows.push(row);
      last.fresh &&= freshOf(item);
      continue;
    }
    const cols = definedFields(row);
    const id = cols.join('\0');
    let g = groups.get(id);
    if (!g) groups.set(id, (g = { rows: [], fresh: true }));
    g.rows.push(row);
    g.fresh &&= freshOf(item);
    lastCols = cols;
    last = g;
  }
  return groups;
}

/** the usual batch, every item a row with the first one's fields, as one group (its array made at its size, not grown row by row) */
function oneGroup<T>(items: readonly T[], rowOf: (item: T) => Value | null | undefined, freshOf: (item: T) => boolean): { cols: string[]; group: { rows: Value[]; fresh: boolean } } | undefined {
  const first = items.length > 0 ? rowOf(items[0]) : undefined;
  if (!first) return undefined;
  const cols = definedFields(first);
  let fresh = true;
  for (const item of items) {
    const row = rowOf(item);
    if (!row || !sameColumns(row, cols)) return undefined;
    fresh &&= freshOf(item);
  }
  return { cols, group: { rows: items.map(rowOf) as Value[], fresh } };
}

const changeRow = (p: KeyChange) => p.row;
const changeFresh = (p: KeyChange) => p.fresh;
const recordRow = (r: SluiceRecord) => r.value;
const recordFresh = (r: SluiceRecord) => r.op === 'r' || r.op === 'c';

/** the fields of `row` that are not undefined (a function apart: a closure over a loop's row costs an allocation per row) */
function definedFields(row: Value): string[] {
  return Object.keys(row).filter((k) => row[k] !== undefined);
}

/** whether `row`'s defined fields are exactly `cols`, in that order */
function sameColumns(row: Value, cols: string[]): boolean {
  let i = 0;
  for (const k in row) {
    if (row[k] === undefined) continue;
    if (cols[i] !== k) return false;
    i++;
  }
  return i === cols.length;
}

/** prepared statement names: the same text gets the same name on every connection */
function statementName(sql: string): string {
  return `sluice_${createHash('sha1').update(sql).digest('hex').slice(0, 24)}`;
}

export const postgresSink = defineNode({
  type: 'postgres.sink',
  category: 'sink',
  title: 'PostgreSQL sink',
  description:
    'Upserts records into a PostgreSQL table by key and deletes on op d, one transaction per batch (COPY and merge for large batches); creates the table and adds columns as needed.',
  icon: 'database',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => sinkPerTable(ctx, 'table', (c) => new PostgresSink(c)),
});

export default postgresSink;
