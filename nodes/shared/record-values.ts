/**
 * What the record value of each source column is (docs/type-mapping.md, section A), and the column type a
 * sink creates from a record value when no declared type says otherwise (section B), as data: `npm run
 * docs` writes both tables from here (nodes/type-mapping-docs.ts). Section B's rows carry an example
 * value; test/unit/type-mapping-docs.test.ts checks that pgTypeOf, columnTypeFor and sqlTypeOf give the
 * types named here for it.
 */

export type SourceNode = 'postgres' | 'mysql' | 'sqlite' | 'mongodb';

/** Section A: per family of types, what each source gives ('—': it has no such type). */
export interface SourceValueRow {
  family: string;
  values: Record<SourceNode, string>;
}

export const SOURCE_VALUES: readonly SourceValueRow[] = [
  { family: 'integers (small)', values: { postgres: 'smallint, integer, oid → number', mysql: 'TINYINT, SMALLINT, MEDIUMINT, INT, YEAR → number', sqlite: 'INTEGER storage → number', mongodb: 'Int32 → number' } },
  { family: '64-bit / unsigned', values: { postgres: 'bigint → number within ±(2^53−1), else exact decimal string', mysql: 'BIGINT signed or unsigned → number within ±2^53, else exact decimal string', sqlite: 'INTEGER → number within ±2^53, else exact decimal string', mongodb: 'Long (Int64) → number within ±2^53, else exact decimal string' } },
  { family: 'decimal / numeric', values: { postgres: 'numeric, decimal → string, PostgreSQL\'s text form (exact; `NaN` as string); money → its text form', mysql: 'DECIMAL, NUMERIC → string as MySQL prints it (`-12.3400`)', sqlite: 'no decimal type: the stored value (REAL → number, TEXT → string)', mongodb: 'Decimal128 → string (`12.30`)' } },
  { family: 'float', values: { postgres: 'real, double precision → number; NaN, Infinity, -Infinity → strings', mysql: 'FLOAT → shortest decimal of the float32 (`1.1`); DOUBLE, REAL → number', sqlite: 'REAL → number', mongodb: 'Double → number (NaN, ±Infinity stay numbers)' } },
  { family: 'boolean', values: { postgres: 'boolean → boolean', mysql: 'BOOLEAN is TINYINT(1) → number 0/1', sqlite: 'no boolean type: stored integer → number', mongodb: 'Boolean → boolean' } },
  { family: 'text / varchar / char', values: { postgres: '→ string', mysql: 'CHAR, VARCHAR, *TEXT → string', sqlite: 'TEXT → string', mongodb: 'String → string; Symbol → string' } },
  { family: 'date', values: { postgres: 'date → string as printed (`2026-01-02`)', mysql: 'DATE → `YYYY-MM-DD`', sqlite: 'no date type: the stored value as is', mongodb: '— (no BSON date-only type)' } },
  { family: 'time', values: { postgres: 'time, timetz → string as printed (`03:04:05`, `03:04:05+00`)', mysql: 'TIME → `[-]HH:MM:SS[.ffffff]` (may exceed 24 h)', sqlite: 'stored value as is', mongodb: '—' } },
  { family: 'timestamp without zone', values: { postgres: 'timestamp → `2026-01-02T03:04:05.123456` (no zone)', mysql: 'DATETIME → `YYYY-MM-DDTHH:MM:SS[.ffffff]` (no zone)', sqlite: 'stored value as is', mongodb: '—' } },
  { family: 'timestamp with zone', values: { postgres: 'timestamptz → UTC, `…05.123456Z` (session TimeZone UTC); `infinity`, BC dates as printed', mysql: 'TIMESTAMP → UTC, `…Z`', sqlite: 'stored value as is', mongodb: 'Date → `2024-05-01T12:00:00.000Z` (ms); invalid Date → null; Timestamp → `{ $timestamp: { t, i } }`' } },
  { family: 'zero dates', values: { postgres: '—', mysql: '`0000-00-00…` in DATE/DATETIME/TIMESTAMP → by the source\'s `zeroDates`: an error naming table, column and key (default), null, or the text (see "Values without a record value" below)', sqlite: '—', mongodb: '—' } },
  { family: 'interval', values: { postgres: 'interval → string as printed (IntervalStyle postgres: `1 day 02:00:00`)', mysql: '—', sqlite: '—', mongodb: '—' } },
  { family: 'json / jsonb', values: { postgres: 'json, jsonb → parsed value (object, array, string, number…)', mysql: 'JSON (MariaDB: LONGTEXT with CHECK json_valid) → parsed value; text that does not parse stays a string', sqlite: 'stored TEXT → string (not parsed)', mongodb: 'embedded document → object (field by field)' } },
  { family: 'arrays', values: { postgres: 'any array type → JS array (nested for multi-dimensional, NULL → null), elements parsed by element type', mysql: '—', sqlite: '—', mongodb: 'array → array' } },
  { family: 'bytes', values: { postgres: 'bytea → `{ $base64 }`', mysql: 'BINARY, VARBINARY, *BLOB → `{ $base64 }`', sqlite: 'BLOB → `{ $base64 }`', mongodb: 'Binary (any subtype, UUID too) → `{ $base64 }`, subtype dropped' } },
  { family: 'uuid', values: { postgres: 'uuid → string', mysql: 'MariaDB UUID: bytes → `{ $base64 }`, a string stays a string', sqlite: 'stored value as is', mongodb: 'Binary subtype 4 → `{ $base64 }`' } },
  { family: 'ObjectId', values: { postgres: '—', mysql: '—', sqlite: '—', mongodb: 'ObjectId → 24-hex-digit string' } },
  { family: 'enum / set', values: { postgres: 'enum → string', mysql: 'ENUM → string; SET → `a,b` string', sqlite: '—', mongodb: '—' } },
  { family: 'bit', values: { postgres: 'bit, varbit → string (text form, `101`)', mysql: 'BIT(n) → number (a string beyond 2^53)', sqlite: '—', mongodb: '—' } },
  { family: 'domains', values: { postgres: 'as their base type', mysql: '—', sqlite: '—', mongodb: '—' } },
  { family: 'geometry', values: { postgres: 'PostGIS geometry, geography → `{ $geometry: { srid, wkb } }` (WKB in base64, nodes/shared/geometry.ts)', mysql: 'GEOMETRY, POINT … GEOMETRYCOLLECTION → `{ $geometry: { srid, wkb } }` (snapshot; from the binlog: an error naming table and column, since the binlog reader drops the SRID)', sqlite: 'BLOB → `{ $base64 }`', mongodb: 'GeoJSON document → object' } },
  { family: 'other', values: { postgres: 'anything else (inet, ranges…) → the type\'s text form (string)', mysql: 'anything else that arrives as bytes → `{ $base64 }`, else as the driver gives it', sqlite: '—', mongodb: 'RegExp, MinKey, MaxKey, Code, DBRef → relaxed Extended JSON objects (`{ $regularExpression: … }`, `{ $minKey: 1 }`)' } },
];

