/**
 * What core.map and core.filter share: the `code` config field, and their instance (userCodeTransform):
 * one sandbox call per batch that evaluates the user's function on each record's `value` and, where the
 * source knows it, `before`; a record whose function threw goes to the error port.
 */
import { z } from 'zod';
import { CODE_MARK, type NodeContext, type SluiceRecord, type TransformInstance, type UserFunction } from '../../runtime/index.js';

export const codeField = (example: string) =>
  z.string().min(1, 'user code is required').describe(`JavaScript function, run in a sandbox once per record. Example: ${example}`).meta(CODE_MARK);

/**
 * Batches of one map or filter in the sandbox at once: `settings.sandbox.parallelism` (default 1), each
 * in its own worker process. The overlapping loop (runtime node-loops) emits their outputs in input
 * order, so downstream and the position ledger see what one batch at a time would give.
 */
export const sandboxParallelism = (ctx: NodeContext<unknown>): number => Math.max(1, ctx.settings.sandbox.parallelism ?? 1);

/** a record's result where its function was not called (it has no value, or no before row) */
export const NOT_CALLED: unique symbol = Symbol('not called');

/** the results of one batch, by record index: its function's results (NOT_CALLED where there was no call) */
export interface Evaluated {
  /** the first failure of record i (its value's, else its before row's), undefined when none */
  failure(i: number): string | undefined;
  value(i: number): unknown;
  before(i: number): unknown;
}

/**
 * Calls `fn(row, meta)` for each record's value and before (each when present), in one sandbox call.
 * The results stay in the sandbox's arrays, read by index: no object per result.
 */
export async function evaluate(fn: UserFunction, records: SluiceRecord[]): Promise<Evaluated> {
  let count = 0;
  for (const r of records) count += (r.value ? 1 : 0) + (r.before ? 1 : 0);
  // sized up front: filled by index, never grown
  const calls: unknown[] = new Array(count);
  let next = 0;
  // a function that declares one parameter never reads meta: do not copy it into the sandbox, and
  // pass each row as the call's only argument (no argument list per call)
  const withMeta = fn.arity !== 1;
  // call index of each record's value and before row, -1 where there is none
  const valueAt = new Int32Array(records.length).fill(-1);
  const beforeAt = new Int32Array(records.length).fill(-1);
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    const meta = withMeta ? { ...r.meta, op: r.op, key: r.key } : undefined;
    if (r.value) {
      valueAt[i] = next;
      calls[next++] = withMeta ? [r.value, meta] : r.value;
    }
    if (r.before) {
      beforeAt[i] = next;
      calls[next++] = withMeta ? [r.before, meta] : r.before;
    }
  }
  const { values, errors } = count > 0 ? await fn.callValues(calls, !withMeta) : { values: [], errors: undefined };
  const result = (at: number) => (at < 0 ? NOT_CALLED : values[at]);
  return {
    failure: (i) => (errors === undefined ? undefined : (errors.get(valueAt[i]) ?? errors.get(beforeAt[i]))),
    value: (i) => result(valueAt[i]),
    before: (i) => result(beforeAt[i]),
  };
}

export function errorRecord(record: SluiceRecord, node: string, message: string): SluiceRecord {
  return { ...record, meta: { ...record.meta, error: { node, message } } };
}

/**
 * what a node does with one record whose function did not throw: push to `out` (or `error`); `value`
 * and `before` are the function's results for its value and before row, NOT_CALLED where it has none
 */
export type EachRecord = (record: SluiceRecord, value: unknown, before: unknown, out: SluiceRecord[], error: SluiceRecord[]) => void;

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
      const results = await evaluate(fn!, records);
      for (let i = 0; i < records.length; i++) {
        const failed = results.failure(i);
        if (failed !== undefined) error.push(errorRecord(records[i], ctx.nodeId, failed));
        else each(records[i], results.value(i), results.before(i), out, error);
      }
      return { out, error };
    },
    async close() {
      fn?.dispose();
    },
  };
}
