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
 */
import { BSON, Binary, Long, ObjectId, type Document } from 'mongodb';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';

const { EJSON } = BSON;
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
      return EJSON.serialize(v, { relaxed: true });
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
  if (v === null || typeof v !== 'object') return typeof v === 'bigint' ? Long.fromBigInt(v) : v;
  if (Array.isArray(v)) return v.map(toBson);
  if (v instanceof Date) return v;
  if ((v as { _bsontype?: string })._bsontype !== undefined) return v;
  if (v instanceof Uint8Array) return new Binary(v);
  const keys = Object.keys(v);
  if (keys.length === 1) {
    if (isBase64Value(v)) return new Binary(decodeBinary(v));
    if (EJSON_TAGS.has(keys[0])) {
      try {
        return EJSON.deserialize(v as Document, { relaxed: false });
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
  if (typeof v === 'string' && objectIdFields.has(field) && HEX24.test(v)) return new ObjectId(v);
  return toBson(v);
}

/** A record's value as a document to write. */
export function toDocument(value: Record<string, unknown>, objectIdFields: ReadonlySet<string>): Document {
  const doc: Document = {};
  for (const [k, v] of Object.entries(value)) if (v !== undefined) doc[k] = fieldToBson(k, v, objectIdFields);
  return doc;
}

// ---- positions -----------------------------------------------------------------------------------

/** A BSON value (an _id, a resume token, a Timestamp) as JSON that keeps its exact type: canonical Extended JSON. */
export function encodeExact(v: unknown): unknown {
  return EJSON.serialize({ v }, { relaxed: false }).v;
}

/** The inverse of encodeExact. */
export function decodeExact(v: unknown): unknown {
  return EJSON.deserialize({ v } as Document, { relaxed: false }).v;
}
