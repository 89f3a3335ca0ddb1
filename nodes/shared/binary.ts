/**
 * Binary values in records. Records are JSON-serialisable (they cross socket.io, the dead-letter store and
 * JSON files), so a Buffer never goes into one: sources encode bytes as `{ $base64: '<standard base64>' }`
 * and sinks that can store bytes decode an object of exactly that one field back into bytes. Sinks that
 * cannot (JSON, CSV files) simply write the object.
 */

export const BASE64_FIELD = '$base64';

export interface Base64Value {
  $base64: string;
}

export function encodeBinary(bytes: Uint8Array): Base64Value {
  return { $base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64') };
}

/** true for `{ $base64: string }` with no other field */
export function isBase64Value(v: unknown): v is Base64Value {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  return keys.length === 1 && keys[0] === BASE64_FIELD && typeof (v as Base64Value).$base64 === 'string';
}

export function decodeBinary(v: Base64Value): Buffer {
  return Buffer.from(v.$base64, 'base64');
}
