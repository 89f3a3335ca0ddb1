/**
 * Kafka message bytes ↔ record fields, shared by kafka.source and kafka.sink so that what one writes the
 * other reads back: keys and values as JSON, text or bytes (`{ $base64 }`), headers ↔ `meta.headers`, and
 * the change envelope (`{ op, key, value, before, table }`) marked by the `sluice-envelope` header.
 */
import type { IHeaders } from 'kafkajs';
import { z } from 'zod';
import { decodeBinary, encodeBinary, isBase64Value } from '../shared/binary.js';
import type { Op, SluiceRecord, Value } from '../../runtime/index.js';

export const formatSchema = z.enum(['json', 'text', 'bytes']);
export type Format = z.output<typeof formatSchema>;

/** header that marks a message written by kafka.sink with `envelope: true` (and the tombstone after a delete) */
export const ENVELOPE_HEADER = 'sluice-envelope';
const OPS = new Set<Op>(['c', 'u', 'd', 'r']);

export class DecodeError extends Error {}

/** bytes → a key: JSON (any value), text (a string) or bytes (`{ $base64 }`) */
export function decodeKey(buf: Buffer | null, format: Format): unknown {
  if (buf === null) return null;
  if (format === 'text') return buf.toString('utf8');
  if (format === 'bytes') return encodeBinary(buf);
  return parseJson(buf, 'key');
}

/** bytes → a record value: a JSON object as it is, any other JSON as `{ value }`, text as `{ value: text }`, bytes as `{ $base64 }` */
export function decodeValue(buf: Buffer, format: Format): Value {
  if (format === 'bytes') return encodeBinary(buf) as unknown as Value;
  if (format === 'text') return { value: buf.toString('utf8') };
  const v = parseJson(buf, 'value');
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Value) : { value: v };
}

function parseJson(buf: Buffer, what: string): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (err) {
    throw new DecodeError(`${what} is not JSON (${(err as Error).message}); set ${what}Format: text or bytes to read it as it is`);
  }
}

/** a key for the wire: JSON text, a scalar's text, or the bytes of `{ $base64 }` */
export function encodeKey(key: unknown, format: Format): Buffer | null {
  if (key === undefined || key === null) return null;
  if (format === 'bytes' || isBase64Value(key)) {
    if (isBase64Value(key)) return decodeBinary(key);
    if (format === 'bytes') throw new DecodeError(`keyFormat bytes needs keys of the form { $base64: "..." }, not ${JSON.stringify(key).slice(0, 80)}`);
  }
  if (format === 'text') return Buffer.from(typeof key === 'object' ? JSON.stringify(key) : String(key));
  return Buffer.from(JSON.stringify(key, bigints));
}

const bigints = (_k: string, v: unknown) => (typeof v === 'bigint' ? v.toString() : v);

export function encodeJson(v: unknown): Buffer {
  return Buffer.from(JSON.stringify(v, bigints));
}

/** the envelope a kafka.sink with `envelope: true` writes for a record */
export function envelopeOf(r: SluiceRecord): Record<string, unknown> {
  const e: Record<string, unknown> = { op: r.op, key: r.key ?? null, value: r.value };
  if (r.before !== undefined) e.before = r.before;
  if (typeof r.meta.table === 'string') e.table = r.meta.table;
  if (typeof r.meta.ts === 'number') e.ts = r.meta.ts;
  return e;
}

/** an envelope read back: op, key, value, before (and the source table); DecodeError when it is not one */
export function fromEnvelope(v: Value): { op: Op; key: unknown; value: Value | null; before?: Value | null; table?: string; ts?: number } {
  const op = v.op as Op;
  if (!OPS.has(op) || !('value' in v)) throw new DecodeError(`the message has the ${ENVELOPE_HEADER} header but its value is not an envelope { op, key, value, before }`);
  const obj = (x: unknown) => (x !== null && typeof x === 'object' && !Array.isArray(x) ? (x as Value) : null);
  const out: ReturnType<typeof fromEnvelope> = { op, key: v.key ?? null, value: obj(v.value) };
  if ('before' in v) out.before = obj(v.before);
  if (typeof v.table === 'string') out.table = v.table;
  if (typeof v.ts === 'number') out.ts = v.ts;
  return out;
}

/** message headers as `meta.headers` (UTF-8 text; a header given several times keeps its last value) */
export function headersToMeta(headers: IHeaders | undefined): Record<string, string> | undefined {
  if (!headers) return undefined;
  let out: Record<string, string> | undefined;
  for (const [name, v] of Object.entries(headers)) {
    if (name === ENVELOPE_HEADER || v === undefined) continue;
    const last = Array.isArray(v) ? v[v.length - 1] : v;
    (out ??= {})[name] = Buffer.isBuffer(last) ? last.toString('utf8') : String(last);
  }
  return out;
}

/** `meta.headers` (strings, numbers, booleans) as message headers */
export function metaToHeaders(meta: Record<string, unknown>): Record<string, string> {
  const h = meta.headers;
  const out: Record<string, string> = {};
  if (h === null || typeof h !== 'object' || Array.isArray(h)) return out;
  for (const [name, v] of Object.entries(h)) {
    if (name === ENVELOPE_HEADER) continue;
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[name] = String(v);
  }
  return out;
}
