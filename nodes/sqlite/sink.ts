/**
 * sqlite.sink: upserts records into a SQLite table by key, deletes on op d. One transaction per batch.
 *
 * Ops: c, u, r → `INSERT ... ON CONFLICT (keys) DO UPDATE SET` the record's other fields (columns the
 * record lacks keep their value); d → `DELETE ... WHERE keys = ...`, key values taken from
 * `record.before ?? record.value`, else from `record.key` (an object holding the key columns, or the key
 * itself when there is one key column). A batch is first reduced to its net effect per key
 * (nodes/shared/sink-plan.ts). A record without a value for a key column fails the batch: the executor
 * retries, then fails the flow, and nothing of the batch is committed.
 *
 * Table: created when missing (`createTable`), PRIMARY KEY (keys), column types from the first non-null
 * value of each field in the first batch; a field seen later is added with ALTER TABLE ADD COLUMN. An
 * existing table needs a PRIMARY KEY or UNIQUE index on exactly the key columns. WAL journal, busy_timeout.
 *
 * | JS value                           | stored as          | column type (create / add column) |
 * |------------------------------------|--------------------|-----------------------------------|
 * | integer number, bigint             | the number         | INTEGER                           |
 * | other number                       | the number         | REAL                              |
 * | string                             | the string         | TEXT                              |
 * | boolean                            | 1 / 0              | INTEGER                           |
 * | object, array                      | JSON text          | TEXT                              |
 * | `{ $base64 }`, Buffer, Uint8Array  | the bytes (BLOB)   | BLOB                              |
 * | Date                               | ISO 8601 text      | TEXT                              |
 * | null (no non-null value seen)      | NULL               | TEXT                              |
 *
 * Declared types (conversion mode): when the batch that creates the table or a column carries
 * `meta.schema` (mysql.source, postgres.source: nodes/shared/columns.ts), the column's type comes from
 * the declared kind instead (`sqlTypeForSpec` in sql.ts: integer and boolean → INTEGER, float → REAL,
 * binary → BLOB, 64-bit unsigned → no declared type (exact beyond 2^63 − 1), everything else, decimals included, → TEXT),
 * and a new table's keys default to the source table's key. A declared NOT NULL is not copied (a captured
 * update may leave unchanged columns out, a MySQL zero date reads as null), unless the source sends
 * `schema: full`: then NOT NULL, defaults, enum and portable checks, foreign keys in the CREATE TABLE and,
 * on close, unique constraints and indexes (schema-apply.ts).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { defineNode, fileMark, type NodeContext, type SinkInstance, type SinkPreviewTarget, ConfigError, NodeError, errorMessage, type SluiceRecord, type TableReport } from '../../runtime/index.js';
import { sinkPerTable } from '../shared/table-router.js';
import { batchPlan, coversKey, deleteKey, keysForNewTable, keysOrAppend, type SinkTarget } from '../shared/sink-plan.js';
import { missingTable, openDatabase, quoteIdent, sqlTypeForSpec, sqlTypeOf, tableInfo, toSql, uniqueColumnSets, type DB, type SqlValue } from './sql.js';
import { INT64_MAX, declaredSchema, type TableSchema } from '../shared/columns.js';
import { openOrClose } from '../shared/open.js';
import { newReport, type FullSchema } from '../shared/schema-full.js';
import { createFacts, dryRun, indexes, onDatabase, writesUnchecked } from './schema-apply.js';
import { wouldCreate } from '../shared/preview-target.js';

const configSchema = z
  .object({
    path: z.string().min(1).describe('SQLite database file, created when missing; a relative path is resolved against the working directory (in the server: against its first file root)').meta(fileMark('write')),
    table: z.string().min(1).describe('table to write. {table} and {schema} stand for the source table of each record ({table}: every table a multi-table source reads, each into its own table)'),
    keys: z
      .array(z.string().min(1))
      .min(1, 'name at least one key column')
      .optional()
      .describe("columns that identify a row: upserts and deletes match on them (the primary key of a created table). Default: the table's primary key, or for a new table the fields of the records' key"),
    createTable: z.boolean().default(true).describe('create the table when missing, with column types from the first batch'),
  })
  .strict();

type Config = z.output<typeof configSchema>;

class SqliteSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private db?: DB;
  /** the table's name as stored, once it exists */
  private tableName: string;
  private exists = false;
  /** known columns, lowercased (SQLite column names are case-insensitive) */
  private known = new Set<string>();
  private readonly upserts = new Map<string, Database.Statement<SqlValue[]>>();
  private remove?: Database.Statement<SqlValue[]>;
  private tx?: Database.Transaction<(records: SluiceRecord[]) => void>;
  /** config.keys, else the table's primary key, else the fields of the first record's key */
  private keys?: string[];
  /** an existing table without a key and no keys configured: appended to when the source table has none either */
  private keyless = false;
  /** `schema: full`: the table this sink created, its source's catalog facts (indexes wait for close), its columns and its report */
  private full?: { schema: FullSchema; columns: Set<string>; report: TableReport };
  /** PRAGMA foreign_keys is off on this connection (schema-apply.ts) */
  private unchecked = false;

  constructor(private readonly ctx: NodeContext<Config>) {
    this.tableName = ctx.config.table;
  }

  /** for messages of the shared planning */
  private get sinkTarget(): SinkTarget {
    return { nodeId: this.ctx.nodeId, what: `table ${this.tableName}` };
  }

  async open(): Promise<void> {
    await openOrClose(() => this.start(), () => this.close());
  }

  /** a test run: would the first write create the table? Read-only: no file or table is made */
  async previewTarget(): Promise<SinkPreviewTarget | undefined> {
    const { config, nodeId } = this.ctx;
    return wouldCreate(config.createTable, `table ${config.table}`, async () => {
      const abs = this.ctx.files.resolve('path', config.path, { write: true });
      if (!existsSync(abs)) return false;
      const db = openDatabase(nodeId, config.path, abs, config.table, 'read');
      try {
        return tableInfo(db, config.table) !== undefined;
      } finally {
        db.close();
      }
    });
  }

  /** a test run: what `schema: full` would create, map lossy and leave out, when the table would be created */
  async previewReport(records: SluiceRecord[]): Promise<TableReport[]> {
    const schema = declaredSchema(records);
    if (!this.ctx.config.createTable || !schema?.full || !(await this.previewTarget())?.creates) return [];
    const keys = this.ctx.config.keys ?? keysForNewTable(this.sinkTarget, records);
    const { full, facts } = this.createPlan(this.newColumns(records, keys, schema), keys, schema);
    facts!.created(full!.report);
    await indexes(dryRun, this.tableName, full!.schema, full!.columns, full!.report);
    return [full!.report];
  }

  private start(): void {
    const { config, nodeId } = this.ctx;
    const abs = this.ctx.files.resolve('path', config.path, { write: true });
    mkdirSync(dirname(abs), { recursive: true });
    const db = openDatabase(nodeId, config.path, abs, config.table, 'write');
    this.db = db;
    this.loadSchema();
    if (!this.exists && !config.createTable) throw missingTable(nodeId, db, config.table, config.path);
    this.keys = config.keys;
    if (this.exists && !this.keys) {
      const pk = tableInfo(db, this.tableName)!.columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
      // a table without a key, no keys given: the first batch says (a keyless source table appends)
      if (pk.length === 0) this.keyless = true;
      else this.keys = pk.map((c) => c.name);
    }
    if (this.exists && config.keys) {
      const missing = config.keys.filter((k) => !this.known.has(k.toLowerCase()));
      if (missing.length > 0) {
        throw new ConfigError(nodeId, 'keys', `table ${this.tableName} has no column ${missing.map((k) => JSON.stringify(k)).join(', ')}`);
      }
      const info = tableInfo(db, this.tableName)!;
      if (!coversKey(uniqueColumnSets(db, info), config.keys, true)) {
        throw new ConfigError(
          nodeId,
          'keys',
          `table ${this.tableName} has no PRIMARY KEY or UNIQUE index on (${config.keys.join(', ')}): upserts need one`,
        );
      }
    }
    this.tx = db.transaction((records: SluiceRecord[]) => this.apply(records));
  }

  async write(records: SluiceRecord[]): Promise<void> {
    if (!this.tx) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    if (records.length === 0) return;
    // a pragma that a transaction cannot change: set before it
    if (!this.unchecked && this.ctx.config.createTable && writesUnchecked(declaredSchema(records)?.full)) {
      this.db!.pragma('foreign_keys = OFF');
      this.unchecked = true;
    }
    try {
      this.tx.immediate(records);
    } catch (err) {
      // the transaction rolled back, schema changes included: forget what this batch taught us
      this.upserts.clear();
      this.remove = undefined;
      this.full = undefined;
      this.loadSchema();
      if (err instanceof NodeError || err instanceof ConfigError) throw err;
      throw new NodeError(this.ctx.nodeId, `table ${this.tableName}: ${errorMessage(err)}`, { cause: err });
    }
  }

  report(): TableReport[] {
    return this.full ? [this.full.report] : [];
  }

  async close(): Promise<void> {
    if (this.full && this.db) await indexes(onDatabase(this.db), this.tableName, this.full.schema, this.full.columns, this.full.report);
    const db = this.db;
    this.db = this.tx = this.remove = undefined;
    this.upserts.clear();
    db?.close();
  }

  private loadSchema(): void {
    const info = tableInfo(this.db!, this.ctx.config.table);
    this.exists = info !== undefined;
    this.tableName = info?.name ?? this.ctx.config.table;
    this.known = new Set(info?.columns.map((c) => c.name.toLowerCase()) ?? []);
  }

  /** runs inside the batch's transaction */
  private apply(records: SluiceRecord[]): void {
    // the source's declared columns, when a table or a column is still to be created (conversion mode)
    const schema = this.ctx.config.createTable ? declaredSchema(records) : undefined;
    // declared 64-bit unsigned columns (no affinity): a whole-number string that fits SQLite's integers goes in as one
    const wide = schema ? new Set(schema.columns.filter((c) => sqlTypeForSpec(c) === '').map((c) => c.name)) : undefined;
    const keys = (this.keys ??= keysOrAppend(this.sinkTarget, records, { keyless: this.keyless, noKeyHint: 'has no primary key: name the columns that identify a row in keys', log: this.ctx.log }));
    const changes = batchPlan(this.sinkTarget, records, keys);
    this.ensureColumns(this.newColumns(records, keys, schema), schema);
    // Rows of one batch mostly share their fields, in the same order: such a row reuses the previous
    // one's column list and statement, so only a row whose fields differ pays for looking them up.
    let shape: string[] | undefined;
    let upsert: Database.Statement<SqlValue[]> | undefined;
    for (const c of changes) {
      if (c.del) this.deleteStatement().run(...c.key.map(toSql));
      const row = c.row;
      if (!row) continue;
      const values: SqlValue[] = [];
      let n = 0;
      let same = shape !== undefined;
      for (const name in row) {
        const v = row[name];
        if (v === undefined) continue;
        if (same && shape![n] !== name) same = false;
        n++;
        values.push(wide?.has(name) ? wideInteger(v) : toSql(v));
      }
      if (!same || shape === undefined || n !== shape.length) {
        shape = Object.keys(row).filter((name) => row[name] !== undefined);
        upsert = this.upsertStatement(shape);
      }
      upsert!.run(...values);
    }
  }

  /**
   * The fields of the batch that are not columns yet, with the type the first non-null value of each
   * asks for (or the source declared, `schema`); the key columns of deletes included. A record with the
   * fields of the one before (the usual case) is passed over once those are known columns.
   */
  private newColumns(records: SluiceRecord[], keys: string[], schema: TableSchema | undefined): Map<string, { name: string; type?: string }> {
    const declared = schema ? new Map(schema.columns.map((c) => [c.name.toLowerCase(), c])) : undefined;
    const types = new Map<string, { name: string; type?: string }>();
    const see = (name: string, v: unknown) => {
      const lower = name.toLowerCase();
      const t = types.get(lower);
      if (t?.type !== undefined) return;
      const spec = this.known.has(lower) ? undefined : declared?.get(lower);
      const type = spec ? sqlTypeForSpec(spec) : sqlTypeOf(v);
      if (!t) types.set(lower, { name, type });
      else t.type = type;
    };
    let shape: string[] | undefined;
    let shapeKnown = false;
    for (const r of records) {
      if (r.op === 'd') {
        deleteKey(this.sinkTarget, r, keys).forEach((v, i) => see(keys[i], v));
        continue;
      }
      const value = r.value!;
      let n = 0;
      let same = shape !== undefined;
      for (const name in value) {
        if (value[name] === undefined) continue;
        if (same && shape![n] !== name) same = false;
        n++;
      }
      if (!same || shape === undefined || n !== shape.length) {
        shape = Object.keys(value).filter((name) => value[name] !== undefined);
        shapeKnown = this.exists && shape.every((name) => this.known.has(name.toLowerCase()));
      }
      if (!shapeKnown) for (const name of shape) see(name, value[name]);
    }
    return types;
  }

  /**
   * A new table's columns (`types`, the keys added) and, with `schema: full` at the source, what goes
   * into its CREATE TABLE (NOT NULL, defaults, checks, foreign keys; indexes on close, schema-apply.ts)
   */
  private createPlan(types: Map<string, { name: string; type?: string }>, keys: readonly string[], schema: TableSchema | undefined) {
    for (const k of keys) if (!types.has(k.toLowerCase())) types.set(k.toLowerCase(), { name: k });
    const columns = new Set([...types.values()].map((c) => c.name));
    const full = schema?.full ? { schema: schema.full, columns, report: newReport(this.tableName, schema.table) } : undefined;
    const facts = full ? createFacts(schema!, full.schema, columns, keys, (name) => columnType(types.get(name.toLowerCase())?.type).trim(), full.report) : undefined;
    return { full, facts };
  }

  private ensureColumns(types: Map<string, { name: string; type?: string }>, schema: TableSchema | undefined): void {
    const db = this.db!;
    const table = quoteIdent(this.tableName);
    if (!this.exists) {
      const { full, facts } = this.createPlan(types, this.keys!, schema);
      const cols = [...types.values()].map((c) => `${quoteIdent(c.name)}${columnType(c.type)}${facts?.column(c.name) ?? ''}`);
      const pk = this.keys!.length > 0 ? `, PRIMARY KEY (${this.keys!.map(quoteIdent).join(', ')})` : '';
      db.exec(`CREATE TABLE ${table} (${cols.join(', ')}${pk}${facts?.constraints ?? ''})`);
      if (full) {
        facts!.created(full.report);
        this.full = full;
        for (const l of full.report.leftOut) this.ctx.log.warn(`table ${this.tableName}: left out ${l}`);
      }
      this.exists = true;
      for (const lower of types.keys()) this.known.add(lower);
      return;
    }
    for (const [lower, c] of types) {
      if (this.known.has(lower)) continue;
      db.exec(`ALTER TABLE ${table} ADD COLUMN ${quoteIdent(c.name)}${columnType(c.type)}`);
      this.known.add(lower);
    }
  }

  private upsertStatement(columns: string[]): Database.Statement<SqlValue[]> {
    const cacheKey = columns.join('\0');
    let stmt = this.upserts.get(cacheKey);
    if (!stmt) {
      const keys = new Set(this.keys!.map((k) => k.toLowerCase()));
      const updates = columns.filter((c) => !keys.has(c.toLowerCase())).map((c) => `${quoteIdent(c)} = excluded.${quoteIdent(c)}`);
      const insert = `INSERT INTO ${quoteIdent(this.tableName)} (${columns.map(quoteIdent).join(', ')}) VALUES (${columns.map(() => '?').join(', ')})`;
      // append-only (a keyless source table): no conflict to look for
      const conflict = `ON CONFLICT (${this.keys!.map(quoteIdent).join(', ')}) ${updates.length > 0 ? `DO UPDATE SET ${updates.join(', ')}` : 'DO NOTHING'}`;
      const sql = this.keys!.length === 0 ? insert : `${insert} ${conflict}`;
      stmt = this.db!.prepare<SqlValue[]>(sql);
      this.upserts.set(cacheKey, stmt);
    }
    return stmt;
  }

  private deleteStatement(): Database.Statement<SqlValue[]> {
    this.remove ??= this.db!.prepare<SqlValue[]>(
      `DELETE FROM ${quoteIdent(this.tableName)} WHERE ${this.keys!.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')}`,
    );
    return this.remove;
  }
}

/** a value of a declared 64-bit unsigned column: an integer when it fits SQLite's, else its exact text */
function wideInteger(v: unknown): SqlValue {
  if (typeof v === 'string' && /^\d{1,19}$/.test(v) && BigInt(v) <= INT64_MAX) return BigInt(v);
  return toSql(v);
}

/** a column's type in DDL: none known → TEXT; '' → no declared type (no affinity: values stored as given) */
const columnType = (type: string | undefined) => (type === '' ? '' : ` ${type ?? 'TEXT'}`);

export const sqliteSink = defineNode({
  type: 'sqlite.sink',
  category: 'sink',
  title: 'SQLite sink',
  description:
    'Upserts records into a SQLite table by key columns and deletes on op d, one transaction per batch; creates the table and adds new columns as needed.',
  icon: 'database',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => sinkPerTable(ctx, 'table', (c) => new SqliteSink(c)),
});

export default sqliteSink;
