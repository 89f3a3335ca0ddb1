/**
 * sqlite.source: reads a table of a SQLite database file, opened read-only.
 *
 * - snapshot: keyset pagination on the key column (`WHERE key > ? ORDER BY key LIMIT chunk`), records op
 *   r; the position is the last key read, so a resumed run continues mid-table; ends after the last chunk.
 * - incremental: polls the rows whose key column (an increasing column: id, updated_at ...) is past the
 *   position, ordered by (key, rowid); the position is `{ value, rowid }`, so rows sharing a value are never
 *   lost or read twice across chunks. Records op u. `follow: true` polls until the flow stops (the wait
 *   ends at once when it does); `follow: false`, and any test run, ends when caught up.
 * - The key column defaults to the single-column primary key, else the rowid. Rows whose key is NULL are
 *   not read (a warning says so). When the key column is not unique (snapshot) the rowid breaks ties too.
 * - Values as SQLite stores them; a BLOB becomes `{ $base64: '...' }` (see sql.ts). key = the key value;
 *   meta.keyColumns names the key column when it is a unique column (sinks creating a table use it).
 */
import { z } from 'zod';
import { ADVANCED, fileMark, ui } from '../../runtime/index.js';
import { defineNode, type NodeContext, type SourceBatch, type SourceInstance, type SourceProgress, ConfigError, NodeError, type SluiceRecord, type Value } from '../../runtime/index.js';
import { sleep } from '../shared/abort.js';
import { isBase64Value, decodeBinary } from '../shared/binary.js';
import { fromSql, missingTable, openDatabase, quoteIdent, tableInfo, type DB } from './sql.js';
import type Database from 'better-sqlite3';
import { openOrClose } from '../shared/open.js';

const configSchema = z
  .object({
    path: z.string().min(1).describe('SQLite database file; a relative path is resolved against the working directory (in the server: against its first file root)').meta(fileMark('read')),
    table: z.string().min(1).describe('table to read'),
    mode: z
      .enum(['snapshot', 'incremental'])
      .default('snapshot')
      .describe('snapshot: read the table once, in key order; incremental: keep reading rows whose key column grows past the last one read'),
    keyColumn: z
      .string()
      .min(1)
      .optional()
      .describe('column to page and order by (incremental: an increasing column such as id or updated_at); default: the primary key, else the rowid'),
    chunkSize: z.number().int().min(1).max(100_000).optional().describe('rows per query and batch; default: the flow batch size').meta(ui({ group: ADVANCED })),
    pollIntervalMs: z
      .number()
      .int()
      .min(1)
      .default(1000)
      .describe('incremental: wait between polls that found no new rows (ms)')
      .meta(ui({ showWhen: { mode: 'incremental' } })),
    follow: z
      .boolean()
      .default(true)
      .describe('incremental: keep polling until the flow stops; false: end once caught up')
      .meta(ui({ showWhen: { mode: 'incremental' } })),
  })
  .strict();

type Config = z.output<typeof configSchema>;

const ROWID_NAMES = ['rowid', '_rowid_', 'oid'];

/** `{ value, rowid }` when the rowid breaks ties, else the key value alone */
type Position = unknown;

class SqliteSource implements SourceInstance {
  readonly kind = 'source' as const;
  private db?: DB;
  private first?: Database.Statement<[number], unknown[]>;
  private next?: Database.Statement<unknown[], unknown[]>;
  /** names of the value columns, and where they start in a raw row */
  private columns: string[] = [];
  private valueStart = 0;
  private keyIndex = 0;
  private tie = false;
  /** meta.keyColumns: the key column's name when the key is a column (not the rowid) */
  private keyColumns?: string[];
  private last: { value: unknown; rowid?: number } | undefined;
  private done = false;
  /** progress: rows before the resumed position, rows read since, the table's rows (snapshot) */
  private before = 0;
  private read_ = 0;
  private estimated?: number;
  private caughtUp = false;

  constructor(private readonly ctx: NodeContext<Config>) {}

