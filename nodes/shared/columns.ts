/**
 * Source column types in a neutral form, for conversion mode (docs/type-mapping.md): a database source
 * describes each table it reads once per batch, on the first record of that table in the batch, as
 * `record.meta.schema` (a `TableSchema`, shared by reference, never copied per record); a sink that
 * creates the table (`createTable`) maps each column's kind to its own type instead of guessing from the
 * first value. A record without it (a file source, a transform that built new records, or one that
 * dropped the record carrying it) leaves the sink to infer types from the values, as before.
 *
 * Kinds describe the record value's meaning, not the source's storage: a DECIMAL arrives as a string, and
 * `kind: 'decimal'` tells the sink it is an exact number with `precision` and `scale`.
 */
import type { FullSchema } from './schema-full.js';

export type ColumnKind =
  | 'integer' //   number (a decimal string beyond ±2^53); `bits` 8 / 16 / 24 / 32 / 64, `unsigned`
  | 'decimal' //   exact decimal string; `precision` / `scale` when the source has them
  | 'float' //     number; `bits` 32 or 64
  | 'boolean' //   boolean, or 0 / 1 (MySQL TINYINT(1))
  | 'string' //    string; `length` when bounded, `fixed` for CHAR(n)
  | 'json' //      any JSON value
  | 'binary' //    `{ $base64 }`; `length` when bounded, `fixed` for BINARY(n)
  | 'date' //      'YYYY-MM-DD'
  | 'datetime' //  ISO 8601 without zone; `fraction` digits
  | 'timestamp' // ISO 8601 in UTC ('…Z'); `fraction` digits
  | 'time' //      '[-]HH:MM:SS[.ffffff]'; `fraction` digits; `duration` when it is a signed span of up to
  //               838 hours (MySQL TIME) rather than a time of day
  | 'uuid' //      string
  | 'geometry' //  `{ $geometry: { srid, wkb } }` (nodes/shared/geometry.ts); `geometryType` point, polygon…
  | 'other'; //    string (the source type's text form)

export interface ColumnSpec {
  name: string;
  kind: ColumnKind;
  /** the source's own type, e.g. `decimal(20,6)`, `bigint(20) unsigned`: for messages and docs */
  source: string;
  nullable: boolean;
  bits?: number;
  unsigned?: boolean;
  precision?: number;
  scale?: number;
  length?: number;
  fixed?: boolean;
  fraction?: number;
  /** kind 'time': a duration (MySQL TIME: -838:59:59 to 838:59:59), not a time of day */
  duration?: boolean;
  /** kind 'geometry': the declared subtype (`point`, `multipolygon`…; `geometry` for any), `geography` for PostGIS geography */
  geometryType?: string;
  geography?: boolean;
}

export interface TableSchema {
  /** the source's name of the table: `db.table` */
  table: string;
  /** the columns that identify a row, in order */
  key: string[];
  columns: ColumnSpec[];
  /** `schema: full` at the source: NOT NULL, defaults, indexes, foreign keys, checks, enums, comments (schema-full.ts) */
  full?: FullSchema;
}

/** the largest signed 64-bit integer (what an integer column of 64 bits holds; unsigned ones go beyond) */
export const INT64_MAX = 2n ** 63n - 1n;

/** the record meta field a TableSchema travels in */
export const SCHEMA_META = 'schema';

/** true for a value that looks like a TableSchema (meta comes from anywhere: checked before use) */
export function isTableSchema(v: unknown): v is TableSchema {
  if (v === null || typeof v !== 'object') return false;
  const s = v as TableSchema;
  return typeof s.table === 'string' && Array.isArray(s.key) && Array.isArray(s.columns) && s.columns.every((c) => c && typeof c.name === 'string' && typeof c.kind === 'string');
}

/** the first valid TableSchema a record of the batch carries in meta.schema (records of one table) */
export function declaredSchema(records: readonly { meta: Record<string, unknown> }[]): TableSchema | undefined {
  for (const r of records) {
    const s = r.meta[SCHEMA_META];
    if (s !== undefined && isTableSchema(s)) return s;
  }
  return undefined;
}

/** `meta` without a TableSchema: for a node that builds records of another shape than its input's */
export function withoutSchema<M extends Record<string, unknown>>(meta: M): M {
  if (!(SCHEMA_META in meta)) return meta;
  const { [SCHEMA_META]: _schema, ...rest } = meta;
  return rest as M;
}