/** A sink's column type for a value: `type` as its code names it, `key` for a key column where that differs. */
export interface CreatedColumn {
  type: string;
  key?: string;
  /** the cell as written, when it says more than `type (key)` */
  text?: string;
}

/** Section B: per kind of record value, what each sink creates for a field no declaration types. */
export interface ValueColumnRow {
  value: string;
  /** a value of the row, run through pgTypeOf, columnTypeFor and sqlTypeOf by the test; none for null only */
  example?: unknown;
  postgres: CreatedColumn;
  mysql: CreatedColumn;
  sqlite: CreatedColumn;
  /** BSON, chosen per value */
  mongodb: string;
}

const LONGTEXT = { type: 'LONGTEXT', key: 'VARCHAR(255)' };

export const VALUE_COLUMNS: readonly ValueColumnRow[] = [
  { value: 'integer number', example: 42, postgres: { type: 'bigint' }, mysql: { type: 'BIGINT' }, sqlite: { type: 'INTEGER' }, mongodb: 'Int32 within ±2^31, else Double' },
  { value: 'non-integer number', example: 1.5, postgres: { type: 'double precision' }, mysql: { type: 'DOUBLE' }, sqlite: { type: 'REAL' }, mongodb: 'Double' },
  { value: 'big integer as string (`"9007199254740993"`)', example: '9007199254740993', postgres: { type: 'text' }, mysql: LONGTEXT, sqlite: { type: 'TEXT' }, mongodb: 'String' },
  { value: 'decimal string (`"12.30"`)', example: '12.30', postgres: { type: 'text' }, mysql: LONGTEXT, sqlite: { type: 'TEXT' }, mongodb: 'String' },
  { value: '`YYYY-MM-DD` string', example: '2026-01-02', postgres: { type: 'text' }, mysql: { type: 'DATE', key: 'VARCHAR(255)' }, sqlite: { type: 'TEXT' }, mongodb: 'String' },
  {
    value: 'ISO date-time string with `T`',
    example: '2026-01-02T03:04:05.123+02:00',
    postgres: { type: 'text' },
    mysql: { type: 'DATETIME(6)', key: 'VARCHAR(255)', text: 'DATETIME(6) (VARCHAR(255)); written in UTC when it has an offset' },
    sqlite: { type: 'TEXT' },
    mongodb: 'String',
  },
  { value: 'other string', example: 'abc', postgres: { type: 'text' }, mysql: LONGTEXT, sqlite: { type: 'TEXT' }, mongodb: 'String; ObjectId if the field is in `objectIdFields` and the value is 24 hex digits' },
  {
    value: 'boolean',
    example: true,
    postgres: { type: 'boolean' },
    mysql: { type: 'BOOLEAN', key: 'BOOLEAN', text: 'BOOLEAN, i.e. TINYINT(1) (BOOLEAN as key too), written 1/0' },
    sqlite: { type: 'INTEGER', text: 'INTEGER, written 1/0' },
    mongodb: 'Boolean',
  },
  {
    value: 'object / array',
    example: { a: [1] },
    postgres: { type: 'jsonb' },
    mysql: { type: 'JSON', key: 'VARCHAR(255)', text: 'JSON (VARCHAR(255), JSON text)' },
    sqlite: { type: 'TEXT', text: 'TEXT (JSON text)' },
    mongodb: 'embedded document / array',
  },
  {
    value: 'object with one Extended JSON tag (`{ $oid }`, `{ $date }`, `{ $numberDecimal }`, `{ $timestamp }`…)',
    example: { $numberDecimal: '1.5' },
    postgres: { type: 'jsonb' },
    mysql: { type: 'JSON' },
    sqlite: { type: 'TEXT' },
    mongodb: 'that BSON type (ObjectId, Date, Decimal128, Timestamp…)',
  },
  { value: 'bytes `{ $base64 }`', example: { $base64: 'AAE=' }, postgres: { type: 'bytea' }, mysql: { type: 'LONGBLOB', key: 'VARBINARY(255)' }, sqlite: { type: 'BLOB' }, mongodb: 'Binary subtype 0' },
  {
    value: 'JS bigint (none of these sources emits one)',
    example: 12n,
    postgres: { type: 'numeric' },
    mysql: { type: 'BIGINT', text: 'BIGINT, DECIMAL(65,0) beyond 64 bits' },
    sqlite: { type: 'INTEGER' },
    mongodb: 'Int64',
  },
  // no example: a column that only ever saw null is typed by the sink's fallback, not by a value
  { value: 'null only (no non-null value in the batch)', postgres: { type: 'text' }, mysql: LONGTEXT, sqlite: { type: 'TEXT' }, mongodb: 'Null (no schema)' },
];

/** the cell of a created column: its text, else `type (key type)` */
export const createdCell = (c: CreatedColumn): string => c.text ?? (c.key && c.key !== c.type ? `${c.type} (${c.key})` : c.type);
