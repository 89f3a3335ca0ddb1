/**
 * `schema: full` on mysql.source: the catalog facts beyond columns and key (nodes/shared/schema-full.ts),
 * read from information_schema once per table when the option asks for them. MariaDB prints a column
 * default as SQL (`'text'`, `0`, `NULL`, `current_timestamp()`); MySQL 8 prints a literal bare and marks an
 * expression DEFAULT_GENERATED in EXTRA: both are read into the same portable form.
 */
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { FullCheck, FullColumn, FullForeignKey, FullIndex, FullSchema, PortableDefault } from '../shared/schema-full.js';

type Queryable = Pool | PoolConnection;

export async function readFullSchema(q: Queryable, schema: string, table: string, mariadb: boolean): Promise<FullSchema> {
  const [cols] = await q.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, IS_NULLABLE AS nullable, COLUMN_DEFAULT AS def, COLUMN_TYPE AS type, DATA_TYPE AS dataType, EXTRA AS extra, COLUMN_COMMENT AS comment
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  const columns: FullColumn[] = cols.map((c) => {
    const col: FullColumn = { name: String(c.name), notNull: c.nullable === 'NO' };
    const d = portableDefault(c.def === null ? null : String(c.def), String(c.extra ?? ''), mariadb);
    if (d) col.default = d;
    if (String(c.dataType).toLowerCase() === 'enum') col.enumValues = enumValues(String(c.type));
    if (/\bauto_increment\b/i.test(String(c.extra ?? ''))) col.autoIncrement = true;
    if (c.comment) col.comment = String(c.comment);
    return col;
  });
  const [idx] = await q.query<RowDataPacket[]>(
    `SELECT INDEX_NAME AS idx, COLUMN_NAME AS col, NON_UNIQUE AS nonUnique, SUB_PART AS part FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME <> 'PRIMARY' ORDER BY INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const indexes = new Map<string, FullIndex>();
  for (const r of idx) {
    const name = String(r.idx);
    let i = indexes.get(name);
    if (!i) indexes.set(name, (i = { name, columns: [], unique: Number(r.nonUnique) === 0 }));
    // an expression index (MySQL 8) has no column name: left out of the index list as a whole below
    i.columns.push(r.col === null ? '' : String(r.col));
    (i.prefixes ??= []).push(r.part === null ? null : Number(r.part));
  }
  for (const i of indexes.values()) if (i.prefixes!.every((p) => p === null)) delete i.prefixes;
  const [fk] = await q.query<RowDataPacket[]>(
    `SELECT k.CONSTRAINT_NAME AS name, k.COLUMN_NAME AS col, k.REFERENCED_TABLE_NAME AS refTable, k.REFERENCED_COLUMN_NAME AS refCol,
            r.DELETE_RULE AS onDelete, r.UPDATE_RULE AS onUpdate
       FROM information_schema.KEY_COLUMN_USAGE k
       JOIN information_schema.REFERENTIAL_CONSTRAINTS r ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME
      WHERE k.TABLE_SCHEMA = ? AND k.TABLE_NAME = ? AND k.REFERENCED_TABLE_NAME IS NOT NULL
      ORDER BY k.CONSTRAINT_NAME, k.ORDINAL_POSITION`,
    [schema, table],
  );
  const foreignKeys = new Map<string, FullForeignKey>();
  for (const r of fk) {
    const name = String(r.name);
    let f = foreignKeys.get(name);
    if (!f) foreignKeys.set(name, (f = { name, columns: [], refTable: String(r.refTable), refColumns: [], onDelete: String(r.onDelete), onUpdate: String(r.onUpdate) }));
    f.columns.push(String(r.col));
    f.refColumns.push(String(r.refCol));
  }
  // CHECK_CONSTRAINTS: MariaDB 10.2+, MySQL 8.0.16+ (an older server has no such view: no checks)
  const [checkRows] = await q
    .query<RowDataPacket[]>(
      mariadb
        ? 'SELECT CONSTRAINT_NAME AS name, CHECK_CLAUSE AS clause, LEVEL AS level FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?'
        : `SELECT c.CONSTRAINT_NAME AS name, c.CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS c
             JOIN information_schema.TABLE_CONSTRAINTS t ON t.CONSTRAINT_SCHEMA = c.CONSTRAINT_SCHEMA AND t.CONSTRAINT_NAME = c.CONSTRAINT_NAME
            WHERE c.CONSTRAINT_SCHEMA = ? AND t.TABLE_NAME = ?`,
      [schema, table],
    )
    .catch(() => [[] as RowDataPacket[]] as const);
  const checks: FullCheck[] = checkRows
    .map((r) => ({ name: String(r.name), clause: String(r.clause) }))
    // MariaDB's JSON type is LONGTEXT with a json_valid check: the column is json already
    .filter((c) => !/^json_valid\(`(?:[^`]|``)+`\)$/i.test(c.clause.trim()));
  const [t] = await q.query<RowDataPacket[]>('SELECT TABLE_COMMENT AS comment FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [schema, table]);
  const full: FullSchema = { family: 'mysql', columns, indexes: [...indexes.values()], foreignKeys: [...foreignKeys.values()], checks };
  if (t[0]?.comment) full.comment = String(t[0].comment);
  return full;
}

/** COLUMN_DEFAULT in portable terms (undefined: no default) */
export function portableDefault(def: string | null, extra: string, mariadb: boolean): PortableDefault | undefined {
  if (def === null) return undefined;
  const text = def.trim();
  if (/^current_timestamp(\(\d*\))?$/i.test(text) || /^now\(\d*\)$/i.test(text)) return { kind: 'now' };
  if (mariadb) {
    if (/^NULL$/i.test(text)) return { kind: 'null' };
    const quoted = /^'((?:[^']|'')*)'$/s.exec(text);
    if (quoted) return { kind: 'literal', text: quoted[1].replaceAll("''", "'").replace(/\\(.)/g, '$1') };
    if (/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text)) return { kind: 'literal', text };
    return { kind: 'expression', text };
  }
  if (/DEFAULT_GENERATED/i.test(extra)) return { kind: 'expression', text };
  return { kind: 'literal', text: def };
}

/** `enum('a','b''c')` → ['a', "b'c"] */
export function enumValues(columnType: string): string[] {
  const inner = /^enum\((.*)\)$/is.exec(columnType.trim())?.[1] ?? '';
  return [...inner.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replaceAll("''", "'"));
}