  async open(position: unknown): Promise<void> {
    await openOrClose(() => this.start(position), () => this.close());
  }

  private start(position: unknown): void {
    const { config, nodeId } = this.ctx;
    const db = openDatabase(nodeId, config.path, this.ctx.files.resolve('path', config.path), config.table, 'read');
    this.db = db;
    this.done = false;
    const info = tableInfo(db, config.table);
    if (!info) throw missingTable(nodeId, db, config.table, config.path);

    // which column, and is it unique / the rowid itself
    const pk = info.columns.filter((c) => c.pk > 0);
    let keyName: string | undefined; // undefined: the rowid
    if (config.keyColumn !== undefined) {
      const col = info.columns.find((c) => c.name.toLowerCase() === config.keyColumn!.toLowerCase());
      if (col) keyName = col.name;
      else if (!ROWID_NAMES.includes(config.keyColumn.toLowerCase()) || !info.hasRowid) {
        throw new ConfigError(nodeId, 'keyColumn', `table ${info.name} has no column ${JSON.stringify(config.keyColumn)}; columns: ${info.columns.map((c) => c.name).join(', ')}`);
      }
    } else if (pk.length === 1) {
      keyName = pk[0].name;
    } else if (!info.hasRowid) {
      throw new ConfigError(nodeId, 'keyColumn', `table ${info.name} has a composite primary key and no rowid: set keyColumn`);
    }
    const singlePk = pk.length === 1 ? pk[0] : undefined;
    const keyIsRowid = keyName === undefined || (info.hasRowid && singlePk?.name === keyName && singlePk.type.toUpperCase() === 'INTEGER');
    const keyUnique = keyIsRowid || singlePk?.name === keyName;
    this.tie = config.mode === 'incremental' ? !keyIsRowid && info.hasRowid : !keyUnique;
    if (!keyUnique && !info.hasRowid) {
      throw new ConfigError(nodeId, 'keyColumn', `${keyName} is not unique and table ${info.name} has no rowid to order rows sharing a value: choose a unique keyColumn`);
    }

    const table = quoteIdent(info.name);
    const key = keyName === undefined ? 'rowid' : quoteIdent(keyName);
    const select = `SELECT ${info.hasRowid ? 'rowid, ' : ''}* FROM ${table} WHERE ${key} IS NOT NULL`;
    const order = `ORDER BY ${key}${this.tie ? ', rowid' : ''} LIMIT ?`;
    this.first = db.prepare<[number], unknown[]>(`${select} ${order}`).raw(true).safeIntegers(true);
    this.next = db.prepare<unknown[], unknown[]>(`${select} AND ${this.tie ? `(${key}, rowid) > (?, ?)` : `${key} > ?`} ${order}`).raw(true).safeIntegers(true);
    this.valueStart = info.hasRowid ? 1 : 0;
    this.columns = this.first.columns().slice(this.valueStart).map((c) => c.name);
    this.keyIndex = keyName === undefined ? 0 : this.valueStart + this.columns.indexOf(keyName);
    this.keyColumns = keyName !== undefined && keyUnique ? [keyName] : undefined;

    if (keyName !== undefined && !keyIsRowid && db.prepare(`SELECT 1 FROM ${table} WHERE ${key} IS NULL LIMIT 1`).get()) {
      this.ctx.log.warn(`table ${info.name} has rows whose ${keyName} is NULL: they are not read`);
    }
    this.last = this.parsePosition(position);
    this.read_ = 0;
    if (config.mode === 'snapshot') {
      // exact counts (SQLite has no cheap estimate): one scan of the key index at open
      const count = (where: string, args: unknown[]) => (db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${key} IS NOT NULL${where}`).get(...args) as { n: number }).n;
      this.estimated = count('', []);
      this.before = this.last === undefined ? 0 : count(` AND ${this.tie ? `(${key}, rowid) <= (?, ?)` : `${key} <= ?`}`, this.bindPosition(this.last));
    }
  }

  progress(): SourceProgress {
    const { config } = this.ctx;
    const done = this.before + this.read_;
    const phase =
      config.mode === 'incremental' ? (this.caughtUp ? 'streaming' : 'snapshot') : this.done ? 'done' : done > 0 ? 'snapshot' : 'pending';
    return { tables: [{ name: config.table, phase, done, ...(this.estimated !== undefined ? { estimated: this.estimated } : {}) }] };
  }

  async read(): Promise<SourceBatch | null> {
    const { config, settings, signal } = this.ctx;
    if (!this.db || !this.first || !this.next) throw new NodeError(this.ctx.nodeId, 'read() before open()');
    const chunk = config.chunkSize ?? settings.batchSize;
    const follow = config.mode === 'incremental' && config.follow && !this.ctx.preview;
    while (!this.done && !signal.aborted) {
      const rows = this.last === undefined ? this.first.all(chunk) : this.next.all(...this.bindPosition(this.last), chunk);
      if (rows.length > 0) {
        if (config.mode === 'snapshot' && rows.length < chunk) this.done = true;
        return this.batch(rows);
      }
      this.caughtUp = true;
      if (!follow) {
        this.done = true;
        break;
      }
      if (!(await sleep(config.pollIntervalMs, signal))) break;
    }
    return null;
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = this.first = this.next = undefined;
    db?.close();
  }

  private batch(rows: unknown[][]): SourceBatch {
    const { config, nodeId } = this.ctx;
    const op = config.mode === 'snapshot' ? 'r' : 'u';
    const records: SluiceRecord[] = [];
    let position: Position;
    for (const row of rows) {
      const value: Value = {};
      for (let i = 0; i < this.columns.length; i++) value[this.columns[i]] = fromSql(row[this.valueStart + i]);
      const key = fromSql(row[this.keyIndex]);
      const rowid = Number(row[0]);
      this.last = this.tie ? { value: key, rowid } : { value: key };
      position = this.tie ? { value: key, rowid } : key;
      records.push({ key, value, op, meta: { source: nodeId, table: config.table, position, ...(this.keyColumns ? { keyColumns: this.keyColumns } : {}) } });
    }
    this.read_ += rows.length;
    return { records, position };
  }

  private bindPosition(last: { value: unknown; rowid?: number }): unknown[] {
    // an integer key beyond 2^53 is a decimal string in records: bound as the integer it is
    const value = isBase64Value(last.value) ? decodeBinary(last.value) : typeof last.value === 'string' && /^-?\d{16,19}$/.test(last.value) ? BigInt(last.value) : last.value;
    return this.tie ? [value, last.rowid] : [value];
  }

  private parsePosition(position: unknown): { value: unknown; rowid?: number } | undefined {
    if (position === undefined || position === null) return undefined;
    const scalar = (v: unknown) => typeof v === 'number' || typeof v === 'string' || isBase64Value(v);
    if (this.tie) {
      const p = position as { value?: unknown; rowid?: unknown };
      if (typeof p === 'object' && scalar(p.value) && typeof p.rowid === 'number') return { value: p.value, rowid: p.rowid };
    } else if (scalar(position)) {
      return { value: position };
    }
    throw new NodeError(
      this.ctx.nodeId,
      `position ${JSON.stringify(position)} does not fit ${this.tie ? '{ value, rowid }' : 'a key value'}: was mode or keyColumn changed? Reset the flow's position`,
    );
  }
}

export const sqliteSource = defineNode({
  type: 'sqlite.source',
  category: 'source',
  title: 'SQLite source',
  description:
    'Reads a SQLite table: a snapshot in key order (resumable mid-table), or incremental polling of rows whose key column grew. BLOBs become { $base64 }.',
  icon: 'database',
  configSchema,
  inputs: [],
  outputs: [{ name: 'out', description: 'one record per row: op r (snapshot) or u (incremental); key = the key column value' }],
  create: (ctx) => new SqliteSource(ctx),
});

export default sqliteSource;
