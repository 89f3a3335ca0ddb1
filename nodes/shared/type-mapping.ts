/**
 * The type mapping of conversion mode as data: every column type a database source can declare, the
 * neutral description its source gives it (meta.schema, columns.ts) and, per target, what changes on
 * the way and why. The sinks' DDL functions (pgTypeForSpec, mysqlTypeFor, sqlTypeForSpec, which read
 * their column types from type-targets.ts, and the BSON converters) are applied to these rows to write docs/type-mapping.md (nodes/type-mapping-docs.ts), and
 * the type-table test (test/integration/type-table.test.ts) copies a row of edge values of each type
 * to each target and back, failing on any change that a `lossy` entry here does not declare.
 */
import type { ColumnSpec } from './columns.js';

export type SourceFamily = 'mysql' | 'postgres';
export type TargetFamily = 'postgres' | 'mysql' | 'sqlite' | 'mongodb';
export const TARGETS: readonly TargetFamily[] = ['postgres', 'mysql', 'sqlite', 'mongodb'];

export interface SourceType {
  /** unique within its family; the test's column is named `c_<id>` */
  id: string;
  family: SourceFamily;
  /** the type as a CREATE TABLE declares it */
  declare: string;
  /** what the source puts in meta.schema for it (name, source, nullable aside) */
  spec: Omit<ColumnSpec, 'name' | 'source' | 'nullable'>;
  /** per target: why the value, or the column type, does not come back as it was */
  lossy?: Partial<Record<TargetFamily, string>>;
  /** MariaDB only (10.7+ for UUID) */
  mariadb?: boolean;
}

// reasons shared by several rows
const NO_BOOLEAN_SQLITE = 'SQLite has no boolean: stored and read back as 0/1';
const TEXT_SQLITE = 'SQLite has no such type: a TEXT column (the value kept as text)';
const TEXT_TYPE = (what: string) => `${what}: described as kind other, so a text column holding its text form (the value kept, the type not)`;
const GEO_PG = 'without PostGIS: bytea holding EWKB (the SRID kept in the bytes), read back as bytes; with PostGIS: geometry';
const GEO_SQLITE = 'a BLOB holding EWKB (the SRID kept in the bytes), read back as bytes';
const GEO_MONGO = 'GeoJSON: no SRID (GeoJSON means WGS 84), empty points and curves are an error';
const MONGO_DECIMAL = 'Decimal128, read back as a decimal string: trailing zeros as Decimal128 keeps them';
const MONGO_STRING = 'a String (MongoDB has no such type)';
const ARRAY = (elem: string) => ({
  postgres: `arrays travel as JS arrays and become jsonb (the ${elem}[] type is not kept)`,
  mysql: 'a JSON array',
  sqlite: 'JSON text',
  mongodb: 'an array',
});

const my = (id: string, declare: string, spec: SourceType['spec'], lossy?: SourceType['lossy'], mariadb?: boolean): SourceType => ({
  id,
  family: 'mysql',
  declare,
  spec,
  ...(lossy ? { lossy } : {}),
  ...(mariadb ? { mariadb } : {}),
});
const pg = (id: string, declare: string, spec: SourceType['spec'], lossy?: SourceType['lossy']): SourceType => ({ id, family: 'postgres', declare, spec, ...(lossy ? { lossy } : {}) });

