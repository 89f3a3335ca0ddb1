/**
 * The `postgres` reference table of core.denormalize (lookup mode): a PostgreSQL table read through a
 * small pool. One `SELECT ... WHERE column = ANY($1)` per chunk of `maxKeysPerQuery` keys, the keys cast
 * to the column's type (so an index on the column is used), rows in primary-key order. Values as
 * postgres.source reads them (types.ts). `from`: `{ type: postgres, connection | url, tls?, table }`.
 *
 * Join keys (nodes/shared/reference.ts): keys that cannot be a value of the column (`abc` for an integer
 * column) match nothing and are not sent; a numeric column's values join as numbers (1.50 meets 1.5);
 * columns that are neither numeric, boolean nor text are compared as text.
 */
import type pg from 'pg';
import { z } from 'zod';
import { ConfigError, type Value } from '../../runtime/index.js';
import { addRow, chunks, defineReference, joinKey, openReference, referenceColumn, type ReferenceOptions, type ReferenceTable } from '../shared/reference.js';
import { listTables, loadTable, type ColumnMeta, type TableMeta } from './catalog.js';
import { connectionFields, display, oneConnection, openPool, pgError, qualified, quoteIdent, resolveTarget, splitName, type Target } from './connection.js';
import { TYPE_INFO_SQL, TypeMapper, type TypeInfo } from './types.js';

export const postgresFrom = z
  .object({
    type: z.literal('postgres').describe('a table of a PostgreSQL database'),
    ...connectionFields,
    table: z.string().min(1).describe('the reference table: schema.table, or table (schema public)'),
  })
  .strict()
  .superRefine(oneConnection);

type PostgresFrom = z.output<typeof postgresFrom>;

type Key = NonNullable<ReturnType<typeof joinKey>>;

const INTEGER_RANGE: Record<string, bigint> = { int2: 32767n, int4: 2147483647n, int8: 9223372036854775807n };
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const BOOL = new Set(['1', '0', 'true', 'false', 't', 'f']);

/** the fields of `from` that connection.ts blames, reported as `from.*` */
const FROM_FIELDS = ['connection', 'url', 'tls', 'table'];

class PostgresReference implements ReferenceTable {
  queries = 0;
  private pool?: pg.Pool;
  private target?: Target;
  private meta?: TableMeta;
  private column?: ColumnMeta;
  private sql = '';
  private readonly mapper = new TypeMapper();

  constructor(
    private readonly from: PostgresFrom,
    private readonly options: ReferenceOptions,
  ) {}

  get label(): string {
    return `table ${this.meta?.id ?? this.from.table}${this.target ? ` at ${this.target.label}` : ''}`;
  }

  async open(): Promise<void> {
    await openReference(this, FROM_FIELDS, () => this.start());
  }

  private async start(): Promise<void> {
    const { from, options } = this;
    const { nodeId } = options;
    const name = splitName(from.table);
    if (!name) throw new ConfigError(nodeId, 'table', `${JSON.stringify(from.table)} is not a table name: write schema.table or table`);
    this.target = resolveTarget({ nodeId, connection: options.connection, files: options.files }, from);
    this.pool = await openPool(this.target, { flowName: 'denormalize', nodeId, max: 2 });
    const meta = await loadTable(this.pool, name).catch((err) => {
      throw pgError(nodeId, this.target!, err, { field: 'table' });
    });
    if (!meta) {
      const have = (await listTables(this.pool)).filter((t) => t.schema === name.schema).map(display);
      throw new ConfigError(nodeId, 'table', `table ${display(name)} not found at ${this.target.label}; ${have.length ? `tables there: ${have.slice(0, 20).join(', ')}` : `no table in schema ${name.schema}`}`);
    }
    this.meta = meta;
    const column = meta.columns[referenceColumn(nodeId, `table ${meta.id}`, meta.columns.map((c) => c.name), options.column)];
    this.column = column;
    const oids = this.mapper.unknown(meta.columns.map((c) => c.typeOid));
    if (oids.length > 0) this.mapper.learn((await this.pool.query<TypeInfo>(TYPE_INFO_SQL, [oids])).rows);
    const typed = ['N', 'B', 'S'].includes(column.category) && !column.array;
    const where = typed ? `${quoteIdent(column.name)} = ANY($1::${column.sqlType}[])` : `${quoteIdent(column.name)}::text = ANY($1::text[])`;
    const order = meta.pk.length > 0 ? ` ORDER BY ${meta.pk.map(quoteIdent).join(', ')}` : '';
    this.sql = `SELECT ${meta.columns.map((c) => quoteIdent(c.name)).join(', ')} FROM ${qualified(meta.name)} WHERE ${where}${order}`;
    const idx = await this.pool.query(
      'SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND a.attname = $2 LIMIT 1',
      [qualified(meta.name), column.name],
    );
    if (idx.rows.length === 0 || !typed) {
      options.log.warn(`from: column ${column.name} of table ${meta.id} has no usable index: every lookup query scans the table (CREATE INDEX ON ${qualified(meta.name)} (${quoteIdent(column.name)}))`);
    }
  }

  async lookup(keys: unknown[]): Promise<Map<Key, Value[]>> {
    const found = new Map<Key, Value[]>();
    const { pool, meta, column } = this;
    if (!pool || !meta || !column) throw new Error('lookup() before open()');
    const distinct = [...new Set(keys.map(joinKey).filter((k): k is Key => k !== null && k !== undefined && this.canMatch(k)))];
    const names = meta.columns.map((c) => c.name);
    const at = names.indexOf(column.name);
    for (const chunk of chunks(distinct, this.options.maxKeysPerQuery)) {
      let rows: unknown[][];
      try {
        rows = (await pool.query<unknown[]>({ text: this.sql, values: [chunk], rowMode: 'array', types: this.mapper.pgTypes })).rows;
      } catch (err) {
        throw pgError(this.options.nodeId, this.target!, err, { field: 'from.table', what: `looking up ${chunk.length} key(s) in ${this.label}` });
      }
      this.queries++;
      for (const row of rows) {
        const value: Value = {};
        for (let c = 0; c < names.length; c++) value[names[c]] = row[c];
        const jk = this.rowKey(row[at]);
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

  /** whether a join key can be a value of the column (others would make the cast fail) */
  private canMatch(k: string): boolean {
    const c = this.column!;
    if (c.array) return true;
    if (c.category === 'B') return BOOL.has(k);
    if (c.category !== 'N') return true;
    const limit = INTEGER_RANGE[c.typname];
    if (limit !== undefined) return /^[+-]?\d+$/.test(k) && BigInt(k) <= limit && BigInt(k) >= -limit - 1n;
    return NUMBER.test(k);
  }

  /** a row's join key; numeric values join as numbers (the text '1.50' of a numeric meets 1.5) */
  private rowKey(v: unknown): string | null | undefined {
    if (this.column!.category === 'N' && typeof v === 'string' && NUMBER.test(v)) {
      const n = Number(v);
      if (Number.isSafeInteger(n) || (Number.isFinite(n) && !Number.isInteger(n))) return String(n);
    }
    return joinKey(v);
  }
}

export const postgresReference = defineReference({
  type: 'postgres',
  schema: postgresFrom,
  create: (config, options) => new PostgresReference(config, options),
});
