/** What the two modes of core.denormalize share: the `as` field and reading key fields from records. */
import { z } from 'zod';
import { rowOf, ui, type SluiceRecord } from '../../../runtime/index.js';

export const asField = z
  .string()
  .min(1)
  .describe('the field that receives the match (lookup) or the array of children (nest), e.g. customer or lines')
  .meta(ui({ label: 'Put into field', help: 'the output field that receives the match or the children, e.g. customer' }));

/** a field name: one non-empty string */
export const fieldName = (description: string) => z.string().min(1).describe(description).meta(ui({ widget: 'field' }));

/**
 * The value of `field` in a record's row (`before` for a delete, see rowOf); a delete that carries only
 * its key gives it from the key (a field of an object key, or the key itself when it is a scalar).
 * undefined when absent.
 */
export function fieldOf(record: SluiceRecord, field: string): unknown {
  const v = rowOf(record)?.[field];
  if (v !== undefined || record.op !== 'd') return v;
  const key = record.key;
  if (key !== null && typeof key === 'object' && !Array.isArray(key)) return (key as Record<string, unknown>)[field];
  if (typeof key === 'string' || typeof key === 'number' || typeof key === 'bigint') return key;
  return undefined;
}

/** a value in a message: JSON, short */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
