/**
 * Tables and values for the mysql.* nodes: table introspection (information_schema) and the mapping
 * between MySQL values and record values, in both directions. The snapshot (mysql2 text protocol) and
 * the binlog (zongji) hand over the same column in different shapes; both go through `reader(column)`
 * so a row reads the same whichever way it came.
 *
 * MySQL → record (sources; mysql2 and zongji run with the options in connection.ts):
 *
 * | MySQL type                                    | record value                                          |
 * |-----------------------------------------------|-------------------------------------------------------|
 * | TINYINT … INT, MEDIUMINT, YEAR                | number                                                |
 * | BIGINT (signed or unsigned)                   | number within ±2^53, else an exact decimal string     |
 * | DECIMAL / NUMERIC                             | string, exactly as MySQL prints it ('-12.3400')       |
 * | FLOAT                                         | number, the shortest decimal of the float32 (1.1)     |
 * | DOUBLE                                        | number                                                |
 * | BIT(n)                                        | number (a string beyond 2^53)                         |
 * | CHAR, VARCHAR, TEXT, ENUM, SET ('a,b')        | string                                                |
 * | JSON (MySQL), LONGTEXT CHECK json_valid (MariaDB) | the parsed value (object, array, …)              |
 * | BINARY, VARBINARY, BLOB                       | `{ $base64 }` (nodes/shared/binary.ts)                |
 * | DATE                                          | 'YYYY-MM-DD'                                          |
 * | DATETIME                                      | ISO 8601 without offset 'YYYY-MM-DDTHH:MM:SS[.ffffff]' (a DATETIME has no zone) |
 * | TIMESTAMP                                     | ISO 8601 in UTC 'YYYY-MM-DDTHH:MM:SS[.ffffff]Z'       |
 * | TIME                                          | '[-]HH:MM:SS[.ffffff]' (may exceed 24 h)              |
 * | GEOMETRY, POINT … GEOMETRYCOLLECTION          | `{ $geometry: { srid, wkb } }` (nodes/shared/geometry.ts; connection.ts hands them over as bytes) |
 * | zero dates ('0000-00-00 …')                   | by the source's `zeroDates` option: an error naming table, column and key (default), null, or the text as MySQL prints it |
 * | NULL                                          | null                                                  |
 *
 * Record → MySQL (sinks): see `writer` below and the createTable table at the top of sink.ts.
 */
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';
import type { ColumnSpec, TableSchema } from '../shared/columns.js';
import { fromMysqlGeometry, isGeometryValue, toEwkb, toMysqlGeometry } from '../shared/geometry.js';
import { columnType } from '../shared/type-targets.js';

export interface Column {
  name: string;
  /** information_schema DATA_TYPE, lowercased: int, varchar, datetime, json ... */
  dataType: string;
  /** COLUMN_TYPE: bigint(20) unsigned, decimal(10,2) ... */
  columnType: string;
  /** a JSON column: MySQL's JSON type or MariaDB's LONGTEXT CHECK (json_valid(col)) */
  json: boolean;
  /** IS_NULLABLE = YES (undefined: not known, e.g. a column made up for a value) */
  nullable?: boolean;
}

export interface TableInfo {
  schema: string;
  name: string;
  columns: Column[];
  /** the columns that identify a row: the primary key, else the first UNIQUE index over NOT NULL columns */
  key: string[];
  /** every set of columns with a PRIMARY KEY or UNIQUE index, lowercased */
  uniqueSets: string[][];
}

type Queryable = Pool | PoolConnection;

