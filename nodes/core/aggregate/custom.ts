/**
 * The sandboxed parts of core.aggregate: groupBy expressions and custom reducers. Both are compiled
 * once, into their own isolate, and called once per batch (callBatch takes every argument list of the
 * batch in one isolate call).
 *
 * A custom reducer is written as separate functions, `add(acc, value)`, optionally `remove(acc, value)`
 * and `result(acc)`, with `init` a JSON value. They are put together inside the isolate into one
 * function `(acc, ops) => { acc, out, errors }` that folds one group's operations of the batch, in
 * order; an operation that throws is reported with its index and skipped, so the engine can send that
 * record to the error port and fold the group again without it.
 */
import type { NodeContext, UserFunction } from '../../../runtime/index.js';
import type { AggregateConfig } from './config.js';

/** `(value, meta) => (expr)`: one group field computed from the row */
export async function compileGroupExpr(ctx: NodeContext<AggregateConfig>, expr: string, index: number): Promise<UserFunction> {
  return ctx.compile(`(value, meta) => (\n${expr}\n)`, `groupBy[${index}].expr`);
}

const reducerSource = (add: string, remove: string | undefined, result: string | undefined) => `(() => {
const add = (
${add}
);
const remove = ${remove === undefined ? 'null' : `(\n${remove}\n)`};
const result = ${result === undefined ? 'null' : `(\n${result}\n)`};
if (typeof add !== 'function') throw new TypeError('add must be a function (acc, value) => newAcc');
if (remove !== null && typeof remove !== 'function') throw new TypeError('remove must be a function (acc, value) => newAcc');
if (result !== null && typeof result !== 'function') throw new TypeError('result must be a function (acc) => output');
const why = (e) => (e instanceof Error ? e.name + ': ' + e.message : 'threw ' + String(e));
const sync = (v, what) => {
  if (v !== null && typeof v === 'object' && typeof v.then === 'function') throw new TypeError(what + ' must be synchronous: it returned a Promise');
  return v === undefined ? null : v;
};
return function (acc, ops) {
  const errors = [];
  for (let i = 0; i < ops.length; i++) {
    const adding = ops[i][0] > 0;
    try {
      acc = sync(adding ? add(acc, ops[i][1]) : remove(acc, ops[i][1]), adding ? 'add' : 'remove');
    } catch (e) {
      errors.push([i, (adding ? 'add' : 'remove') + ' threw ' + why(e)]);
    }
  }
  let out = null;
  let resultError = null;
  try {
    out = result === null ? acc : sync(result(acc), 'result');
  } catch (e) {
    resultError = 'result threw ' + why(e);
  }
  return { acc: acc, out: out, errors: errors, resultError: resultError };
};
})()`;

/**
 * Compiles a custom measure. When the whole does not compile, each function is compiled alone so the
 * error names the field at fault (`measures[2].remove: does not compile: ...`).
 */
export async function compileReducer(ctx: NodeContext<AggregateConfig>, index: number): Promise<UserFunction> {
  const m = ctx.config.measures[index];
  try {
    return await ctx.compile(reducerSource(m.add!, m.remove, m.result), `measures[${index}]`);
  } catch (err) {
    for (const part of ['add', 'remove', 'result'] as const) {
      const code = m[part];
      if (code === undefined) continue;
      const fn = await ctx.compile(code, `measures[${index}].${part}`); // throws the precise error
      fn.dispose();
    }
    throw err;
  }
}

export interface ReducerReply {
  acc: unknown;
  out: unknown;
  /** [operation index, message] */
  errors: [number, string][];
  resultError: string | null;
}
