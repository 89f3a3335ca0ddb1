/**
 * mysql.sink: upserts records into a MySQL / MariaDB table by key, deletes on op d. One transaction per
 * batch: a batch is written whole or not at all (the executor retries it, then fails the flow).
 *
 * Ops: c, u, r → `INSERT … ON DUPLICATE KEY UPDATE` the record's other fields, consecutive records with
 * the same fields in one multi-row statement (columns a record lacks keep their value); d →
 * `DELETE … WHERE keys IN (…)`, key values from `record.before ?? record.value`, else `record.key` (an
 * object with the key columns, or the key itself when there is one key column). A batch is first reduced
 * to its net effect per key (nodes/shared/sink-plan.ts), so an insert, a delete and an insert of one key
 * end as the last left it.
 *
 * Table: `table` is 'db.table' or 'table' in the connection's database. An existing table needs a
 * PRIMARY KEY or UNIQUE index on exactly `keys`. `createTable` (default true) creates a missing table
 * with PRIMARY KEY (keys), utf8mb4, column types from the first non-null value of each field in the first
 * batch; a field seen later is added with ALTER TABLE ADD COLUMN (DDL runs before the batch's
 * transaction: MySQL commits DDL implicitly).
 *
 * | record value                          | created column (key column)   | written as                        |
 * |---------------------------------------|-------------------------------|-----------------------------------|
 * | integer number                        | BIGINT                        | the number                        |
 * | other number                          | DOUBLE                        | the number                        |
 * | bigint                                | BIGINT (DECIMAL(65,0) if wider) | its decimal text                |
 * | boolean                               | BOOLEAN (TINYINT(1))          | 1 / 0                             |
 * | 'YYYY-MM-DD'                          | DATE (VARCHAR(255))           | the text                          |
 * | ISO 8601 date-time 'YYYY-MM-DDTHH:MM…' | DATETIME(6) (VARCHAR(255))    | 'YYYY-MM-DD HH:MM:SS.ffffff', UTC when it has an offset |
 * | other string (decimals included)      | LONGTEXT (VARCHAR(255))       | the text                          |
 * | object, array                         | JSON (VARCHAR(255))           | JSON text                         |
 * | `{ $base64 }`, Buffer, Uint8Array     | LONGBLOB (VARBINARY(255))     | the bytes                         |
 * | Date                                  | DATETIME(6)                   | UTC date-time                     |
 * | null only                             | LONGTEXT (VARCHAR(255))       | NULL                              |
 *
 * Declared types (conversion mode). When a record of the batch carries `meta.schema` (the source table's
 * declared columns, nodes/shared/columns.ts: mysql.source sends it on the first record of each table in
 * every batch), a column still to be created gets the type mapped from the declared one instead
 * (`mysqlTypeFor` in types.ts; only key columns NOT NULL: a declared NOT NULL is not copied, since a
 * captured update may carry only some columns and a zero date reads as null, unless the source sends
 * `schema: full`: then NOT NULL, defaults, ENUMs, indexes, checks, comments and, on close, foreign keys
 * as schema-apply.ts says; a test run plans their report by the same steps, previewReport), and a
 * missing table's keys default to the source table's key:
 *
 * | declared kind (source type)                     | created column                                   |
 * |-------------------------------------------------|--------------------------------------------------|
 * | integer 8/16/24/32/64 bits [unsigned]           | TINYINT / SMALLINT / MEDIUMINT / INT / BIGINT [UNSIGNED] |
 * | decimal(p,s)                                    | DECIMAL(p,s), at most (65,30); unbounded: DECIMAL(65,30) |
 * | float 32 / 64                                   | FLOAT / DOUBLE                                   |
 * | boolean (MySQL TINYINT(1), PostgreSQL boolean)  | BOOLEAN (TINYINT(1))                             |
 * | string(n) / fixed string(n) / unbounded          | VARCHAR(n) (n ≤ 16,383; key ≤ 768) / CHAR(n) / LONGTEXT (key VARCHAR(255)) |
 * | json                                            | JSON (key VARCHAR(255))                          |
 * | binary(n) / fixed binary(n) / unbounded          | VARBINARY(n) / BINARY(n) / LONGBLOB (key VARBINARY(255)) |
 * | date, time(f), datetime(f)                      | DATE, TIME(f), DATETIME(f) (f ≤ 6)               |
 * | timestamp(f) (a UTC instant)                    | TIMESTAMP(f) NULL DEFAULT NULL (NOT NULL: DEFAULT CURRENT_TIMESTAMP(f)); 1970–2038 only |
 * | uuid                                            | UUID (MariaDB 10.7+), else CHAR(36)              |
 * | other                                           | LONGTEXT (key VARCHAR(255))                      |
 *
 * Into an existing column a value is converted for the column's type (types.ts `writer`): ISO strings
 * into DATETIME / TIMESTAMP / DATE, objects into JSON, `{ $base64 }` into bytes. The session time zone
 * is UTC, so TIMESTAMP values written and read back are the same instants.
 */
