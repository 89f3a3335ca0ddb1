/**
 * Values between BSON documents and records, for every mongodb.* node (and the mongodb reference of
 * core.denormalize). Records are JSON-serialisable, so BSON types that JSON cannot hold become strings
 * or small tagged objects; the sink turns the tagged objects back into BSON.
 *
 * BSON → record (mongodb.source, the mongodb reference table):
 *
 * | BSON type                         | record value                                                      |
 * |-----------------------------------|-------------------------------------------------------------------|
 * | ObjectId                          | its 24-digit hex string ('65a1…')                                 |
 * | Decimal128                        | string, exactly as stored ('12.30')                               |
 * | Date                              | ISO 8601 string in UTC ('2024-05-01T12:00:00.000Z'); invalid → null |
 * | Binary (any subtype, UUID too)    | `{ $base64: '…' }` (nodes/shared/binary.ts); the subtype is dropped |
 * | Int32, Double                     | number (NaN and ±Infinity stay numbers: JSON writes them as null) |
 * | Int64 (Long)                      | number within ±2^53, else its exact decimal string                |
 * | String, Boolean, Null             | the same; Undefined (deprecated) → null                           |
 * | embedded document, array          | object, array, converted field by field                           |
 * | Timestamp, RegExp, MinKey, MaxKey, Code, DBRef … | relaxed Extended JSON: `{ $timestamp: { t, i } }`, `{ $regularExpression: { pattern, options } }`, `{ $minKey: 1 }` … |
 * | Symbol                            | string                                                            |
 *
 * Record → BSON (mongodb.sink):
 *
 * | record value                                  | BSON type                                          |
 * |-----------------------------------------------|----------------------------------------------------|
 * | number                                        | Int32 when an integer within ±2^31, else Double    |
 * | bigint                                        | Int64                                              |
 * | string                                        | String; ObjectId for a 24-hex-digit string in a field named by the sink's `objectIdFields` |
 * | boolean, null                                 | Boolean, Null (an undefined field is left out)     |
 * | `{ $base64 }`, Buffer, Uint8Array             | Binary (subtype 0)                                 |
 * | Date                                          | Date                                               |
 * | an object whose only field is a canonical Extended JSON tag (`$oid`, `$date`, `$numberDecimal`, `$numberLong`, `$timestamp`, `$regularExpression`, `$minKey`, `$maxKey`, `$binary`, `$uuid`, `$code`) | that BSON type (so what the source wrote as `{ $timestamp }` goes back as a Timestamp) |
 * | other object, array (nested documents from core.denormalize) | embedded document, array, converted field by field |
 *
 * What does not round-trip MongoDB → MongoDB by itself: ObjectId, Decimal128 and Date arrive as strings
 * and are written as strings, unless the sink's `objectIdFields` names the ObjectId fields.
 *
 * Declared types (conversion mode): when a SQL source says what a table's columns are (`meta.schema`,
 * nodes/shared/columns.ts), the sink writes those top-level fields as the BSON type the declaration asks
 * for instead of the value's JSON type (declaredConverters):
 *
 * | declared kind                         | record value            | BSON type                                  |
 * |---------------------------------------|-------------------------|--------------------------------------------|
 * | decimal                               | '12.30'                 | Decimal128 (exact; beyond 34 digits: String) |
 * | integer of 64 bits (signed)           | number or big string    | Int64 (Long)                               |
 * | integer of 64 bits, unsigned          | number or big string    | Int64 up to 2^63 − 1, else Decimal128      |
 * | boolean (MySQL TINYINT(1))            | 0 / 1                   | Boolean                                    |
 * | timestamp, datetime with at most 3 fractional digits | ISO 8601 string | Date (a zone-less datetime read as UTC) |
 * | anything else, and timestamps / datetimes with 4–6 fractional digits (a Date holds milliseconds) | — | as in the table above |
 */