const MYSQL_TYPES: SourceType[] = [
  my('tinyint', 'TINYINT', { kind: 'integer', bits: 8 }, { postgres: 'smallint (PostgreSQL has no 8-bit integer)' }),
  my('tinyint_u', 'TINYINT UNSIGNED', { kind: 'integer', bits: 8, unsigned: true }, { postgres: 'smallint' }),
  my('smallint', 'SMALLINT', { kind: 'integer', bits: 16 }),
  my('smallint_u', 'SMALLINT UNSIGNED', { kind: 'integer', bits: 16, unsigned: true }, { postgres: 'integer (the next wider type)' }),
  my('mediumint', 'MEDIUMINT', { kind: 'integer', bits: 24 }, { postgres: 'integer (PostgreSQL has no 24-bit integer)' }),
  my('mediumint_u', 'MEDIUMINT UNSIGNED', { kind: 'integer', bits: 24, unsigned: true }, { postgres: 'integer' }),
  my('int', 'INT', { kind: 'integer', bits: 32 }),
  my('int_u', 'INT UNSIGNED', { kind: 'integer', bits: 32, unsigned: true }, { postgres: 'bigint (the next wider type)' }),
  my('bigint', 'BIGINT', { kind: 'integer', bits: 64 }),
  my('bigint_u', 'BIGINT UNSIGNED', { kind: 'integer', bits: 64, unsigned: true }, { postgres: 'numeric(20,0): values read back as decimal strings', mongodb: 'Int64, Decimal128 beyond 2^63 − 1' }),
  my('boolean', 'TINYINT(1)', { kind: 'boolean' }, { postgres: 'boolean: 0 → false, any other number → true (reads back as true/false)', sqlite: NO_BOOLEAN_SQLITE, mongodb: 'Boolean: 0 → false, 1 → true; other numbers stay numbers' }),
  my('year', 'YEAR', { kind: 'integer', bits: 16 }, { postgres: 'smallint (no YEAR type)', mysql: 'SMALLINT (the YEAR type is not kept)' }),
  my('bit1', 'BIT(1)', { kind: 'integer', bits: 64, unsigned: true }, { postgres: 'numeric(20,0): a number, not a bit string', mysql: 'BIGINT UNSIGNED (the BIT type is not kept)' }),
  my('bit64', 'BIT(64)', { kind: 'integer', bits: 64, unsigned: true }, { postgres: 'numeric(20,0): a number, not a bit string', mysql: 'BIGINT UNSIGNED (the BIT type is not kept)', mongodb: 'Int64, Decimal128 beyond 2^63 − 1' }),
  my('decimal', 'DECIMAL(65,30)', { kind: 'decimal', precision: 65, scale: 30 }, { sqlite: TEXT_SQLITE, mongodb: 'Decimal128 holds 34 significant digits: a value with more is written as its exact String' }),
  my('decimal_small', 'DECIMAL(10,2)', { kind: 'decimal', precision: 10, scale: 2 }, { sqlite: TEXT_SQLITE, mongodb: MONGO_DECIMAL }),
  my('float', 'FLOAT', { kind: 'float', bits: 32 }),
  my('double', 'DOUBLE', { kind: 'float', bits: 64 }),
  my('char', 'CHAR(10)', { kind: 'string', length: 10, fixed: true }, { postgres: 'character(10): PostgreSQL pads a shorter value with spaces, which MySQL strips when it reads' }),
  my('varchar', 'VARCHAR(100)', { kind: 'string', length: 100 }),
  my('tinytext', 'TINYTEXT', { kind: 'string', length: 255 }, { mysql: 'VARCHAR(255) (same size, not TINYTEXT)' }),
  my('text', 'TEXT', { kind: 'string' }, { mysql: 'LONGTEXT (a wider text type)' }),
  my('mediumtext', 'MEDIUMTEXT', { kind: 'string' }, { mysql: 'LONGTEXT (a wider text type)' }),
  my('longtext', 'LONGTEXT', { kind: 'string' }),
  my('enum', "ENUM('a','b','c d')", { kind: 'string' }, { postgres: 'text: the allowed values are not kept', mysql: 'LONGTEXT: the allowed values are not kept' }),
  my('set', "SET('x','y','z')", { kind: 'string' }, { postgres: "text ('x,y'): the allowed values are not kept", mysql: 'LONGTEXT: the allowed values are not kept' }),
  my('json', 'JSON', { kind: 'json' }, { postgres: 'jsonb: object keys reordered, duplicate keys dropped', sqlite: 'JSON text (not parsed when read back)' }),
  my('binary', 'BINARY(4)', { kind: 'binary', length: 4, fixed: true }),
  my('varbinary', 'VARBINARY(16)', { kind: 'binary', length: 16 }),
  my('tinyblob', 'TINYBLOB', { kind: 'binary', length: 255 }, { mysql: 'VARBINARY(255) (same size, not TINYBLOB)' }),
  my('blob', 'BLOB', { kind: 'binary' }, { mysql: 'LONGBLOB (a wider type)' }),
  my('mediumblob', 'MEDIUMBLOB', { kind: 'binary' }, { mysql: 'LONGBLOB (a wider type)' }),
  my('longblob', 'LONGBLOB', { kind: 'binary' }),
  my('date', 'DATE', { kind: 'date' }, { sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }),
  my('datetime', 'DATETIME', { kind: 'datetime', fraction: 0 }, { sqlite: TEXT_SQLITE, mongodb: 'Date (a zone-less DATETIME read as UTC)' }),
  my('datetime6', 'DATETIME(6)', { kind: 'datetime', fraction: 6 }, { sqlite: TEXT_SQLITE, mongodb: 'a String: a Date holds milliseconds only' }),
  my('timestamp6', 'TIMESTAMP(6) NULL', { kind: 'timestamp', fraction: 6 }, { sqlite: TEXT_SQLITE, mongodb: 'a String: a Date holds milliseconds only' }),
  my('time', 'TIME', { kind: 'time', fraction: 0, duration: true }, { postgres: 'interval (a MySQL TIME is a duration of up to ±838 hours), read back in interval text form', sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }),
  my('time6', 'TIME(6)', { kind: 'time', fraction: 6, duration: true }, { postgres: 'interval, read back in interval text form (trailing zeros of the fraction not printed)', sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }),
  my('uuid', 'UUID', { kind: 'uuid' }, { sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }, true),
  ...(['GEOMETRY', 'POINT', 'LINESTRING', 'POLYGON', 'MULTIPOINT', 'MULTILINESTRING', 'MULTIPOLYGON', 'GEOMETRYCOLLECTION'] as const).map((t) =>
    my(t.toLowerCase(), t, { kind: 'geometry', geometryType: t.toLowerCase() }, { postgres: GEO_PG, sqlite: GEO_SQLITE, mongodb: GEO_MONGO }),
  ),
];