import { z } from 'zod';
import type { Pool, PoolConnection } from 'mysql2/promise';
import { ConfigError, NodeError, defineNode, type NodeContext, type SinkInstance, type SinkPreviewTarget, type SluiceRecord, type TableReport } from '../../runtime/index.js';
import { sinkPerTable } from '../shared/table-router.js';
import { batchPlan, coversKey, deleteKey, keysForNewTable, keysOrAppend, type KeyChange, type SinkTarget } from '../shared/sink-plan.js';
import { connectionFields, oneConnection, openPool, qualified, quoteIdent, resolveTarget, statementError, type ServerInfo, type Target } from './connection.js';
import { columnTypeFor, defaultColumnType, describeTable, listTables, mysqlTypeFor, schemaExists, writer, type TableInfo, type Writer } from './types.js';
import { declaredSchema, type ColumnSpec, type TableSchema } from '../shared/columns.js';
import { newReport, type FullSchema } from '../shared/schema-full.js';
import { afterCreate, createFacts, dryRun, foreignKeys, onPool } from './schema-apply.js';
import { openOrClose } from '../shared/open.js';
import { wouldCreate } from '../shared/preview-target.js';

const configSchema = z
  .object({
    ...connectionFields,
    table: z.string().min(1).describe("table to write: 'db.table', or 'table' in the connection's database. {table} and {schema} stand for the source table of each record ('copy.{table}': every table a multi-table source reads, each into its own table)"),
    keys: z
      .array(z.string().min(1))
      .min(1, 'name at least one key column')
      .optional()
      .describe("columns that identify a row: upserts and deletes match on them (the primary key of a created table). Default: an existing table's primary key, else the source table's key (meta.schema), else the fields of the record key"),
    createTable: z
      .boolean()
      .default(true)
      .describe("create the table when missing (column types mapped from the source's declared types when it sends them, else from the first batch's values) and add columns for new fields"),
  })
  .strict()
  .superRefine(oneConnection);

type Config = z.output<typeof configSchema>;

/** the columns a source declared for the table (meta.schema), by lowercased name, and its key */
type Declared = { columns: Map<string, ColumnSpec>; key: string[]; schema: TableSchema };

type Step = { kind: 'upsert'; columns: string[]; values: unknown[] } | { kind: 'delete'; values: unknown[] };

/** the net changes as steps: a key's delete, then its upsert (a changed key is in the plan once) */
function stepsOf(changes: KeyChange[]): Step[] {
  const steps: Step[] = [];
  for (const c of changes) {
    if (c.del) steps.push({ kind: 'delete', values: c.key });
    const row = c.row;
    if (!row) continue;
    const columns: string[] = [];
    const values: unknown[] = [];
    for (const name in row) {
      const v = row[name];
      if (v === undefined) continue;
      columns.push(name);
      values.push(v);
    }
    steps.push({ kind: 'upsert', columns, values });
  }
  return steps;
}

/** a column's type: as mapped, else what a column that held only nulls gets (a key one bounded) */
const typeOf = (c: { name: string; type?: string }, keys: readonly string[]) => c.type ?? defaultColumnType(keys.some((k) => k.toLowerCase() === c.name.toLowerCase()));

