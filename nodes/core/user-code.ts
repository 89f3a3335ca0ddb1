/**
 * What core.map and core.filter share: the `code` config field, and one sandbox call per batch that
 * evaluates the user's function on each record's `value` and, where the source knows it, `before`.
 */
import { z } from 'zod';
import { CODE_MARK, type CallResult, type SluiceRecord, type UserFunction } from '../../runtime/index.js';

export const codeField = (example: string) =>
  z.string().min(1, 'user code is required').describe(`JavaScript function, run in a sandbox once per record. Example: ${example}`).meta(CODE_MARK);

export interface Evaluated {
  record: SluiceRecord;
  value?: CallResult;
  before?: CallResult;
}

/** Calls `fn(row, meta)` for each record's value and before (each when present), in one sandbox call. */
export async function evaluate(fn: UserFunction, records: SluiceRecord[]): Promise<Evaluated[]> {
  const calls: unknown[][] = [];
  const slots: { index: number; field: 'value' | 'before' }[] = [];
  // a function that declares one parameter never reads meta: do not copy it into the sandbox
  const withMeta = fn.arity !== 1;
  records.forEach((r, index) => {
    const meta = withMeta ? { ...r.meta, op: r.op, key: r.key } : undefined;
    if (r.value) {
      calls.push(withMeta ? [r.value, meta] : [r.value]);
      slots.push({ index, field: 'value' });
    }
    if (r.before) {
      calls.push(withMeta ? [r.before, meta] : [r.before]);
      slots.push({ index, field: 'before' });
    }
  });
  const results = calls.length > 0 ? await fn.callBatch(calls) : [];
  const out: Evaluated[] = records.map((record) => ({ record }));
  slots.forEach((slot, i) => (out[slot.index][slot.field] = results[i]));
  return out;
}

export function errorRecord(record: SluiceRecord, node: string, message: string): SluiceRecord {
  return { ...record, meta: { ...record.meta, error: { node, message } } };
}
