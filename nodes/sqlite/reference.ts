/**
 * The `sqlite` reference table of core.denormalize (lookup mode): a table of a SQLite database file,
 * opened read-only.
 *
 * One `SELECT * FROM table WHERE column IN (...)` per chunk of keys, rows in rowid order (a WITHOUT
 * ROWID table: primary key order). Each key is bound in every form that has its join key (the string,
 * and the number when the string is one), so 1 and "1" find the row whatever the column's affinity.
 * The IN list is padded up to a power of two, so a handful of prepared statements serve every batch.
 * Values as sqlite.source reads them (a BLOB becomes `{ $base64 }`).
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import { ConfigError, fileMark, type Value } from '../../runtime/index.js';
import { addRow, defineReference, joinKey, openReference, referenceColumn, type ReferenceOptions, type ReferenceTable } from '../shared/reference.js';
import { fromSql, missingTable, openDatabase, quoteIdent, tableInfo, type DB } from './sql.js';

/** the fields of `from` that sqlite/sql.ts blames, reported as `from.*` */
const FROM_FIELDS = ['path', 'table'];

/** bound parameters per statement: well under SQLite's limit (32,766) */
const MAX_PARAMS = 16_384;

export const sqliteFrom = z
  .object({
    type: z.literal('sqlite').describe('a table of a SQLite database file'),
    path: z.string().min(1).describe('SQLite database file (read-only); a relative path is resolved against the working directory (in the server: against its first file root)').meta(fileMark('read')),
    table: z.string().min(1).describe('the reference table'),
  })
  .strict();

type SqliteFrom = z.output<typeof sqliteFrom>;

/** The forms a key is bound in: its join key, and the number when the join key is a number's text. */
function bindForms(key: string): (string | number)[] {
  const n = Number(key);
  return key !== '' && String(n) === key ? [key, n] : [key];
}

class SqliteReference implements ReferenceTable {
  queries = 0;
  private db?: DB;
  private column = '';
  private table = '';
  private orderBy = '';
  private readonly statements = new Map<number, Database.Statement<unknown[], Record<string, unknown>>>();

  constructor(
    private readonly from: SqliteFrom,
    private readonly options: ReferenceOptions,
  ) {}

  get label(): string {
    return `table ${this.table || this.from.table} of ${this.from.path}`;
  }

  async open(): Promise<void> {
    await openReference(this, FROM_FIELDS, async () => this.start());
  }

  private start(): void {
    const { from, options } = this;
    this.db = openDatabase(options.nodeId, from.path, options.files.resolve('from.path', from.path), from.table, 'read');
    const info = tableInfo(this.db, from.table);
    if (!info) throw missingTable(options.nodeId, this.db, from.table, from.path);
    this.table = info.name;
    const column = info.columns[referenceColumn(options.nodeId, `table ${info.name} in ${from.path}`, info.columns.map((c) => c.name), options.column)];
    this.column = column.name;
    this.orderBy = info.hasRowid ? 'rowid' : info.columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => quoteIdent(c.name)).join(', ');
    if (!this.indexed(column.name)) {
      options.log.warn(
        `from: column ${column.name} of table ${info.name} has no index: every lookup query scans the table (CREATE INDEX ON ${quoteIdent(info.name)} (${quoteIdent(column.name)}))`,
      );
    }
  }

  async lookup(keys: unknown[]): Promise<Map<string, Value[]>> {
    const found = new Map<string, Value[]>();
    const params: (string | number)[] = [];
    const run = () => {
      if (params.length === 0) return;
      for (const row of this.statement(params.length).all(...padded(params))) {
        const value: Value = {};
        for (const [k, v] of Object.entries(row)) value[k] = fromSql(v);
        const jk = joinKey(row[this.column]);
        if (typeof jk !== 'string') continue;
        addRow(found, jk, value);
      }
      this.queries++;
      params.length = 0;
    };
    const perQuery = Math.min(this.options.maxKeysPerQuery, MAX_PARAMS / 2);
    let inQuery = 0;
    for (const key of keys) {
      const jk = joinKey(key);
      if (typeof jk !== 'string') continue;
      params.push(...bindForms(jk));
      if (++inQuery >= perQuery) {
        run();
        inQuery = 0;
      }
    }
    run();
    return found;
  }

  async close(): Promise<void> {
    this.statements.clear();
    this.db?.close();
    this.db = undefined;
  }

  /** a statement with room for `n` parameters, rounded up to a power of two */
  private statement(n: number): Database.Statement<unknown[], Record<string, unknown>> {
    const size = roundUp(n);
    let stmt = this.statements.get(size);
    if (!stmt) {
      if (!this.db) throw new Error('lookup() before open()');
      const list = new Array(size).fill('?').join(', ');
      stmt = this.db.prepare<unknown[], Record<string, unknown>>(
        `SELECT * FROM ${quoteIdent(this.table)} WHERE ${quoteIdent(this.column)} IN (${list}) ORDER BY ${this.orderBy}`,
      );
      this.statements.set(size, stmt);
    }
    return stmt;
  }

  private indexed(column: string): boolean {
    const lower = column.toLowerCase();
    const db = this.db!;
    const info = tableInfo(db, this.table)!;
    if (info.hasRowid && info.columns.some((c) => c.pk === 1 && c.name.toLowerCase() === lower && c.type.toUpperCase() === 'INTEGER')) return true;
    const indexes = db.prepare<[string], { name: string }>('SELECT name FROM pragma_index_list(?)').all(this.table);
    return indexes.some((ix) => {
      const first = db.prepare<[string], { name: string | null }>('SELECT name FROM pragma_index_info(?) ORDER BY seqno LIMIT 1').get(ix.name);
      return first?.name?.toLowerCase() === lower;
    });
  }
}

const roundUp = (n: number) => Math.max(8, 2 ** Math.ceil(Math.log2(n)));

/** the parameters padded to the statement's size with copies of the last one (an IN list ignores repeats) */
function padded(params: (string | number)[]): (string | number)[] {
  const size = roundUp(params.length);
  if (size === params.length) return params;
  const out = params.slice();
  while (out.length < size) out.push(params[params.length - 1]);
  return out;
}

export const sqliteReference = defineReference({
  type: 'sqlite',
  schema: sqliteFrom,
  create: (config, options) => new SqliteReference(config, options),
});