/** rows per statement, and a rough byte budget (max_allowed_packet is 16 MB by default on MariaDB) */
const MAX_ROWS = 1000;
const MAX_BYTES = 4 * 1024 * 1024;

class MysqlSink implements SinkInstance {
  readonly kind = 'sink' as const;
  private target!: Target;
  private pool?: Pool;
  private server!: ServerInfo;
  private schema = '';
  private tableName = '';
  private info?: TableInfo;
  private writers = new Map<string, Writer>();
  private known = new Set<string>();
  /** the key columns: from the config, the existing table, or the first batch (see `keys` in the schema) */
  private keys?: string[];
  /** an existing table without a key and no keys configured: appended to when the source table has none either */
  private keyless = false;
  /** `schema: full`: the table this sink created, its source's catalog facts (foreign keys wait for close) and its report */
  private full?: { schema: FullSchema; report: TableReport };

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(): Promise<void> {
    await openOrClose(() => this.start(), () => this.close());
  }

  /** a test run: would the first write create the table? Read-only: only information_schema is read */
  async previewTarget(): Promise<SinkPreviewTarget | undefined> {
    if (!this.named()) return undefined; // the deploy says what is missing
    return wouldCreate(this.ctx.config.createTable, `table ${this.id}`, async () => (await this.look()).exists);
  }

  /**
   * A test run: what `schema: full` would create, map lossy and leave out, when the table would be
   * created, planned by the steps the copy takes (createPlan, then afterCreate and foreignKeys on a dry
   * run that runs nothing and predicts the server's answers: schema-apply.ts). Read-only: only
   * information_schema and the server's version are read.
   */
  async previewReport(records: SluiceRecord[]): Promise<TableReport[]> {
    const declared = this.declared(records);
    if (!this.ctx.config.createTable || !declared?.schema.full || !this.named()) return [];
    const { exists, server } = await this.look();
    if (exists) return [];
    this.server = server;
    const keys = this.ctx.config.keys ?? keysForNewTable(this.sinkTarget, records);
    const plan = this.createPlan(this.newColumns(records, keys, declared), keys, declared.schema);
    const full = plan.full!;
    plan.facts!.created(full.report);
    const target = dryRun(server);
    await afterCreate(target, this.schema, this.tableName, full.schema, plan.types, full.report);
    await foreignKeys(target, this.schema, this.tableName, full.schema, full.report);
    return [full.report];
  }

  /** the table's database and name from `table` and the connection; false: no database named */
  private named(): boolean {
    const { config } = this.ctx;
    this.target = resolveTarget(this.ctx, config);
    const dot = config.table.indexOf('.');
    this.schema = dot >= 0 ? config.table.slice(0, dot) : (this.target.database ?? '');
    this.tableName = dot >= 0 ? config.table.slice(dot + 1) : config.table;
    return this.schema !== '';
  }

  /** a test run: whether the table is there (a database that is not counts as there: the deploy fails with its own message), and the server */
  private async look(): Promise<{ exists: boolean; server: ServerInfo }> {
    const { pool, server } = await openPool(this.ctx.nodeId, this.target, 1);
    try {
      const exists = !(await schemaExists(pool, this.schema)) || (await describeTable(pool, this.schema, this.tableName, server.mariadb)) !== undefined;
      return { exists, server };
    } finally {
      await pool.end();
    }
  }

