/**
 * The column type each SQL sink creates for a declared source column (meta.schema, columns.ts), as data:
 * per target and per kind, a list of cases tried in order. The first case whose conditions hold and whose
 * sizes the target can take gives the type. pgTypeForSpec (postgres/types.ts), mysqlTypeFor
 * (mysql/types.ts) and sqlTypeForSpec (sqlite/sql.ts) only read this table through `columnType`.
 * docs/type-mapping.md is written from it (nodes/type-mapping-docs.ts). test/unit/type-targets.test.ts
 * fails when one of the functions answers otherwise than the table.
 */
import type { ColumnKind, ColumnSpec } from './columns.js';

export type SqlTarget = 'postgres' | 'mysql' | 'sqlite';
export const SQL_TARGETS: readonly SqlTarget[] = ['postgres', 'mysql', 'sqlite'];

/** what is known about the target column besides its spec */
export interface TargetContext {
  /** postgres: the database has PostGIS */
  postgis?: boolean;
  /** mysql: a key column, which needs a bounded type (it is indexed) */
  key?: boolean;
  /** mysql: the server has a UUID type (MariaDB 10.7+) */
  uuidType?: boolean;
}

export type SizeField = 'precision' | 'scale' | 'length' | 'fraction';

/** How a size of the spec goes into the case's `{field}` placeholder. */
export interface SizeRule {
  field: SizeField;
  /** used when the spec has none; without a default, a spec without the size skips the case */
  default?: number;
  /** bounds: numbers, or a size read earlier in the same case */
  min?: readonly (number | SizeField)[];
  max?: readonly (number | SizeField)[];
  /** must be a whole number (else the case is skipped) */
  whole?: boolean;
  /** outside the bounds: `skip` the case, or `clamp` the size to the bound */
  outside: 'skip' | 'clamp';
}

/** Conditions on the spec and the target; a case applies when all of those it names hold. */
export interface Condition {
  /** spec.bits (64 when the spec has none) is at most this */
  bitsAtMost?: number;
  /** spec.bits is exactly this */
  bits?: number;
  unsigned?: boolean;
  fixed?: boolean;
  duration?: boolean;
  geography?: boolean;
  /** spec.geometryType is this */
  geometryType?: string;
  postgis?: boolean;
  key?: boolean;
  uuidType?: boolean;
}

export interface TypeCase {
  when?: Condition;
  /** the type; `{precision}`, `{scale}`, `{length}`, `{fraction}` are filled by `sizes`, in their order */
  type: string;
  sizes?: readonly SizeRule[];
}

export type TargetTable = Record<ColumnKind, readonly TypeCase[]>;

// postgres ----------------------------------------------------------------------------------------

/** the largest n of varchar(n) / char(n) */
const PG_MAX_CHAR_LENGTH = 10_485_760;
/** `(f)` for 0 to 5 fractional digits; none (PostgreSQL's default, 6) otherwise */
const PG_FRACTION: readonly SizeRule[] = [{ field: 'fraction', whole: true, min: [0], max: [5], outside: 'skip' }];
const PG_LENGTH: readonly SizeRule[] = [{ field: 'length', whole: true, min: [1], max: [PG_MAX_CHAR_LENGTH], outside: 'skip' }];
/** subtypes PostGIS's geometry(type) takes, by the names MySQL uses (geometrycollection, not geomcollection) */
export const POSTGIS_SUBTYPES = ['point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'] as const;

const POSTGRES: TargetTable = {
  integer: [
    // unsigned: the next wider type holds every value (SMALLINT UNSIGNED goes to 65,535)
    { when: { unsigned: true, bitsAtMost: 8 }, type: 'smallint' },
    { when: { unsigned: true, bitsAtMost: 24 }, type: 'integer' },
    { when: { unsigned: true, bitsAtMost: 32 }, type: 'bigint' },
    { when: { unsigned: true }, type: 'numeric(20,0)' },
    { when: { bitsAtMost: 16 }, type: 'smallint' },
    { when: { bitsAtMost: 32 }, type: 'integer' },
    { when: { bitsAtMost: 64 }, type: 'bigint' },
    { type: 'numeric' },
  ],
  decimal: [
    {
      type: 'numeric({precision},{scale})',
      sizes: [
        { field: 'precision', whole: true, min: [1], max: [1000], outside: 'skip' },
        { field: 'scale', default: 0, whole: true, min: [0], max: ['precision'], outside: 'skip' },
      ],
    },
    { type: 'numeric' },
  ],
  float: [{ when: { bits: 32 }, type: 'real' }, { type: 'double precision' }],
  boolean: [{ type: 'boolean' }],
  string: [
    { when: { fixed: true }, type: 'character({length})', sizes: PG_LENGTH },
    { type: 'character varying({length})', sizes: PG_LENGTH },
    { type: 'text' },
  ],
  json: [{ type: 'jsonb' }],
  binary: [{ type: 'bytea' }],
  date: [{ type: 'date' }],
  datetime: [{ type: 'timestamp({fraction}) without time zone', sizes: PG_FRACTION }, { type: 'timestamp without time zone' }],
  timestamp: [{ type: 'timestamp({fraction}) with time zone', sizes: PG_FRACTION }, { type: 'timestamp with time zone' }],
  time: [
    // a MySQL TIME is a duration (up to ±838 hours), which PostgreSQL's time (00:00–24:00) cannot hold
    { when: { duration: true }, type: 'interval' },
    { type: 'time({fraction}) without time zone', sizes: PG_FRACTION },
    { type: 'time without time zone' },
  ],
  uuid: [{ type: 'uuid' }],
  geometry: [
    // without PostGIS: bytea holding EWKB (ST_GeomFromEWKB turns it into geometry later)
    { when: { postgis: false }, type: 'bytea' },
    { when: { geography: true }, type: 'geography' },
    ...POSTGIS_SUBTYPES.map((t) => ({ when: { geometryType: t }, type: `geometry(${t})` })),
    { type: 'geometry' },
  ],
  other: [{ type: 'text' }],
};

