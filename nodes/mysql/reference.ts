/**
 * The `mysql` reference table of core.denormalize (lookup mode): a MySQL / MariaDB table read through a
 * small pool. One `SELECT … WHERE column IN (…)` per chunk of `maxKeysPerQuery` keys, rows in key
 * order (the primary key, else the table's order). Keys are bound as their join key (a number, or the
 * text); rows are grouped by the join key of their column, so 1 and "1" meet. Values as mysql.source reads
 * them (types.ts). `from`: `{ type: mysql, connection | url, tls?, table: 'db.table' | 'table' }`.
 */
import { z } from 'zod';
import type { Pool, RowDataPacket } from 'mysql2/promise';
import { ConfigError, type Value } from '../../runtime/index.js';
import { addRow, chunks, defineReference, joinKey, openReference, referenceColumn, type ReferenceOptions, type ReferenceTable } from '../shared/reference.js';
import { connectionFields, oneConnection, openPool, qualified, quoteIdent, resolveTarget, statementError, type Target } from './connection.js';
import { describeTable, listTables, rowReader, type TableInfo } from './types.js';

export const mysqlFrom = z
  .object({
    type: z.literal('mysql').describe('a table of a MySQL or MariaDB database'),
    ...connectionFields,
    table: z.string().min(1).describe("the reference table: 'db.table', or 'table' in the connection's database"),
  })
  .strict()
  .superRefine(oneConnection);

type MysqlFrom = z.output<typeof mysqlFrom>;

/** whatever joinKey gives for a value that can match */
type Key = NonNullable<ReturnType<typeof joinKey>>;

/** the fields of `from` that connection.ts blames, reported as `from.*` */
const FROM_FIELDS = ['connection', 'url', 'tls', 'table'];

class MysqlReference implements ReferenceTable {
  queries = 0;
  private pool?: Pool;
  private target?: Target;
  private info?: TableInfo;
  private sql = '';
  private column = '';
  private read?: ReturnType<typeof rowReader>;
  private columnIndex = 0;

  constructor(
    private readonly from: MysqlFrom,
    private readonly options: ReferenceOptions,
  ) {}

  get label(): string {
    return `table ${this.info ? `${this.info.schema}.${this.info.name}` : this.from.table}${this.target ? ` at ${this.target.label}` : ''}`;
  }

  async open(): Promise<void> {
    await openReference(this, FROM_FIELDS, () => this.start());
  }

  private async start(): Promise<void> {
    const { from, options } = this;
    const { nodeId } = options;
    this.target = resolveTarget({ nodeId, connection: options.connection, files: options.files }, from);
    const dot = from.table.indexOf('.');
    const schema = dot >= 0 ? from.table.slice(0, dot) : this.target.database;
    const table = dot >= 0 ? from.table.slice(dot + 1) : from.table;
    if (!schema) throw new ConfigError(nodeId, 'table', `${JSON.stringify(from.table)} names no database and the ${this.target.via} has none: write 'database.${from.table}'`);
    const { pool, server } = await openPool(nodeId, this.target, 2);
    this.pool = pool;
    let info: TableInfo | undefined;
    try {
      info = await describeTable(pool, schema, table, server.mariadb);
      if (!info) {
        const have = (await listTables(pool, schema)).map(([, t]) => t);
        throw new ConfigError(nodeId, 'table', `table ${schema}.${table} not found at ${this.target.label}; ${have.length ? `tables: ${have.join(', ')}` : `database ${schema} has no tables`}`);
      }
    } catch (err) {
      throw statementError(nodeId, 'table', this.target, err, `reading table ${schema}.${table}`);
    }
    this.info = info;
    const column = info.columns[referenceColumn(nodeId, `table ${schema}.${table}`, info.columns.map((c) => c.name), options.column)];
    this.column = column.name;
    this.columnIndex = info.columns.indexOf(column);
    this.read = rowReader(info.columns);
    const order = info.key.length > 0 ? ` ORDER BY ${info.key.map(quoteIdent).join(', ')}` : '';
    this.sql = `SELECT ${info.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${qualified(schema, table)} WHERE ${quoteIdent(column.name)} IN (?)${order}`;
    const [idx] = await pool.query<RowDataPacket[]>(
      'SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ? AND SEQ_IN_INDEX = 1 LIMIT 1',
      [schema, table, column.name],
    );
    if (idx.length === 0) {
      options.log.warn(`from: column ${column.name} of table ${schema}.${table} has no index: every lookup query scans the table (CREATE INDEX ... ON ${qualified(schema, table)} (${quoteIdent(column.name)}))`);
    }
  }

  async lookup(keys: unknown[]): Promise<Map<Key, Value[]>> {
    const found = new Map<Key, Value[]>();
    if (!this.pool || !this.read) throw new Error('lookup() before open()');
    const distinct = [...new Set(keys.map(joinKey).filter((k): k is Key => k !== null && k !== undefined))];
    for (const chunk of chunks(distinct, this.options.maxKeysPerQuery)) {
      let rows: unknown[][];
      try {
        [rows] = (await this.pool.query<RowDataPacket[][]>({ sql: this.sql, rowsAsArray: true }, [chunk])) as unknown as [unknown[][]];
      } catch (err) {
        throw statementError(this.options.nodeId, 'from.table', this.target!, err, `looking up ${chunk.length} key(s) in ${this.label}`);
      }
      this.queries++;
      for (const row of rows) {
        const value = this.read.fromArray(row);
        const jk = joinKey(value[this.column] ?? row[this.columnIndex]);
        if (jk === null || jk === undefined) continue;
        addRow(found, jk, value);
      }
    }
    return found;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = undefined;
    await pool?.end().catch(() => undefined);
  }
}

export const mysqlReference = defineReference({
  type: 'mysql',
  schema: mysqlFrom,
  create: (config, options) => new MysqlReference(config, options),
});