  private async start(): Promise<void> {
    const { config, nodeId } = this.ctx;
    if (!this.named()) throw new ConfigError(nodeId, 'table', `${JSON.stringify(config.table)} names no database and the ${this.target.via} has none: write 'database.${config.table}'`);
    const { pool, server } = await openPool(nodeId, this.target, 2);
    this.pool = pool;
    this.server = server;
    try {
      if (!(await schemaExists(pool, this.schema))) {
        throw new ConfigError(nodeId, 'table', `database ${JSON.stringify(this.schema)} does not exist at ${this.target.label}: create it (CREATE DATABASE ${quoteIdent(this.schema)})`);
      }
      await this.loadSchema();
      if (!this.info) {
        if (!config.createTable) {
          const have = (await listTables(pool, this.schema)).map(([, t]) => t);
          throw new ConfigError(nodeId, 'table', `table ${this.id} not found at ${this.target.label} and createTable is false; ${have.length ? `tables: ${have.join(', ')}` : 'the database has no tables'}`);
        }
        this.keys = config.keys;
        return;
      }
      const keys = config.keys ?? this.info.key;
      if (keys.length === 0) {
        // a table without a key, no keys given: the first batch says (a keyless source table appends)
        this.keyless = true;
        return;
      }
      const missing = keys.filter((k) => !this.known.has(k.toLowerCase()));
      if (missing.length > 0) throw new ConfigError(nodeId, 'keys', `table ${this.id} has no column ${missing.map((k) => JSON.stringify(k)).join(', ')}`);
      if (!coversKey(this.info.uniqueSets, keys, true)) {
        throw new ConfigError(nodeId, 'keys', `table ${this.id} has no PRIMARY KEY or UNIQUE index on (${keys.join(', ')}): upserts need one (ALTER TABLE ${this.id} ADD UNIQUE (${keys.join(', ')}))`);
      }
      this.keys = keys;
    } catch (err) {
      throw statementError(nodeId, 'table', this.target, err, `reading table ${this.id}`);
    }
  }

  private get id(): string {
    return `${this.schema}.${this.tableName}`;
  }

  /** for messages of the shared planning */
  private get sinkTarget(): SinkTarget {
    return { nodeId: this.ctx.nodeId, what: `table ${this.id}` };
  }

  async write(records: SluiceRecord[]): Promise<void> {
    if (!this.pool) throw new NodeError(this.ctx.nodeId, 'write() before open()');
    if (records.length === 0) return;
    const declared = this.declared(records);
    const keys = (this.keys ??= keysOrAppend(this.sinkTarget, records, { keyless: this.keyless, noKeyHint: 'has no PRIMARY KEY: set keys to the columns of a UNIQUE index', log: this.ctx.log }));
    const changes = batchPlan(this.sinkTarget, records, keys);
    const types = this.newColumns(records, keys, declared);
    try {
      await this.ensureColumns(types, declared?.schema);
    } catch (err) {
      throw statementError(this.ctx.nodeId, 'table', this.target, err, `creating or altering table ${this.id}`);
    }
    const steps = stepsOf(changes);
    let conn: PoolConnection | undefined;
    try {
      conn = await this.pool.getConnection();
      await conn.query('START TRANSACTION');
      for (const [sql, params] of this.statements(steps)) await conn.query(sql, params);
      await conn.query('COMMIT');
      conn.release();
    } catch (err) {
      if (conn) {
        await conn.query('ROLLBACK').catch(() => undefined);
        conn.destroy();
      }
      throw statementError(this.ctx.nodeId, 'table', this.target, err, `writing ${records.length} record(s) to ${this.id}`);
    }
  }

  report(): TableReport[] {
    return this.full ? [this.full.report] : [];
  }

  async close(): Promise<void> {
    if (this.full && this.pool) await foreignKeys(onPool(this.pool, this.server), this.schema, this.tableName, this.full.schema, this.full.report);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }

  private async loadSchema(): Promise<void> {
    this.info = await describeTable(this.pool!, this.schema, this.tableName, this.server.mariadb);
    this.known = new Set(this.info?.columns.map((c) => c.name.toLowerCase()) ?? []);
    this.writers = new Map(this.info?.columns.map((c) => [c.name.toLowerCase(), writer(c)]) ?? []);
  }

  /**
   * The source's declared columns (meta.schema, nodes/shared/columns.ts) when a column is still to be
   * created: the first record of a table in each batch of mysql.source (postgres.source may follow) carries it.
   */
  private declared(records: SluiceRecord[]): Declared | undefined {
    if (this.info && !this.ctx.config.createTable) return undefined;
    const schema = declaredSchema(records);
    if (!schema) return undefined;
    return { columns: new Map(schema.columns.map((c) => [c.name.toLowerCase(), c])), key: schema.key, schema };
  }