const OTHER = { kind: 'other' } as const;
const pgText = (what: string): SourceType['lossy'] => ({ postgres: TEXT_TYPE(what), mysql: TEXT_TYPE(what), sqlite: TEXT_SQLITE, mongodb: MONGO_STRING });

const PG_SCALARS: SourceType[] = [
  pg('smallint', 'smallint', { kind: 'integer', bits: 16 }),
  pg('integer', 'integer', { kind: 'integer', bits: 32 }),
  pg('bigint', 'bigint', { kind: 'integer', bits: 64 }),
  pg('numeric', 'numeric(20,6)', { kind: 'decimal', precision: 20, scale: 6 }, { sqlite: TEXT_SQLITE, mongodb: MONGO_DECIMAL }),
  pg('numeric_any', 'numeric', { kind: 'decimal' }, { mysql: 'DECIMAL(65,30): NaN and values beyond 35 integer or 30 fractional digits fail the batch', sqlite: TEXT_SQLITE, mongodb: 'Decimal128 holds 34 significant digits: a value with more (and NaN) is written as its exact String' }),
  pg('real', 'real', { kind: 'float', bits: 32 }, { mysql: 'FLOAT: NaN and ±Infinity have no MySQL form', sqlite: 'NaN and ±Infinity read back as text', mongodb: 'NaN and ±Infinity are strings in records' }),
  pg('double', 'double precision', { kind: 'float', bits: 64 }, { mysql: 'DOUBLE: NaN and ±Infinity have no MySQL form', sqlite: 'NaN and ±Infinity read back as text', mongodb: 'NaN and ±Infinity are strings in records' }),
  pg('boolean', 'boolean', { kind: 'boolean' }, { mysql: 'BOOLEAN is TINYINT(1): read back as 0/1', sqlite: NO_BOOLEAN_SQLITE }),
  pg('text', 'text', { kind: 'string' }),
  pg('varchar', 'varchar(20)', { kind: 'string', length: 20 }),
  pg('char', 'char(5)', { kind: 'string', length: 5, fixed: true }, { mysql: 'CHAR(5): MySQL strips the trailing spaces PostgreSQL pads with' }),
  pg('json', 'json', { kind: 'json' }, { postgres: 'jsonb: object keys reordered, duplicate keys dropped, whitespace not kept', sqlite: 'JSON text' }),
  pg('jsonb', 'jsonb', { kind: 'json' }, { sqlite: 'JSON text' }),
  pg('bytea', 'bytea', { kind: 'binary' }),
  pg('date', 'date', { kind: 'date' }, { mysql: 'DATE: BC dates and infinity have no MySQL form', sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }),
  pg('timestamp', 'timestamp(6)', { kind: 'datetime', fraction: 6 }, { mysql: 'DATETIME(6): years 1000–9999 only', sqlite: TEXT_SQLITE, mongodb: 'a String: a Date holds milliseconds only' }),
  pg('timestamptz', 'timestamptz', { kind: 'timestamp', fraction: 6 }, { mysql: 'TIMESTAMP(6): 1970–2038 only', sqlite: TEXT_SQLITE, mongodb: 'a String: a Date holds milliseconds only' }),
  pg('time', 'time', { kind: 'time', fraction: 6 }, { sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }),
  pg('timetz', 'timetz', OTHER, pgText('time with time zone')),
  pg('interval', 'interval', OTHER, pgText('interval')),
  pg('uuid', 'uuid', { kind: 'uuid' }, { mysql: 'UUID on MariaDB 10.7+ (RFC 4122 values only), else CHAR(36)', sqlite: TEXT_SQLITE, mongodb: MONGO_STRING }),
  pg('inet', 'inet', OTHER, pgText('inet')),
  pg('cidr', 'cidr', OTHER, pgText('cidr')),
  pg('macaddr', 'macaddr', OTHER, pgText('macaddr')),
  pg('macaddr8', 'macaddr8', OTHER, pgText('macaddr8')),
  pg('money', 'money', OTHER, pgText('money (its text depends on lc_monetary)')),
  pg('bit', 'bit(8)', OTHER, pgText('bit(n)')),
  pg('varbit', 'bit varying(16)', OTHER, pgText('bit varying')),
  pg('xml', 'xml', OTHER, pgText('xml')),
  pg('tsvector', 'tsvector', OTHER, pgText('tsvector')),
  pg('tsquery', 'tsquery', OTHER, pgText('tsquery')),
  pg('point', 'point', OTHER, pgText('point (a geometric type, not PostGIS)')),
  pg('line', 'line', OTHER, pgText('line')),
  pg('lseg', 'lseg', OTHER, pgText('lseg')),
  pg('box', 'box', OTHER, pgText('box')),
  pg('path', 'path', OTHER, pgText('path')),
  pg('polygon', 'polygon', OTHER, pgText('polygon (a geometric type, not PostGIS)')),
  pg('circle', 'circle', OTHER, pgText('circle')),
  pg('int4range', 'int4range', OTHER, pgText('a range')),
  pg('numrange', 'numrange', OTHER, pgText('a range')),
  pg('tstzrange', 'tstzrange', OTHER, pgText('a range')),
  pg('daterange', 'daterange', OTHER, pgText('a range')),
  pg('enum', 'mood (an enum)', OTHER, pgText('an enum type (its labels)')),
  pg('domain', 'price (a domain over numeric(10,2))', { kind: 'decimal', precision: 10, scale: 2 }, { postgres: 'numeric(10,2): the domain and its checks are not kept', sqlite: TEXT_SQLITE, mongodb: MONGO_DECIMAL }),
];

