/**
 * Sandboxed user code on isolated-vm. A user function is compiled once into its own isolate and
 * called once per batch: the records go in as one JSON string and the results come out as one, the
 * fastest way measured here (ENVIRONMENT.md). No require, process, timers, network or filesystem exist
 * inside the isolate. Each record's call is isolated: a throw, a result that cannot be serialised, a
 * runaway loop or a memory bomb fails that record alone, with a message that says which, and never the
 * host process.
 */
import ivm from 'isolated-vm';

export interface CompileOptions {
  /** heap limit of the isolate, MB */
  memoryLimitMb: number;
  /** how long one call of the user function may run, ms */
  timeoutMs: number;
  /** shown in stack traces and syntax errors, e.g. `tax.config.code` */
  label: string;
}

export type CallResult = { ok: true; value: unknown } | { ok: false; error: string };

export interface UserFunction {
  /** the number of parameters the user's function declares (callers may skip arguments it ignores) */
  readonly arity: number;
  /** calls the function once per element of `calls` (each an argument list); one result per call */
  callBatch(calls: unknown[][]): Promise<CallResult[]>;
  dispose(): void;
}

/** The user's code is not a function, or does not compile. */
export class UserCodeError extends Error {
  override name = 'UserCodeError';
}

// Fixed code run in each isolate, never built around user input. __sluiceLoad parses a batch's calls
// once; __sluiceRun calls the user's function for each from `from`, catches per record, and returns
// early (with the results so far) once half the timeout is spent, so the host's hard timeout only ever
// stops a single runaway call (the results before it are then fetched with __sluiceSalvage). Each result is
// encoded as JSON right after its call, so a result the function mutates later (an accumulator it
// returns again) is sent as it was when returned; the texts are joined into one array, and errors
// and undefined results travel beside it by index. The builtins it needs are taken before any user
// call, so user code that replaces JSON.stringify or Array.prototype.join cannot garble the replies
// (the host also checks that a reply holds one result per call).
const RUNNER = `
(function () {
  const fn = globalThis.__sluiceUser;
  delete globalThis.__sluiceUser;
  globalThis.__sluiceArity = fn.length;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const now = Date.now;
  const join = Function.prototype.call.bind(Array.prototype.join);
  const toText = String;
  const describe = (e) => (e instanceof Error ? e.name + ': ' + e.message : 'threw ' + toText(e));
  const message = (e) => {
    try { return describe(e); } catch (e2) { return 'threw a value that cannot be described'; }
  };
  const state = { i: 0 };
  globalThis.__sluiceState = state;
  let calls = [];
  let start = 0;
  let parts = [];
  let errors = [];
  let undef = [];
  const reply = () =>
    '{"start":' + start + ',"values":[' + join(parts, ',') + '],"errors":' + stringify(errors) + ',"undef":[' + join(undef, ',') + ']}';
  globalThis.__sluiceLoad = function (json) {
    calls = parse(json);
    return calls.length;
  };
  globalThis.__sluiceRun = function (from, budgetMs) {
    start = from;
    parts = [];
    errors = [];
    undef = [];
    state.i = from;
    const t0 = now();
    for (let i = from; i < calls.length; i++) {
      if (i > from && now() - t0 > budgetMs) break;
      state.i = i;
      let text = 'null';
      try {
        const v = fn.apply(undefined, calls[i]);
        if (v !== null && typeof v === 'object' && typeof v.then === 'function') {
          errors[errors.length] = [i, 'user code must be synchronous: it returned a Promise'];
        } else {
          const t = v === undefined ? undefined : stringify(v);
          // undefined, a function, a symbol: no value (JSON has none)
          if (t === undefined) undef[undef.length] = i;
          else text = t;
        }
      } catch (e) {
        errors[errors.length] = [i, message(e)];
      }
      parts[parts.length] = text;
    }
    return reply();
  };
  // after a runaway call: the results done before it
  globalThis.__sluiceSalvage = reply;
})();
`;

/** one __sluiceRun's results, from `start`: values by position, errors and undefined results by call index */
interface RunnerReply {
  start: number;
  values: unknown[];
  errors: [number, string][];
  undef: number[];
}

/** the results of a reply, one per call from `start`; undefined when the reply is not one (garbled by user code) */
function decodeReply(reply: RunnerReply, total: number): CallResult[] | undefined {
  if (!Array.isArray(reply.values) || !Array.isArray(reply.errors) || !Array.isArray(reply.undef) || reply.start + reply.values.length > total) return undefined;
  const out: CallResult[] = reply.values.map((value) => ({ ok: true, value }));
  for (const i of reply.undef) if (out[i - reply.start]) out[i - reply.start] = { ok: true, value: undefined };
  for (const [i, error] of reply.errors) if (out[i - reply.start]) out[i - reply.start] = { ok: false, error: String(error) };
  return out;
}

class IsolatedFunction implements UserFunction {
  private isolate!: ivm.Isolate;
  private context!: ivm.Context;
  private load!: ivm.Reference<(json: string) => number>;
  private run!: ivm.Reference<(from: number, budget: number) => string>;
  private salvage!: ivm.Reference<() => string>;
  private disposed = false;
  arity = 0;

  constructor(private readonly code: string, private readonly options: CompileOptions) {}