import type { Binary, Long, ObjectId, Document } from 'mongodb';
import { mongo } from './driver.js';
import { INT64_MAX, type ColumnSpec, type TableSchema } from '../shared/columns.js';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';
import { isGeometryValue, wkbOf, wkbToGeoJson } from '../shared/geometry.js';

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A BSON value (as the driver deserialises it) as a record value; see the table above. */
export function fromBson(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object') return typeof v === 'bigint' ? bigintValue(v) : v;
  if (Array.isArray(v)) return v.map(fromBson);
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  const tag = (v as { _bsontype?: string })._bsontype;
  if (tag === undefined) {
    if (v instanceof Uint8Array) return encodeBinary(v);
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = fromBson(x);
    return out;
  }
  switch (tag) {
    case 'ObjectId':
      return (v as ObjectId).toHexString();
    case 'Decimal128':
      return (v as { toString(): string }).toString();
    case 'Binary':
      return { $base64: (v as Binary).toString('base64') };
    case 'Long':
      return longValue(v as Long);
    case 'Int32':
    case 'Double':
      return (v as { valueOf(): number }).valueOf();
    case 'BSONSymbol':
      return (v as { valueOf(): string }).valueOf();
    default:
      // Timestamp, BSONRegExp, MinKey, MaxKey, Code, DBRef: relaxed Extended JSON
      return mongo.BSON.EJSON.serialize(v, { relaxed: true });
  }
}

/** A document from the driver as a record value. */
export function documentValue(doc: Document): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(doc)) out[k] = fromBson(x);
  return out;
}

function longValue(l: Long): number | string {
  const n = l.toNumber();
  return Number.isSafeInteger(n) ? n : l.toString();
}

function bigintValue(b: bigint): number | string {
  return b <= MAX_SAFE && b >= -MAX_SAFE ? Number(b) : b.toString();
}

/** canonical Extended JSON tags the sink turns back into BSON when an object holds only that field */
const EJSON_TAGS = new Set([
  '$oid',
  '$date',
  '$numberDecimal',
  '$numberLong',
  '$timestamp',
  '$regularExpression',
  '$minKey',
  '$maxKey',
  '$binary',
  '$uuid',
  '$code',
]);

const HEX24 = /^[0-9a-fA-F]{24}$/;

/**
 * A record value as a BSON value (table above). `objectIdFields`: top-level field names whose
 * 24-hex-digit strings become ObjectIds (applied by toDocument, not inside nested documents).
 */
export function toBson(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? mongo.Long.fromBigInt(v) : v;
  if (Array.isArray(v)) return v.map(toBson);
  if (v instanceof Date) return v;
  if ((v as { _bsontype?: string })._bsontype !== undefined) return v;
  if (v instanceof Uint8Array) return new mongo.Binary(v);
  const keys = Object.keys(v);
  if (keys.length === 1) {
    if (isBase64Value(v)) return new mongo.Binary(decodeBinary(v));
    // GeoJSON, what MongoDB's geo indexes read (it has no SRID: it means WGS 84)
    if (isGeometryValue(v)) return wkbToGeoJson(wkbOf(v));
    if (EJSON_TAGS.has(keys[0])) {
      try {
        return mongo.BSON.EJSON.deserialize(v as Document, { relaxed: false });
      } catch {
        // not valid Extended JSON after all: written as the object it is
      }
    }
  }
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = toBson(x);
  }
  return out;
}

/** A top-level field value as BSON, honouring `objectIdFields`. */
export function fieldToBson(field: string, v: unknown, objectIdFields: ReadonlySet<string>): unknown {
  if (typeof v === 'string' && objectIdFields.has(field) && HEX24.test(v)) return new mongo.ObjectId(v);
  try {
    return toBson(v);
  } catch (err) {
    throw new Error(`field ${field}: ${(err as Error).message}`, { cause: err });
  }
}