/** arrays of each scalar that has an array type worth its own row */
const PG_ARRAYS: SourceType[] = ['smallint', 'integer', 'bigint', 'numeric', 'real', 'double precision', 'boolean', 'text', 'varchar', 'bytea', 'date', 'timestamp', 'timestamptz', 'time', 'interval', 'uuid', 'json', 'jsonb', 'inet', 'mood'].map((t) =>
  pg(`${t.replace(' ', '_')}_array`, `${t}[]`, { kind: 'json' }, ARRAY(t)),
);

export const SOURCE_TYPES: readonly SourceType[] = [...MYSQL_TYPES, ...PG_SCALARS, ...PG_ARRAYS];

/**
 * Values a source has no faithful record value for, and the source option that says what becomes of
 * them: nothing of the kind is rewritten without being asked for. Tabled in docs/type-mapping.md; the
 * type-table test runs each choice.
 */
export interface ValueRule {
  family: SourceFamily;
  /** the values, as the source's database prints them */
  values: string;
  /** the column types that can hold them */
  types: string;
  /** the source node's config field */
  option: string;
  default: string;
  /** what each choice does */
  choices: Record<string, string>;
}

export const VALUE_RULES: readonly ValueRule[] = [
  {
    family: 'mysql',
    values: "zero dates: '0000-00-00', '0000-00-00 00:00:00[.ffffff]'",
    types: 'DATE, DATETIME, TIMESTAMP',
    option: 'zeroDates',
    default: 'error',
    choices: {
      error: 'the flow fails with an error naming table, column and the row\'s key',
      null: 'null (the zero date is rewritten, because you asked for it)',
      text: "the text as MySQL prints it ('0000-00-00'): kept by mysql.sink, sqlite.sink (TEXT) and mongodb.sink (a String); postgres.sink fails the batch naming the column (PostgreSQL has no zero date)",
    },
  },
];