// mysql -------------------------------------------------------------------------------------------

/** MySQL's default and largest fraction is 6 (microseconds) */
const MY_FRACTION: readonly SizeRule[] = [{ field: 'fraction', default: 6, max: [6], outside: 'clamp' }];
const upTo = (max: number): readonly SizeRule[] => [{ field: 'length', max: [max], outside: 'skip' }];
/** spatial column types MySQL and MariaDB both create, by their lower-case names */
const MYSQL_SPATIAL = ['geometry', 'point', 'linestring', 'polygon', 'multipoint', 'multilinestring', 'multipolygon', 'geometrycollection'] as const;

/** the narrowest integer type that holds a spec's bits */
const MYSQL_INTEGERS = [['TINYINT', 8], ['SMALLINT', 16], ['MEDIUMINT', 24], ['INT', 32]] as const;

const MYSQL: TargetTable = {
  integer: [
    ...MYSQL_INTEGERS.flatMap(([name, bits]) => [
      { when: { unsigned: true, bitsAtMost: bits }, type: `${name} UNSIGNED` },
      { when: { unsigned: false, bitsAtMost: bits }, type: name },
    ]),
    { when: { unsigned: true }, type: 'BIGINT UNSIGNED' },
    { type: 'BIGINT' },
  ],
  decimal: [
    {
      type: 'DECIMAL({precision},{scale})',
      sizes: [
        { field: 'scale', default: 0, max: [30], outside: 'clamp' },
        { field: 'precision', min: ['scale', 1], max: [65], outside: 'clamp' },
      ],
    },
    // an unbounded decimal (PostgreSQL numeric): the widest DECIMAL
    { type: 'DECIMAL(65,30)' },
  ],
  float: [{ when: { bits: 32 }, type: 'FLOAT' }, { type: 'DOUBLE' }],
  boolean: [{ type: 'BOOLEAN' }],
  string: [
    { when: { fixed: true }, type: 'CHAR({length})', sizes: upTo(255) },
    // a key is indexed: 768 characters of utf8mb4 are InnoDB's 3,072-byte limit
    { when: { key: true }, type: 'VARCHAR({length})', sizes: upTo(768) },
    { when: { key: false }, type: 'VARCHAR({length})', sizes: upTo(16_383) },
    { when: { key: true }, type: 'VARCHAR(255)' },
    { type: 'LONGTEXT' },
  ],
  json: [{ when: { key: true }, type: 'VARCHAR(255)' }, { type: 'JSON' }],
  binary: [
    { when: { fixed: true }, type: 'BINARY({length})', sizes: upTo(255) },
    { when: { key: true }, type: 'VARBINARY({length})', sizes: upTo(3072) },
    { when: { key: false }, type: 'VARBINARY({length})', sizes: upTo(65_535) },
    { when: { key: true }, type: 'VARBINARY(255)' },
    { type: 'LONGBLOB' },
  ],
  date: [{ type: 'DATE' }],
  datetime: [{ type: 'DATETIME({fraction})', sizes: MY_FRACTION }],
  timestamp: [
    // mysqlTypeFor adds NOT NULL DEFAULT CURRENT_TIMESTAMP to a key; any other column gets an explicit
    // default, so no implicit DEFAULT CURRENT_TIMESTAMP ON UPDATE … where explicit_defaults_for_timestamp is off
    { when: { key: true }, type: 'TIMESTAMP({fraction})', sizes: MY_FRACTION },
    { type: 'TIMESTAMP({fraction}) NULL DEFAULT NULL', sizes: MY_FRACTION },
  ],
  time: [{ type: 'TIME({fraction})', sizes: MY_FRACTION }],
  uuid: [{ when: { uuidType: true }, type: 'UUID' }, { type: 'CHAR(36)' }],
  geometry: [
    // a key needs a bounded type: the internal bytes (SRID, WKB)
    { when: { key: true }, type: 'VARBINARY(255)' },
    ...MYSQL_SPATIAL.map((t) => ({ when: { geometryType: t }, type: t.toUpperCase() })),
    { type: 'GEOMETRY' },
  ],
  other: [{ when: { key: true }, type: 'VARCHAR(255)' }, { type: 'LONGTEXT' }],
};