  async init(): Promise<void> {
    this.isolate = new ivm.Isolate({ memoryLimit: this.options.memoryLimitMb });
    this.context = await this.isolate.createContext();
    let script: ivm.Script;
    try {
      // `function (v) {...}` alone is a statement, not a value: read it as the expression it is meant as
      const source = /^\s*(async\s+)?function\b/.test(this.code) ? `(${this.code}\n)` : this.code;
      script = await this.isolate.compileScript(source, { filename: this.options.label });
    } catch (err) {
      this.dispose();
      throw new UserCodeError(`does not compile: ${(err as Error).name}: ${(err as Error).message}`);
    }
    let fn: ivm.Reference<unknown>;
    try {
      fn = await script.run(this.context, { reference: true, timeout: this.options.timeoutMs });
    } catch (err) {
      this.dispose();
      throw new UserCodeError(`failed while loading: ${(err as Error).message}`);
    }
    if (fn.typeof !== 'function') {
      this.dispose();
      throw new UserCodeError(`must be a function such as \`(value, meta) => value\`, but it evaluates to ${fn.typeof}`);
    }
    await this.context.global.set('__sluiceUser', fn.derefInto());
    await (await this.isolate.compileScript(RUNNER)).run(this.context);
    this.load = await this.context.global.get('__sluiceLoad', { reference: true });
    this.run = await this.context.global.get('__sluiceRun', { reference: true });
    this.salvage = await this.context.global.get('__sluiceSalvage', { reference: true });
    this.arity = Number(await this.context.global.get('__sluiceArity', { copy: true })) || 0;
  }

  async callBatch(calls: unknown[][]): Promise<CallResult[]> {
    if (this.disposed) throw new Error(`${this.options.label}: sandbox already disposed`);
    if (calls.length === 0) return [];
    const { timeoutMs } = this.options;
    try {
      await this.load.apply(undefined, [JSON.stringify(calls)], { timeout: timeoutMs });
    } catch (err) {
      if (!this.isolate.isDisposed && !/timed out/i.test((err as Error).message)) throw err;
      // the batch alone is too big for the isolate's memory or time: record by record
      if (this.isolate.isDisposed) await this.reset();
      return this.oneByOne(calls);
    }
    const results: CallResult[] = [];
    let start = 0;
    const budget = Math.max(1, Math.floor(timeoutMs / 2));
    while (start < calls.length) {
      let reply: RunnerReply;
      try {
        reply = JSON.parse(await this.run.apply(undefined, [start, budget], { timeout: timeoutMs })) as RunnerReply;
      } catch (err) {
        if (this.isolate.isDisposed) {
          // memory limit: the isolate is gone, and which record did it is unknown. Start a fresh
          // isolate and go on record by record, so only the culprit fails.
          await this.reset();
          results.push(...(await this.oneByOne(calls.slice(start))));
          return results;
        }
        if (!/timed out/i.test((err as Error).message)) throw err;
        // a runaway call: keep the results before it, fail it, go on after it
        const running = ((await this.context.global.get('__sluiceState', { copy: true })) as { i: number }).i;
        const done = decodeReply(JSON.parse(await this.salvage.apply(undefined, [], { timeout: timeoutMs })) as RunnerReply, calls.length);
        if (!done) break;
        results.push(...done);
        start += done.length;
        if (running === start) {
          results.push({ ok: false, error: `timed out: one call ran longer than ${timeoutMs} ms` });
          start++;
        }
        continue;
      }
      const done = reply.start === start ? decodeReply(reply, calls.length) : undefined;
      if (!done || (done.length === 0 && start < calls.length)) break;
      results.push(...done);
      start += done.length;
    }
    // a reply that is not one result per call (user code replaced a builtin the runner uses): record by record
    if (start < calls.length) results.push(...(await this.oneByOne(calls.slice(start))));
    return results;
  }

  private async oneByOne(calls: unknown[][]): Promise<CallResult[]> {
    const results: CallResult[] = [];
    const { timeoutMs } = this.options;
    for (const call of calls) {
      try {
        await this.load.apply(undefined, [JSON.stringify([call])], { timeout: timeoutMs });
        const reply = JSON.parse(await this.run.apply(undefined, [0, timeoutMs], { timeout: timeoutMs })) as RunnerReply;
        results.push(decodeReply(reply, 1)?.[0] ?? { ok: false, error: 'the sandbox gave no result for this record' });
      } catch (err) {
        if (this.isolate.isDisposed) {
          results.push({ ok: false, error: `exceeded the sandbox memory limit of ${this.options.memoryLimitMb} MB` });
          await this.reset();
        } else if (/timed out/i.test((err as Error).message)) {
          results.push({ ok: false, error: `timed out: one call ran longer than ${timeoutMs} ms` });
        } else throw err;
      }
    }
    return results;
  }

  private async reset(): Promise<void> {
    this.dispose();
    this.disposed = false;
    await this.init();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    try {
      if (!this.isolate.isDisposed) this.isolate.dispose();
    } catch {
      /* already gone */
    }
  }
}

export const DEFAULT_SANDBOX: Omit<CompileOptions, 'label'> = { memoryLimitMb: 64, timeoutMs: 1000 };

export async function compileUserFunction(code: string, options: CompileOptions): Promise<UserFunction> {
  const fn = new IsolatedFunction(code, options);
  await fn.init();
  return fn;
}
