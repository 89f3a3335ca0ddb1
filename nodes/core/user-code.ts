/**
 * What core.map and core.filter share: the `code` config field, and their instance (userCodeTransform):
 * one sandbox call per batch that evaluates the user's function on each record's `value` and, where the
 * source knows it, `before`; a record whose function threw goes to the error port.
 */
import { z } from 'zod';
import { CODE_MARK, type CallResult, type NodeContext, type SluiceRecord, type TransformInstance, type UserFunction } from '../../runtime/index.js';

export const codeField = (example: string) =>
  z.string().min(1, 'user code is required').describe(`JavaScript function, run in a sandbox once per record. Example: ${example}`).meta(CODE_MARK);

/**
 * Batches of one map or filter in the sandbox at once: `settings.sandbox.parallelism` (default 1), each
 * in its own worker process. The overlapping loop (runtime node-loops) emits their outputs in input
 * order, so downstream and the position ledger see what one batch at a time would give.
 */
export const sandboxParallelism = (ctx: NodeContext<unknown>): number => Math.max(1, ctx.settings.sandbox.parallelism ?? 1);

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

/** what a node does with one record whose function did not throw: push to `out` (or `error`) */
export type EachRecord = (record: SluiceRecord, value: CallResult | undefined, before: CallResult | undefined, out: SluiceRecord[], error: SluiceRecord[]) => void;

/**
 * The instance of a stateless node that runs `config.code` on every record: compiled on open, one
 * sandbox call per batch, a record whose function threw (on its value or its before row) sent to
 * `error`, every other record handed to `each` with its results.
 */
export function userCodeTransform(ctx: NodeContext<{ code: string }>, each: EachRecord): TransformInstance {
  let fn: UserFunction | undefined;
  const parallelism = sandboxParallelism(ctx);
  return {
    kind: 'transform',
    // stateless: more than one batch may be in the sandbox at once (see sandboxParallelism)
    concurrency: parallelism,
    async open() {
      fn = await ctx.compile(ctx.config.code, 'code', { workers: parallelism });
    },
    async process(records) {
      const out: SluiceRecord[] = [];
      const error: SluiceRecord[] = [];
      const { values, befores } = await evaluate(fn!, records);
      for (let i = 0; i < records.length; i++) {
        const failed = failure(values[i], befores[i]);
        if (failed !== undefined) error.push(errorRecord(records[i], ctx.nodeId, failed));
        else each(records[i], values[i], befores[i], out, error);
      }
      return { out, error };
    },
    async close() {
      fn?.dispose();
    },
  };
}
