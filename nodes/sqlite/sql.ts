/**
 * What sqlite.source and sqlite.sink share: opening a database with a clear error, identifier quoting,
 * table introspection, and the mapping between record values and SQLite values.
 *
 * Values, SQLite → record (source): INTEGER → number (beyond ±2^53 its exact decimal string), REAL → number, TEXT → string, NULL → null,
 * BLOB → `{ $base64: '...' }` (see nodes/shared/binary.ts): records never hold a Buffer.
 *
 * Values, record → SQLite (sink): see the table at the top of sink.ts (toSql, sqlTypeOf below).
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { ConfigError } from '../../runtime/index.js';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';
import type { ColumnSpec } from '../shared/columns.js';
import { isGeometryValue, toEwkb } from '../shared/geometry.js';
import { columnType } from '../shared/type-targets.js';

export type DB = Database.Database;
export type SqlValue = number | bigint | string | Buffer | null;

/** how long a statement waits for a lock held by another connection (busy_timeout) */
export const BUSY_TIMEOUT_MS = 5000;

/** `a"b` → `"a""b"` */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/**
 * Opens a database file. Read-only: the file must exist (ConfigError naming the node, path and table
 * otherwise). Read-write: created when missing, WAL journal.
 */
export function openDatabase(nodeId: string, path: string, absPath: string, table: string, mode: 'read' | 'write'): DB {
  if (mode === 'read' && !existsSync(absPath)) {
    throw new ConfigError(nodeId, 'path', `cannot read table ${JSON.stringify(table)}: database file not found: ${path} (${absPath})`);
  }
  let db: DB | undefined;
  try {
    db = new Database(absPath, { readonly: mode === 'read', fileMustExist: mode === 'read', timeout: BUSY_TIMEOUT_MS });
    // the first statement reads the header: a file that is not a database fails here
    db.prepare('SELECT count(*) FROM sqlite_schema').get();
    if (mode === 'write') db.pragma('journal_mode = WAL');
    return db;
  } catch (err) {
    db?.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_NOTADB') throw new ConfigError(nodeId, 'path', `${path} is not a SQLite database`);
    if (code === 'SQLITE_CANTOPEN') throw new ConfigError(nodeId, 'path', `cannot open database ${path} (${absPath})`);
    throw err;
  }
}

export function listTables(db: DB): string[] {
  return db
    .prepare<[], { name: string }>("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name")
    .all()
    .map((r) => r.name);
}

export interface TableInfo {
  /** the table's own name as stored (table names are case-insensitive in SQLite) */
  name: string;
  columns: { name: string; type: string; pk: number }[];
  /** false for a WITHOUT ROWID table */
  hasRowid: boolean;
}

/** Columns and rowid-ness of a table, or undefined when there is no such table. */
export function tableInfo(db: DB, table: string): TableInfo | undefined {
  const row = db
    .prepare<[string], { name: string; wr: number }>("SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' AND name = ? COLLATE NOCASE")
    .get(table);
  if (!row) return undefined;
  const columns = db.prepare<[string], { name: string; type: string; pk: number }>('SELECT name, type, pk FROM pragma_table_info(?)').all(row.name);
  return { name: row.name, columns, hasRowid: row.wr === 0 };
}

/** ConfigError for a table that does not exist, listing those that do. */
export function missingTable(nodeId: string, db: DB, table: string, path: string): ConfigError {
  const tables = listTables(db);
  const have = tables.length === 0 ? 'the database has no tables' : `tables: ${tables.join(', ')}`;
  return new ConfigError(nodeId, 'table', `table ${JSON.stringify(table)} not found in ${path}; ${have}`);
}

/** Sets of columns (lowercased) that are unique in the table: the primary key and each UNIQUE index. */
export function uniqueColumnSets(db: DB, info: TableInfo): string[][] {
  const sets: string[][] = [];
  const pk = info.columns.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk);
  if (pk.length > 0) sets.push(pk.map((c) => c.name.toLowerCase()));
  const indexes = db.prepare<[string], { name: string; unique: number; partial: number }>('SELECT name, "unique", partial FROM pragma_index_list(?)').all(info.name);
  for (const ix of indexes) {
    if (!ix.unique || ix.partial) continue;
    const cols = db.prepare<[string], { name: string | null }>('SELECT name FROM pragma_index_info(?)').all(ix.name);
    if (cols.every((c) => c.name !== null)) sets.push(cols.map((c) => (c.name as string).toLowerCase()));
  }
  return sets;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A value read from SQLite as a record value. */
export function fromSql(v: unknown): unknown {
  // statements read integers as bigint (safeIntegers): a number within ±2^53, else its exact decimal text
  if (typeof v === 'bigint') return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v.toString();
  return Buffer.isBuffer(v) ? encodeBinary(v) : v;
}

/** A record value as a bindable SQLite value (table at the top of sink.ts). */
export function toSql(v: unknown): SqlValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'number':
      // better-sqlite3 binds a JS number as a REAL, which a TEXT column stores as '7.0': a whole number
      // goes as an integer (what an INTEGER or a REAL column makes of it is unchanged)
      return Number.isSafeInteger(v) ? BigInt(v) : v;
    case 'bigint':
    case 'string':
      return v;
    case 'boolean':
      return v ? 1n : 0n;
    case 'object':
      if (isBase64Value(v)) return decodeBinary(v);
      // EWKB: the WKB with the SRID kept in it (nodes/shared/geometry.ts)
      if (isGeometryValue(v)) return toEwkb(v);
      if (Buffer.isBuffer(v)) return v;
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (v instanceof Date) return v.toISOString();
      return JSON.stringify(v);
    default:
      return String(v);
  }
}

/**
 * The declared type a new column gets from a source's declared column (meta.schema, conversion mode).
 * Only INTEGER, REAL, BLOB and TEXT: any other name (DECIMAL, DATE) gives NUMERIC affinity, which turns
 * '12.30' into 12.3 and '00123' into 123. Exact decimals stay TEXT, digit for digit. A 64-bit unsigned
 * integer gets no declared type (''): with an integer or numeric affinity SQLite would store a value
 * beyond 2^63 − 1 as a REAL, without one it stores what it is given — integers up to 2^63 − 1 as
 * INTEGER (toSql binds whole numbers as integers), larger ones as their exact decimal TEXT. Read from
 * the table in nodes/shared/type-targets.ts.
 */
export function sqlTypeForSpec(spec: ColumnSpec): 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB' | '' {
  return columnType('sqlite', spec) as 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB' | '';
}

/** The declared type a new column gets from a value; undefined for null (no information). */
export function sqlTypeOf(v: unknown): 'INTEGER' | 'REAL' | 'TEXT' | 'BLOB' | undefined {
  if (v === null || v === undefined) return undefined;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? 'INTEGER' : 'REAL';
    case 'bigint':
    case 'boolean':
      return 'INTEGER';
    case 'string':
      return 'TEXT';
    case 'object':
      return isBase64Value(v) || v instanceof Uint8Array || isGeometryValue(v) ? 'BLOB' : 'TEXT';
    default:
      return 'TEXT';
  }
}