/** Columns, key and unique sets of a table, or undefined when there is no such (base) table. */
export async function describeTable(q: Queryable, schema: string, table: string, mariadb: boolean): Promise<TableInfo | undefined> {
  const [cols] = await q.query<RowDataPacket[]>(
    `SELECT COLUMN_NAME AS name, DATA_TYPE AS dataType, COLUMN_TYPE AS columnType, IS_NULLABLE AS nullable
       FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
    [schema, table],
  );
  if (cols.length === 0) return undefined;
  const jsonChecked = new Set<string>();
  if (mariadb) {
    const [checks] = await q.query<RowDataPacket[]>(
      'SELECT CHECK_CLAUSE AS clause FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? AND TABLE_NAME = ?',
      [schema, table],
    );
    for (const c of checks) {
      const m = /^json_valid\(`((?:[^`]|``)+)`\)$/i.exec(String(c.clause).trim());
      if (m) jsonChecked.add(m[1].replaceAll('``', '`').toLowerCase());
    }
  }
  const columns: Column[] = cols.map((c) => ({
    name: String(c.name),
    dataType: String(c.dataType).toLowerCase(),
    columnType: String(c.columnType).toLowerCase(),
    json: String(c.dataType).toLowerCase() === 'json' || jsonChecked.has(String(c.name).toLowerCase()),
    nullable: c.nullable !== 'NO',
  }));
  const notNull = new Set(cols.filter((c) => c.nullable === 'NO').map((c) => String(c.name).toLowerCase()));
  const [idx] = await q.query<RowDataPacket[]>(
    `SELECT INDEX_NAME AS idx, COLUMN_NAME AS col FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND COLUMN_NAME IS NOT NULL
      ORDER BY INDEX_NAME = 'PRIMARY' DESC, INDEX_NAME, SEQ_IN_INDEX`,
    [schema, table],
  );
  const sets = new Map<string, string[]>();
  for (const r of idx) sets.set(String(r.idx), [...(sets.get(String(r.idx)) ?? []), String(r.col)]);
  const primary = sets.get('PRIMARY');
  const key = primary ?? [...sets.values()].find((s) => s.every((c) => notNull.has(c.toLowerCase()))) ?? [];
  return { schema, name: table, columns, key, uniqueSets: [...sets.values()].map((s) => s.map((c) => c.toLowerCase())) };
}

/** Base tables of a schema (or of every user schema), as `[schema, table]`, sorted. */
export async function listTables(q: Queryable, schema?: string): Promise<[string, string][]> {
  const [rows] = await q.query<RowDataPacket[]>(
    `SELECT TABLE_SCHEMA AS s, TABLE_NAME AS t FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND ${schema === undefined ? "TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')" : 'TABLE_SCHEMA = ?'}
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    schema === undefined ? [] : [schema],
  );
  return rows.map((r) => [String(r.s), String(r.t)]);
}

export async function schemaExists(q: Queryable, schema: string): Promise<boolean> {
  const [rows] = await q.query<RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [schema]);
  return rows.length > 0;
}

// ---- MySQL → record ------------------------------------------------------------------------------

export type Reader = (v: unknown) => unknown;

const ZERO_DATE = /^0000-00-00/;

/**
 * What a source does with a zero date ('0000-00-00', '0000-00-00 00:00:00'), which no other database
 * can hold: `error` (the default: the row fails, naming table, column and key, so nothing is rewritten
 * silently), `null`, or `text` (the text as MySQL prints it). Declared in nodes/shared/type-mapping.ts.
 */
export const ZERO_DATE_MODES = ['error', 'null', 'text'] as const;
export type ZeroDates = (typeof ZERO_DATE_MODES)[number];

export interface ReadOptions {
  zeroDates?: ZeroDates;
  /** the table's key columns, named in a zero-date error */
  key?: string[];
}

/** a zero date met under `zeroDates: error`; rowReader turns it into an error naming the row's key */
class ZeroDateError extends Error {
  constructor(
    readonly column: Column,
    readonly text: string,
  ) {
    super(`zero date '${text}'`);
  }
}

function zeroDate(column: Column, text: string, mode: ZeroDates): unknown {
  if (mode === 'null') return null;
  if (mode === 'text') return text;
  throw new ZeroDateError(column, text);
}
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

const identity: Reader = (v) => v;

/** types that mysql2 and zongji both hand over as the record value already (number or string) */
const PLAIN = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'year', 'char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'enum', 'time']);

/** the spatial types (MySQL 8 names a collection geomcollection) */
export const SPATIAL_TYPES = new Set(['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection', 'geomcollection']);

/** How to turn a value of `column`, as mysql2 or zongji hand it over, into a record value (table above). */
export function reader(column: Column, table = '', zeroDates: ZeroDates = 'error'): Reader {
  const nullable = (f: Reader): Reader => (v) => (v === null || v === undefined ? null : f(v));
  if (SPATIAL_TYPES.has(column.dataType)) {
    return nullable((v) => {
      if (Buffer.isBuffer(v)) return fromMysqlGeometry(v);
      // zongji (the binlog) parses geometry into {x, y} objects without the SRID and cannot be told not to:
      // an error rather than a geometry silently changed
      throw new Error(
        `${table ? `table ${table}, ` : ''}column ${column.name} (${column.columnType}): a geometry from the binlog arrives without its SRID and type (the binlog reader parses it), so it cannot be carried; copy the table with mode: snapshot`,
      );
    });
  }
  if (column.json) {
    // JSON text (connection.ts sets jsonStrings, and MariaDB's binlog has LONGTEXT)
    return nullable((v) => (typeof v === 'string' ? parseJson(v) : Buffer.isBuffer(v) ? parseJson(v.toString('utf8')) : v));
  }
  switch (column.dataType) {
    case 'bigint':
      return nullable(bigintValue);
    case 'decimal':
    case 'numeric':
      return nullable((v) => String(v));
    case 'float':
      return nullable((v) => shortestFloat32(Number(v)));
    case 'double':
    case 'real':
      return nullable((v) => Number(v));
    case 'bit':
      return nullable(bitValue);
    case 'datetime':
      return nullable((v) => temporal(v, 'T', '', column, zeroDates));
    case 'timestamp':
      return nullable((v) => temporal(v, 'T', 'Z', column, zeroDates));
    case 'date':
      return nullable((v) => {
        if (typeof v === 'string') return ZERO_DATE.test(v) ? zeroDate(column, v, zeroDates) : v;
        if (v instanceof Date) return Number.isNaN(v.getTime()) ? zeroDate(column, '0000-00-00', zeroDates) : v.toISOString().slice(0, 10);
        return v;
      });
    case 'set':
      return nullable((v) => (Array.isArray(v) ? v.join(',') : v));
    case 'binary':
    case 'varbinary':
    case 'tinyblob':
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return nullable((v) => (Buffer.isBuffer(v) ? encodeBinary(v) : typeof v === 'string' ? encodeBinary(Buffer.from(v, 'utf8')) : v));
    default:
      if (PLAIN.has(column.dataType)) return identity;
      // anything else that arrives as bytes (geometry, MariaDB UUID under FULL metadata) becomes
      // { $base64 }: records never hold a Buffer
      return nullable((v) => (Buffer.isBuffer(v) ? encodeBinary(v) : v));
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function bigintValue(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return v >= -MAX_SAFE && v <= MAX_SAFE ? Number(v) : v.toString();
  const s = String(v);
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : s;
}

function bitValue(v: unknown): unknown {
  if (typeof v === 'number') return v;
  if (!Buffer.isBuffer(v)) return v;
  let n = 0n;
  for (const byte of v) n = (n << 8n) | BigInt(byte);
  return n <= MAX_SAFE ? Number(n) : n.toString();
}

function temporal(v: unknown, sep: string, zone: string, column: Column, zeroDates: ZeroDates): unknown {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? zeroDate(column, '0000-00-00 00:00:00', zeroDates) : zone ? v.toISOString() : v.toISOString().replace('Z', '');
  if (typeof v !== 'string') return v;
  if (ZERO_DATE.test(v)) return zeroDate(column, v, zeroDates);
  return `${v.replace(' ', sep)}${zone}`;
}

/** the shortest decimal that reads back as the same float32: what MySQL prints for a FLOAT */
export function shortestFloat32(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x;
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}

/** a row from mysql2 (`rowsAsArray`) or zongji (object by column name) as a record value */
export function rowReader(
  columns: Column[],
  table = '',
  opts: ReadOptions = {},
): { fromArray(row: unknown[]): Record<string, unknown>; fromObject(row: Record<string, unknown>): Record<string, unknown> } {
  const readers = columns.map((c) => reader(c, table, opts.zeroDates));
  const names = columns.map((c) => c.name);
  const plain = readers.map((r) => r === identity);
  const keyIndex = (opts.key ?? []).map((k) => names.findIndex((n) => n.toLowerCase() === k.toLowerCase()));
  /** a zero date under `zeroDates: error`: the row's table, column and key, and how to carry it instead */
  const zeroDateError = (err: unknown, keyOf: (i: number) => unknown): unknown => {
    if (!(err instanceof ZeroDateError)) return err;
    const key = keyIndex.filter((i) => i >= 0).map((i) => `${names[i]} = ${JSON.stringify(keyOf(i) ?? null)}`);
    return new Error(
      `${table ? `table ${table}, ` : ''}column ${err.column.name} (${err.column.columnType})${key.length ? `, row ${key.join(', ')}` : ''}: ${err.message} has no date value; set zeroDates on the source to null or text to carry it`,
    );
  };
  return {
    fromArray(row) {
      const out: Record<string, unknown> = {};
      try {
        for (let i = 0; i < names.length; i++) out[names[i]] = plain[i] ? row[i] : readers[i](row[i]);
      } catch (err) {
        throw zeroDateError(err, (i) => row[i]);
      }
      return out;
    },
    fromObject(row) {
      const out: Record<string, unknown> = {};
      try {
        for (let i = 0; i < names.length; i++) out[names[i]] = readers[i](row[names[i]]);
      } catch (err) {
        throw zeroDateError(err, (i) => row[names[i]]);
      }
      return out;
    },
  };
}

// ---- record → MySQL ------------------------------------------------------------------------------

export type Writer = (v: unknown) => unknown;

const ISO_DATETIME = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * How to turn a record value into a value mysql2 binds for a column of `column`'s type (undefined: a
 * column the sink does not know yet). Objects and arrays → JSON text; booleans → 1 / 0;
 * `{ $base64 }` → bytes; ISO 8601 strings into DATETIME / TIMESTAMP / DATE columns → MySQL's
 * 'YYYY-MM-DD HH:MM:SS.ffffff' (an offset is converted to UTC, the session zone); bigint → its decimal text.
 */
export function writer(column: Column | undefined): Writer {
  const type = column?.dataType ?? '';
  if (column?.json) return (v) => (v === null || v === undefined ? null : JSON.stringify(v));
  if (type === 'datetime' || type === 'timestamp') return (v) => (typeof v === 'string' ? sqlDatetime(v) : generic(v));
  if (type === 'date') return (v) => (typeof v === 'string' && ISO_DATETIME.test(v) ? sqlDatetime(v).slice(0, 10) : generic(v));
  if (type === 'bit') return (v) => (typeof v === 'string' && /^\d+$/.test(v) ? BigInt(v).toString() : generic(v));
  // MySQL takes its internal form (SRID, then WKB) as a bound value
  if (SPATIAL_TYPES.has(type)) return (v) => (isGeometryValue(v) ? toMysqlGeometry(v) : generic(v));
  return generic;
}

function generic(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case 'string':
    case 'number':
      return v;
    case 'bigint':
      return v.toString();
    case 'boolean':
      return v ? 1 : 0;
    case 'object':
      if (isBase64Value(v)) return decodeBinary(v);
      // into a column that is not spatial (a BLOB): EWKB, the SRID kept in the bytes
      if (isGeometryValue(v)) return toEwkb(v);
      if (Buffer.isBuffer(v)) return v;
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
      if (v instanceof Date) return sqlDatetime(v.toISOString());
      return JSON.stringify(v);
    default:
      return String(v);
  }
}

/** an ISO 8601 date-time as MySQL datetime text, in UTC when it carries an offset; other strings as they are */
export function sqlDatetime(s: string): string {
  const m = ISO_DATETIME.exec(s);
  if (!m) return s;
  const [, date, time, fraction = '', zone] = m;
  if (!zone || zone === 'Z' || /^[+-]00:?00$/.test(zone)) return `${date} ${time}${fraction.slice(0, 7)}`;
  const ms = Date.parse(`${date}T${time}${zone.length === 5 ? `${zone.slice(0, 3)}:${zone.slice(3)}` : zone}`);
  if (Number.isNaN(ms)) return s;
  const utc = new Date(ms).toISOString(); // whole seconds: the fraction is carried over as written
  return `${utc.slice(0, 10)} ${utc.slice(11, 19)}${fraction.slice(0, 7)}`;
}

/** a key value from a record (or a position) as a bindable value for `column` */
export function keyParam(column: Column | undefined, v: unknown): unknown {
  return writer(column)(v);
}

// ---- createTable ---------------------------------------------------------------------------------

/** The column type a new column gets from a record value (table at the top of sink.ts); undefined for null. */
export function columnTypeFor(v: unknown, isKey: boolean): string | undefined {
  if (v === null || v === undefined) return undefined;
  switch (typeof v) {
    case 'number':
      return Number.isInteger(v) ? 'BIGINT' : 'DOUBLE';
    case 'bigint':
      return v >= -(2n ** 63n) && v < 2n ** 63n ? 'BIGINT' : 'DECIMAL(65,0)';
    case 'boolean':
      return 'BOOLEAN';
    case 'string':
      if (isKey) return 'VARCHAR(255)';
      if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return 'DATE';
      if (ISO_DATETIME.test(v) && v.includes('T')) return 'DATETIME(6)';
      return 'LONGTEXT';
    case 'object':
      if (isBase64Value(v) || v instanceof Uint8Array) return isKey ? 'VARBINARY(255)' : 'LONGBLOB';
      if (isGeometryValue(v)) return isKey ? 'VARBINARY(255)' : 'GEOMETRY';
      if (v instanceof Date) return 'DATETIME(6)';
      return isKey ? 'VARCHAR(255)' : 'JSON';
    default:
      return isKey ? 'VARCHAR(255)' : 'LONGTEXT';
  }
}

/** the type of a column that only ever held null so far */
export function defaultColumnType(isKey: boolean): string {
  return isKey ? 'VARCHAR(255)' : 'LONGTEXT';
}

// ---- conversion mode: column specs both ways (docs/type-mapping.md) ------------------------------

const INT_BITS: Record<string, number> = { tinyint: 8, smallint: 16, mediumint: 24, int: 32, integer: 32, bigint: 64 };

/** A MySQL column in the neutral form of nodes/shared/columns.ts (what mysql.source puts in meta.schema). */
export function columnSpec(c: Column): ColumnSpec {
  const t = c.columnType;
  const args = /\(([^)]*)\)/.exec(t)?.[1];
  const nums = args ? args.split(',').map((x) => Number(x.trim())) : [];
  const base = { name: c.name, source: t, nullable: c.nullable !== false };
  if (c.json) return { ...base, kind: 'json' };
  const dt = c.dataType;
  if (dt === 'tinyint' && /^tinyint\(1\)(?!\s*unsigned)/.test(t)) return { ...base, kind: 'boolean' };
  if (dt in INT_BITS) return { ...base, kind: 'integer', bits: INT_BITS[dt], ...(/unsigned/.test(t) ? { unsigned: true } : {}) };
  if (dt === 'year') return { ...base, kind: 'integer', bits: 16 };
  if (dt === 'bit') return { ...base, kind: 'integer', bits: 64, unsigned: true };
  if (SPATIAL_TYPES.has(dt)) return { ...base, kind: 'geometry', geometryType: dt === 'geomcollection' ? 'geometrycollection' : dt };
  switch (dt) {
    case 'decimal':
    case 'numeric':
      return { ...base, kind: 'decimal', precision: nums[0] ?? 10, scale: nums[1] ?? 0 };
    case 'float':
      return { ...base, kind: 'float', bits: 32 };
    case 'double':
    case 'real':
      return { ...base, kind: 'float', bits: 64 };
    case 'char':
    case 'varchar':
      return { ...base, kind: 'string', length: nums[0], ...(dt === 'char' ? { fixed: true } : {}) };
    case 'tinytext':
      return { ...base, kind: 'string', length: 255 };
    case 'text':
    case 'mediumtext':
    case 'longtext':
    case 'enum':
    case 'set':
      return { ...base, kind: 'string' };
    case 'binary':
    case 'varbinary':
      return { ...base, kind: 'binary', length: nums[0], ...(dt === 'binary' ? { fixed: true } : {}) };
    case 'tinyblob':
      return { ...base, kind: 'binary', length: 255 };
    case 'blob':
    case 'mediumblob':
    case 'longblob':
      return { ...base, kind: 'binary' };
    case 'date':
      return { ...base, kind: 'date' };
    case 'datetime':
      return { ...base, kind: 'datetime', fraction: nums[0] ?? 0 };
    case 'timestamp':
      return { ...base, kind: 'timestamp', fraction: nums[0] ?? 0 };
    case 'time':
      // a duration: -838:59:59 to 838:59:59
      return { ...base, kind: 'time', fraction: nums[0] ?? 0, duration: true };
    case 'uuid':
      return { ...base, kind: 'uuid' };
    default:
      // other byte types arrive as { $base64 } (reader above); inet4/6 as text
      return { ...base, kind: /blob/.test(dt) ? 'binary' : 'other' };
  }
}

export function tableSchema(info: TableInfo): TableSchema {
  return { table: `${info.schema}.${info.name}`, key: [...info.key], columns: info.columns.map(columnSpec) };
}

/**
 * The MySQL / MariaDB column type for a neutral column spec (mysql.sink, createTable in conversion mode).
 * `uuidType`: the server has a UUID type (MariaDB 10.7+). Key columns need a bounded length (an index).
 */
export function mysqlTypeFor(spec: ColumnSpec, isKey: boolean, uuidType: boolean): string {
  // only key columns are NOT NULL (see pgTypeForSpec's caller in postgres/sink.ts: partial updates, zero dates)
  const nn = isKey ? ' NOT NULL' : '';
  const type = columnType('mysql', spec, { key: isKey, uuidType });
  if (spec.kind === 'timestamp' && nn) {
    const f = Math.min(spec.fraction ?? 6, 6);
    return `${type} NOT NULL DEFAULT CURRENT_TIMESTAMP${f ? `(${f})` : ''}`;
  }
  return `${type}${nn}`;
}