/** A record's value as a document to write. */
export function toDocument(value: Record<string, unknown>, objectIdFields: ReadonlySet<string>): Document {
  const doc: Document = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) doc[k] = fieldToBson(k, v, objectIdFields);
  return doc;
}

// ---- declared types ------------------------------------------------------------------------------

type Converter = (v: unknown) => unknown;

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?$/;

function decimal128(v: unknown): unknown {
  const text = typeof v === 'number' && Number.isFinite(v) ? String(v) : v;
  if (typeof text !== 'string' || !DECIMAL.test(text)) return v;
  try {
    return mongo.Decimal128.fromString(text);
  } catch {
    return v; // more digits than Decimal128 holds (34): the exact string stays
  }
}

function int64(v: unknown, unsigned: boolean): unknown {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^[+-]?\d+$/.test(v)) n = BigInt(v);
  else return v;
  if (n <= INT64_MAX && n >= -INT64_MAX - 1n) return mongo.Long.fromBigInt(n);
  return unsigned ? decimal128(String(n)) : v;
}

function date(v: unknown, zoneless: boolean): unknown {
  if (typeof v !== 'string' || !ISO_DATETIME.test(v)) return v;
  const text = zoneless && !/(Z|[+-]\d{2}:?\d{2})$/.test(v) ? `${v.replace(' ', 'T')}Z` : v;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? v : d;
}

function converterFor(spec: ColumnSpec): Converter | undefined {
  switch (spec.kind) {
    case 'decimal':
      return decimal128;
    case 'integer':
      return (spec.bits ?? 64) > 32 ? (v) => int64(v, Boolean(spec.unsigned)) : undefined;
    case 'boolean':
      return (v) => (v === 0 || v === 1 ? v === 1 : v);
    case 'timestamp':
    case 'datetime':
      // a Date holds milliseconds: finer values (or an unknown precision) keep their exact string
      return spec.fraction !== undefined && spec.fraction <= 3 ? (v) => date(v, spec.kind === 'datetime') : undefined;
    default:
      return undefined;
  }
}

/** What mongodb.sink writes for a declared column, in words (docs/type-mapping.md): follows converterFor and toBson. */
export function bsonTypeForSpec(spec: ColumnSpec): string {
  switch (spec.kind) {
    case 'decimal':
      return 'Decimal128';
    case 'integer':
      if ((spec.bits ?? 64) <= 32) return 'Int32';
      return spec.unsigned ? 'Int64 (Decimal128 beyond 2^63 − 1)' : 'Int64';
    case 'float':
      return 'Double';
    case 'boolean':
      return 'Boolean';
    case 'timestamp':
    case 'datetime':
      return spec.fraction !== undefined && spec.fraction <= 3 ? 'Date' : 'String';
    case 'json':
      return 'document / array';
    case 'binary':
      return 'Binary';
    case 'geometry':
      return 'GeoJSON document';
    default:
      return 'String';
  }
}

const converters = new WeakMap<TableSchema, Map<string, Converter>>();

/** The top-level fields a declared schema gives another BSON type than their JSON value has (table above). */
export function declaredConverters(schema: TableSchema): Map<string, Converter> {
  let map = converters.get(schema);
  if (!map) {
    map = new Map();
    for (const c of schema.columns) {
      const f = converterFor(c);
      if (f) map.set(c.name, f);
    }
    converters.set(schema, map);
  }
  return map;
}

// ---- positions -----------------------------------------------------------------------------------

/** A BSON value (an _id, a resume token, a Timestamp) as JSON that keeps its exact type: canonical Extended JSON. */
export function encodeExact(v: unknown): unknown {
  return mongo.BSON.EJSON.serialize({ v }, { relaxed: false }).v;
}

/** The inverse of encodeExact. */
export function decodeExact(v: unknown): unknown {
  return mongo.BSON.EJSON.deserialize({ v } as Document, { relaxed: false }).v;
}