// sqlite ------------------------------------------------------------------------------------------

const SQLITE: TargetTable = {
  // a 64-bit unsigned integer gets no declared type: an integer affinity would store values beyond
  // 2^63 − 1 as REALs; without one they stay exact TEXT (and smaller ones INTEGER)
  integer: [{ when: { bits: 64, unsigned: true }, type: '' }, { type: 'INTEGER' }],
  decimal: [{ type: 'TEXT' }],
  float: [{ type: 'REAL' }],
  boolean: [{ type: 'INTEGER' }],
  string: [{ type: 'TEXT' }],
  json: [{ type: 'TEXT' }],
  binary: [{ type: 'BLOB' }],
  date: [{ type: 'TEXT' }],
  datetime: [{ type: 'TEXT' }],
  timestamp: [{ type: 'TEXT' }],
  time: [{ type: 'TEXT' }],
  uuid: [{ type: 'TEXT' }],
  geometry: [{ type: 'BLOB' }],
  other: [{ type: 'TEXT' }],
};

export const TYPE_TARGETS: Readonly<Record<SqlTarget, TargetTable>> = { postgres: POSTGRES, mysql: MYSQL, sqlite: SQLITE };

// the reader --------------------------------------------------------------------------------------

function holds(when: Condition | undefined, spec: ColumnSpec, ctx: TargetContext): boolean {
  if (!when) return true;
  if (when.bitsAtMost !== undefined && !((spec.bits ?? 64) <= when.bitsAtMost)) return false;
  if (when.bits !== undefined && spec.bits !== when.bits) return false;
  if (when.geometryType !== undefined && spec.geometryType !== when.geometryType) return false;
  const flags: [boolean | undefined, unknown][] = [
    [when.unsigned, spec.unsigned],
    [when.fixed, spec.fixed],
    [when.duration, spec.duration],
    [when.geography, spec.geography],
    [when.postgis, ctx.postgis],
    [when.key, ctx.key],
    [when.uuidType, ctx.uuidType],
  ];
  return flags.every(([want, have]) => want === undefined || want === Boolean(have));
}

/** the sizes of a case, or undefined when the spec's sizes do not fit it */
function sizesOf(rules: readonly SizeRule[], spec: ColumnSpec): Partial<Record<SizeField, number>> | undefined {
  const got: Partial<Record<SizeField, number>> = {};
  const bound = (b: number | SizeField) => (typeof b === 'number' ? b : (got[b] as number));
  for (const r of rules) {
    // a null size (meta written by hand) is not absent: it takes the default or compares as 0, as it always did
    let v = (r.default === undefined ? spec[r.field] : (spec[r.field] ?? r.default)) as number | undefined;
    if (v === undefined) return undefined;
    if (r.whole && !Number.isInteger(v)) return undefined;
    const mins = (r.min ?? []).map(bound);
    const maxes = (r.max ?? []).map(bound);
    if (r.outside === 'clamp') v = Math.min(Math.max(v, ...mins), ...maxes);
    else if (!mins.every((m) => v! >= m) || !maxes.every((m) => v! <= m)) return undefined;
    got[r.field] = v;
  }
  return got;
}

/** The case of `target`'s table that gives `spec`'s column type, with its sizes. */
export function matchCase(target: SqlTarget, spec: ColumnSpec, ctx: TargetContext = {}): { case: TypeCase; sizes: Partial<Record<SizeField, number>> } {
  const table = TYPE_TARGETS[target];
  // kinds come from record meta, which anything can write: an unknown kind is `other`
  const cases = Object.hasOwn(table, spec.kind) ? table[spec.kind] : table.other;
  for (const c of cases) {
    if (!holds(c.when, spec, ctx)) continue;
    const sizes = sizesOf(c.sizes ?? [], spec);
    if (sizes) return { case: c, sizes };
  }
  throw new Error(`type-targets: no case of ${target}.${spec.kind} applies (the table's last case must have no condition)`);
}

/** The column type `target` creates for a declared column (no NOT NULL: the sinks add it to keys). */
export function columnType(target: SqlTarget, spec: ColumnSpec, ctx: TargetContext = {}): string {
  const { case: c, sizes } = matchCase(target, spec, ctx);
  return c.type.replace(/\{(\w+)\}/g, (_, f: SizeField) => String(sizes[f]));
}