  /**
   * The fields of the batch that are not columns yet, with the type the first non-null value of each
   * asks for (or the source declared); the key columns of deletes included.
   */
  private newColumns(records: SluiceRecord[], keys: string[], declared?: Declared): Map<string, { name: string; type?: string }> {
    const keySet = new Set(keys.map((k) => k.toLowerCase()));
    const types = new Map<string, { name: string; type?: string }>();
    const { mariadb, major, minor } = this.server;
    const uuidType = mariadb && (major > 10 || (major === 10 && minor >= 7));
    const see = (name: string, v: unknown) => {
      const lower = name.toLowerCase();
      if (this.known.has(lower)) return;
      const t = types.get(lower);
      if (t?.type !== undefined) return;
      const spec = declared?.columns.get(lower);
      const type = spec ? mysqlTypeFor(spec, keySet.has(lower), uuidType) : columnTypeFor(v, keySet.has(lower));
      if (!t) types.set(lower, { name, type });
      else t.type = type;
    };
    for (const r of records) {
      if (r.op === 'd') {
        deleteKey(this.sinkTarget, r, keys).forEach((v, i) => see(keys[i], v));
        continue;
      }
      for (const [name, v] of Object.entries(r.value!)) if (v !== undefined) see(name, v);
    }
    return types;
  }

  private async ensureColumns(types: Map<string, { name: string; type?: string }>, declared?: TableSchema): Promise<void> {
    if (types.size === 0 && this.info) return;
    const pool = this.pool!;
    const table = qualified(this.schema, this.tableName);
    if (!this.info) {
      const plan = this.createPlan(types, this.keys!, declared);
      await pool.query(plan.sql);
      if (plan.full) {
        plan.facts!.created(plan.full.report);
        await afterCreate(onPool(pool, this.server), this.schema, this.tableName, plan.full.schema, plan.types, plan.full.report);
        this.full = plan.full;
        for (const l of plan.full.report.leftOut) this.ctx.log.warn(`table ${this.id}: left out ${l}`);
      }
    } else {
      if (!this.ctx.config.createTable) {
        const names = [...types.values()].map((c) => c.name).join(', ');
        throw new ConfigError(this.ctx.nodeId, 'createTable', `table ${this.id} has no column ${names}: add it, or set createTable: true to add columns for new fields`);
      }
      await pool.query(`ALTER TABLE ${table} ${[...types.values()].map((c) => `ADD COLUMN ${quoteIdent(c.name)} ${typeOf(c, this.keys!)}`).join(', ')}`);
    }
    await this.loadSchema();
  }

  /**
   * A new table: its CREATE TABLE over `types` (the keys added) and, with `schema: full` at the source,
   * what goes into it (ENUM types, NOT NULL, comments: schema-apply.ts createFacts), the report begun, and
   * each column's type as created, which afterCreate sizes indexes by. The copy runs it; a test run plans from it.
   */
  private createPlan(types: Map<string, { name: string; type?: string }>, keys: string[], declared: TableSchema | undefined) {
    for (const k of keys) if (!types.has(k.toLowerCase())) types.set(k.toLowerCase(), { name: k });
    const pk = keys.length > 0 ? `, PRIMARY KEY (${keys.map(quoteIdent).join(', ')})` : '';
    // schema: full at the source: ENUM types, NOT NULL as declared and comments in the CREATE TABLE; defaults, indexes ... after it (schema-apply.ts)
    const full = declared?.full ? { schema: declared.full, report: newReport(this.id, declared.table) } : undefined;
    const facts = full ? createFacts(declared!, full.schema, new Set([...types.values()].map((c) => c.name)), keys, full.report) : undefined;
    const cols = [...types.values()].map((c) => `${quoteIdent(c.name)} ${facts ? facts.column(c.name, typeOf(c, keys)) : typeOf(c, keys)}`);
    return {
      sql: `CREATE TABLE IF NOT EXISTS ${qualified(this.schema, this.tableName)} (${cols.join(', ')}${pk}) DEFAULT CHARSET = utf8mb4${facts?.tableOptions ?? ''}`,
      full,
      facts,
      types: new Map([...types.values()].map((c) => [c.name, facts ? facts.type(c.name, typeOf(c, keys)) : typeOf(c, keys)])),
    };
  }

