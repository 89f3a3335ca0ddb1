/**
 * Message payloads as record values and back, the same for every broker (NATS, Solace, HTTP bodies):
 * `json` (an object is the value; any other JSON value becomes `{ value: x }`), `text` (`{ text }`),
 * `bytes` (`{ $base64 }`). A payload that does not decode is an error with the reason, so the source can
 * send it to its error port with the raw payload instead of losing it or stopping.
 */
import { z } from 'zod';
import type { SluiceRecord, Value } from '../../runtime/index.js';
import { encodeBinary, isBase64Value, decodeBinary } from './binary.js';

export const payloadFormat = z
  .enum(['json', 'text', 'bytes'])
  .default('json')
  .describe('json: the payload is a JSON document (an object becomes the value, anything else { value }); text: { text }; bytes: { $base64 }');

export type PayloadFormat = z.output<typeof payloadFormat>;

const decoder = new TextDecoder('utf-8', { fatal: false });

export type Decoded = { ok: true; value: Value } | { ok: false; error: string; raw: Value };

export function decodePayload(data: Uint8Array, format: PayloadFormat): Decoded {
  if (format === 'bytes') return { ok: true, value: encodeBinary(data) as unknown as Value };
  const text = decoder.decode(data);
  if (format === 'text') return { ok: true, value: { text } };
  try {
    const v: unknown = JSON.parse(text);
    return { ok: true, value: v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Value) : { value: v } };
  } catch (err) {
    return { ok: false, error: `payload is not JSON: ${(err as Error).message}`, raw: rawOf(data) };
  }
}

/** the undecodable payload kept in the error record: text when it is valid UTF-8, else `{ $base64 }` */
function rawOf(data: Uint8Array): Value {
  try {
    return { raw: new TextDecoder('utf-8', { fatal: true }).decode(data) };
  } catch {
    return { raw: encodeBinary(data) };
  }
}

/** what a sink publishes for a record: the value as JSON (optionally the envelope), text, or bytes */
export function encodePayload(record: SluiceRecord, format: PayloadFormat, envelope: boolean): Uint8Array {
  if (envelope) return Buffer.from(JSON.stringify({ op: record.op, key: record.key, value: record.value, before: record.before ?? null }));
  const v = record.op === 'd' ? (record.value ?? record.before ?? null) : record.value;
  if (format === 'bytes' && isBase64Value(v)) return decodeBinary(v);
  if (format === 'text' && v && typeof v.text === 'string') return Buffer.from(v.text);
  return Buffer.from(JSON.stringify(v));
}
