/**
 * What postgres.source and postgres.sink read from the system catalog: which tables a list of names and
 * patterns (`public.*`) means, each table's columns with their types, primary key, unique column sets
 * and replica identity.
 */
import type pg from 'pg';
import { ConfigError } from '../../runtime/index.js';
import { display, quoteIdent, splitName, type TableName } from './connection.js';
import { kindOf, type ColumnType, type TypeMapper } from './types.js';
import type { TableSchema } from '../shared/columns.js';

export interface ColumnMeta extends ColumnType {
  typeOid: number;
  /** pg_attribute.atttypmod: varchar(n) n + 4, numeric(p,s) ((p << 16) | s) + 4, timestamp(f) f; -1 for none */
  typeMod: number;
  /** pg_type.typname (`int4`, `numeric`, `text` ...) and typcategory (N numeric, S string, B boolean ...) */
  typname: string;
  category: string;
  notNull: boolean;
  hasDefault: boolean;
}

export interface TableMeta {
  name: TableName;
  /** `schema.table`: meta.table of the records */
  id: string;
  /** columns in table order, without generated columns (logical replication does not send them) */
  columns: ColumnMeta[];
  /** primary key columns in key order (empty: none); for a table read by ctid, the record key columns given in keys (maybe none) */
  pk: string[];
  /** no primary key: the snapshot reads it in ranges of ctid (blocks), see snapshot.ts */
  ctid?: boolean;
  /** column sets with a PRIMARY KEY or UNIQUE (non-partial) index */
  uniqueSets: string[][];
  /** relreplident: d default (the primary key), n nothing, f full, i an index */
  replicaIdentity: 'd' | 'n' | 'f' | 'i';
}

type Queryable = Pick<pg.ClientBase, 'query'>;

const USER_TABLES = `SELECT n.nspname AS schema, c.relname AS name
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  ORDER BY 1, 2`;

export async function listTables(q: Queryable): Promise<TableName[]> {
  return (await q.query<TableName>(USER_TABLES)).rows;
}

const globToRegex = (glob: string) => new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.')}$`);

/**
 * The tables `patterns` name, in order of first match and without duplicates. A pattern is
 * `schema.table`, `table` (schema public) or either part with `*` / `?` wildcards (`public.*`,
 * `sales.order_*`). A plain name that does not exist, or a pattern that matches nothing, is a
 * ConfigError on `field` listing what does exist.
 */
export async function resolveTables(q: Queryable, nodeId: string, field: string, patterns: string[]): Promise<TableName[]> {
  const all = await listTables(q);
  const out: TableName[] = [];
  const seen = new Set<string>();
  for (const pattern of patterns) {
    const name = splitName(pattern);
    if (!name) throw new ConfigError(nodeId, field, `${JSON.stringify(pattern)} is not a table name or pattern: write schema.table, table, or a pattern such as public.*`);
    const s = globToRegex(name.schema);
    const t = globToRegex(name.name);
    const hits = all.filter((x) => s.test(x.schema) && t.test(x.name));
    if (hits.length === 0) {
      const inSchema = all.filter((x) => s.test(x.schema)).map(display);
      const have = inSchema.length > 0 ? `tables there: ${inSchema.slice(0, 20).join(', ')}${inSchema.length > 20 ? ' ...' : ''}` : `no table in schema ${name.schema}`;
      const what = /[*?]/.test(pattern) ? `pattern ${JSON.stringify(pattern)} matches no table` : `table ${display(name)} not found`;
      throw new ConfigError(nodeId, field, `${what}; ${have}`);
    }
    for (const h of hits) {
      const id = display(h);
      if (!seen.has(id)) {
        seen.add(id);
        out.push(h);
      }
    }
  }
  return out;
}

const COLUMNS = `SELECT a.attname AS name, a.atttypid::int AS "typeOid", a.atttypmod AS "typeMod", format_type(a.atttypid, a.atttypmod) AS "sqlType",
    t.typname, t.typcategory, et.typname AS elem, a.attnotnull AS "notNull", a.atthasdef AS "hasDefault", a.attgenerated <> '' AS generated
  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid LEFT JOIN pg_type et ON et.oid = t.typelem AND t.typcategory = 'A'
  WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`;

const INDEXES = `SELECT i.indisprimary AS primary, array_agg(a.attname::text ORDER BY k.ord) AS columns
  FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indrelid = $1::regclass AND i.indisunique AND i.indpred IS NULL AND i.indisvalid
  GROUP BY i.indexrelid, i.indisprimary ORDER BY i.indisprimary DESC`;

/** The table's columns, keys and replica identity; undefined when there is no such table. */
export async function loadTable(q: Queryable, name: TableName): Promise<TableMeta | undefined> {
  const rel = `${quoteIdent(name.schema)}.${quoteIdent(name.name)}`;
  const found = await q.query<{ relreplident: string }>('SELECT relreplident FROM pg_class WHERE oid = to_regclass($1)', [rel]);
  if (found.rows.length === 0) return undefined;
  const cols = await q.query<{ name: string; typeOid: number; typeMod: number; sqlType: string; typname: string; typcategory: string; elem: string | null; notNull: boolean; hasDefault: boolean; generated: boolean }>(COLUMNS, [rel]);
  const idx = await q.query<{ primary: boolean; columns: string[] }>(INDEXES, [rel]);
  const columns: ColumnMeta[] = cols.rows
    .filter((c) => !c.generated)
    .map((c) => {
      const array = c.typcategory === 'A' && c.elem !== null;
      return {
        name: c.name,
        typeOid: c.typeOid,
        typeMod: c.typeMod,
        typname: c.typname,
        category: c.typcategory,
        sqlType: c.sqlType,
        kind: array ? 'other' : kindOf(c.typname),
        array,
        elemKind: array ? kindOf(c.elem!) : 'other',
        notNull: c.notNull,
        hasDefault: c.hasDefault,
      };
    });
  const pk = idx.rows.find((r) => r.primary)?.columns ?? [];
  return {
    name,
    id: display(name),
    columns,
    pk,
    uniqueSets: idx.rows.map((r) => r.columns),
    replicaIdentity: (found.rows[0].relreplident as TableMeta['replicaIdentity']) ?? 'd',
  };
}

/**
 * The table's declared columns in the neutral form of nodes/shared/columns.ts (postgres.source puts it
 * in meta.schema): kinds as `mapper` reads each type, so the mapper must have learned the table's types.
 */
export function tableSchema(t: TableMeta, mapper: TypeMapper): TableSchema {
  return { table: t.id, key: [...t.pk], columns: t.columns.map((c) => mapper.columnSpec(c.name, c.typeOid, c.typeMod, !c.notNull, c.sqlType)) };
}