  /** the steps as statements: runs of upserts with the same columns, runs of deletes; in order */
  private *statements(steps: Step[]): Generator<[string, unknown[]]> {
    const table = qualified(this.schema, this.tableName);
    const keys = this.keys!;
    const keySet = new Set(keys.map((k) => k.toLowerCase()));
    const keyWriters = keys.map((k) => this.writers.get(k.toLowerCase()) ?? writer(undefined));
    // MySQL 8.0.19+ names the new row with an alias (VALUES() is deprecated there); MariaDB only has VALUES()
    const { mariadb, major, minor, patch } = this.server;
    const alias = !mariadb && (major > 8 || (major === 8 && (minor > 0 || patch >= 19)));
    let i = 0;
    while (i < steps.length) {
      const step = steps[i];
      if (step.kind === 'delete') {
        const params: unknown[] = [];
        let n = 0;
        while (i < steps.length && steps[i].kind === 'delete' && n < MAX_ROWS) {
          const values = (steps[i] as Extract<Step, { kind: 'delete' }>).values;
          values.forEach((v, j) => params.push(keyWriters[j](v)));
          n++;
          i++;
        }
        const where =
          keys.length === 1
            ? `${quoteIdent(keys[0])} IN (${new Array(n).fill('?').join(', ')})`
            : new Array(n).fill(`(${keys.map((k) => `${quoteIdent(k)} = ?`).join(' AND ')})`).join(' OR ');
        yield [`DELETE FROM ${table} WHERE ${where}`, params];
        continue;
      }
      const columns = step.columns;
      const signature = columns.join('\0');
      const colWriters = columns.map((c) => this.writers.get(c.toLowerCase()) ?? writer(undefined));
      const params: unknown[] = [];
      let n = 0;
      let bytes = 0;
      while (i < steps.length && n < MAX_ROWS && bytes < MAX_BYTES) {
        const s = steps[i];
        if (s.kind !== 'upsert' || s.columns.join('\0') !== signature) break;
        for (let j = 0; j < s.values.length; j++) {
          const v = colWriters[j](s.values[j]);
          bytes += typeof v === 'string' ? v.length : Buffer.isBuffer(v) ? v.length * 2 : 8;
          params.push(v);
        }
        n++;
        i++;
      }
      const row = `(${columns.map(() => '?').join(', ')})`;
      if (keys.length === 0) {
        // append-only (a keyless source table): no row to look for
        yield [`INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) VALUES ${new Array(n).fill(row).join(', ')}`, params];
        continue;
      }
      const rest = columns.filter((c) => !keySet.has(c.toLowerCase()));
      const updates =
        rest.length === 0
          ? `${quoteIdent(keys[0])} = ${quoteIdent(keys[0])}`
          : rest.map((c) => `${quoteIdent(c)} = ${alias ? `new.${quoteIdent(c)}` : `VALUES(${quoteIdent(c)})`}`).join(', ');
      yield [
        `INSERT INTO ${table} (${columns.map(quoteIdent).join(', ')}) VALUES ${new Array(n).fill(row).join(', ')}${alias ? ' AS new' : ''} ON DUPLICATE KEY UPDATE ${updates}`,
        params,
      ];
    }
  }
}

export const mysqlSink = defineNode({
  type: 'mysql.sink',
  category: 'sink',
  title: 'MySQL sink',
  description:
    'Upserts records into a MySQL / MariaDB table by key columns (INSERT … ON DUPLICATE KEY UPDATE) and deletes on op d, one transaction per batch; creates the table with mapped types.',
  icon: 'database',
  configSchema,
  inputs: [{ name: 'in', required: true }],
  outputs: [],
  create: (ctx) => sinkPerTable(ctx, 'table', (c) => new MysqlSink(c)),
});

export default mysqlSink;
