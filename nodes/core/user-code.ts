/**
 * What core.map and core.filter share: the `code` config field, and one sandbox call per batch that
 * evaluates the user's function on each record's `value` and, where the source knows it, `before`.
 */
import { z } from 'zod';
import { CODE_MARK, type CallResult, type SluiceRecord, type UserFunction } from '../../runtime/index.js';

export const codeField = (example: string) =>
  z.string().min(1, 'user code is required').describe(`JavaScript function, run in a sandbox once per record. Example: ${example}`).meta(CODE_MARK);

/**
 * Batches of one map or filter in the sandbox at once (the pool spreads them over its workers). 2 lost
 * on 2 cores in engine.map and postgres.copy (`npm run bench`), and costs a second worker's memory: the
 * host, not the sandbox, is the busy core. Kept as a constant to raise on machines with more cores.
 */
export const SANDBOX_BATCHES_IN_FLIGHT = 1;

/** per record, by index: the result for its value and for its before row (each when present) */
export interface Evaluated {
  values: (CallResult | undefined)[];
  befores: (CallResult | undefined)[];
}

/** Calls `fn(row, meta)` for each record's value and before (each when present), in one sandbox call. */
export async function evaluate(fn: UserFunction, records: SluiceRecord[]): Promise<Evaluated> {
  const calls: unknown[][] = [];
  // a function that declares one parameter never reads meta: do not copy it into the sandbox
  const withMeta = fn.arity !== 1;
  for (const r of records) {
    const meta = withMeta ? { ...r.meta, op: r.op, key: r.key } : undefined;
    if (r.value) calls.push(withMeta ? [r.value, meta] : [r.value]);
    if (r.before) calls.push(withMeta ? [r.before, meta] : [r.before]);
  }
  const results = calls.length > 0 ? await fn.callBatch(calls) : [];
  const values: (CallResult | undefined)[] = new Array(records.length);
  const befores: (CallResult | undefined)[] = new Array(records.length);
  let next = 0;
  for (let i = 0; i < records.length; i++) {
    if (records[i].value) values[i] = results[next++];
    if (records[i].before) befores[i] = results[next++];
  }
  return { values, befores };
}

/** the first failed result of a record's value and before row */
export function failure(value: CallResult | undefined, before: CallResult | undefined): string | undefined {
  if (value && !value.ok) return value.error;
  if (before && !before.ok) return before.error;
  return undefined;
}

export function errorRecord(record: SluiceRecord, node: string, message: string): SluiceRecord {
  return { ...record, meta: { ...record.meta, error: { node, message } } };
}
