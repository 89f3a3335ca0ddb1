/** A webhook body as objects: one JSON object, a JSON array of objects, or JSON Lines (one object a line). */
import type { Value } from '../../runtime/index.js';

export type Parsed = { ok: true; values: Value[] } | { ok: false; error: string };

const JSONL_TYPES = /^application\/(x-ndjson|jsonl|json-lines|x-jsonlines)\b/i;

const isObject = (v: unknown): v is Value => v !== null && typeof v === 'object' && !Array.isArray(v);

export function parseBody(body: Buffer, contentType: string | undefined, format: 'auto' | 'json' | 'jsonl', maxRecords: number): Parsed {
  const text = body.toString('utf8');
  if (!text.trim()) return { ok: false, error: 'the body is empty: send a JSON object, an array of objects, or JSON Lines' };
  const lines = format === 'jsonl' || (format === 'auto' && JSONL_TYPES.test(contentType ?? ''));
  if (lines) {
    const values: Value[] = [];
    const all = text.split('\n');
    for (let i = 0; i < all.length; i++) {
      const line = all[i].trim();
      if (!line) continue;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (err) {
        return { ok: false, error: `line ${i + 1}: not JSON: ${(err as Error).message}` };
      }
      if (!isObject(v)) return { ok: false, error: `line ${i + 1}: a record must be a JSON object, not ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}` };
      values.push(v);
      if (values.length > maxRecords) return { ok: false, error: `more than ${maxRecords} records in one request (maxRecords): split it` };
    }
    return { ok: true, values };
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `the body is not JSON: ${(err as Error).message} (JSON Lines: send Content-Type application/x-ndjson)` };
  }
  if (isObject(v)) return { ok: true, values: [v] };
  if (Array.isArray(v)) {
    if (v.length > maxRecords) return { ok: false, error: `more than ${maxRecords} records in one request (maxRecords): split it` };
    const bad = v.findIndex((x) => !isObject(x));
    if (bad >= 0) return { ok: false, error: `[${bad}]: a record must be a JSON object` };
    return { ok: true, values: v as Value[] };
  }
  return { ok: false, error: 'the body must be a JSON object or an array of objects' };
}
