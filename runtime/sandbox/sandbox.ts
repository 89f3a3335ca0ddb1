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

// Fixed code run in each isolate, never built around user input. It calls the user's function for
// each record from `start`, catches per record, and returns early (with `next` set) once half the
// timeout is spent, so the host's hard timeout only ever stops a single runaway call (the results
// before it are then fetched with __sluiceSalvage). The results are
// encoded with one JSON.stringify of the whole list (twice as fast as one per result); only when that
// throws (a BigInt, a cycle) is each result encoded alone, so that only the culprits fail. While it
// encodes, `state.encoding` is set: a runaway toJSON is then found by the host record by record.
const RUNNER = `
(function () {
  const fn = globalThis.__sluiceUser;
  delete globalThis.__sluiceUser;
  globalThis.__sluiceArity = fn.length;
  const describe = (e) => (e instanceof Error ? e.name + ': ' + e.message : 'threw ' + String(e));
  const state = { i: 0, encoding: false };
  let current = [];
  globalThis.__sluiceState = state;
  const encodeOne = (r) => {
    try {
      return JSON.stringify(r);
    } catch (e) {
      let message;
      try { message = describe(e); } catch (e2) { message = 'threw a value that cannot be described'; }
      return JSON.stringify({ e: message });
    }
  };
  const reply = (next, results) => {
    state.encoding = true;
    let parts;
    try {
      parts = JSON.stringify(results);
    } catch (e) {
      parts = '[' + results.map(encodeOne).join(',') + ']';
    }
    state.encoding = false;
    return '{"next":' + next + ',"parts":' + parts + '}';
  };
  globalThis.__sluiceRun = function (json, start, budgetMs) {
    const calls = JSON.parse(json);
    const t0 = Date.now();
    const results = [];
    state.encoding = false;
    current = results;
    for (let i = start; i < calls.length; i++) {
      state.i = i;
      if (i > start && Date.now() - t0 > budgetMs) return reply(i, results);
      let r;
      try {
        const v = fn.apply(undefined, calls[i]);
        if (v !== null && typeof v === 'object' && typeof v.then === 'function') {
          r = { e: 'user code must be synchronous: it returned a Promise' };
        } else {
          r = { v: v };
        }
      } catch (e) {
        let message;
        try { message = describe(e); } catch (e2) { message = 'threw a value that cannot be described'; }
        r = { e: message };
      }
      results.push(r);
    }
    state.i = calls.length;
    return reply(calls.length, results);
  };
  // after a runaway call: the results before it (state.i)
  globalThis.__sluiceSalvage = function () {
    return reply(state.i, current);
  };
})();
`;

type Part = { v?: unknown; e?: string };

interface RunnerReply {
  next: number;
  parts: Part[];
}

function decodePart(p: Part): CallResult {
  return p.e !== undefined ? { ok: false, error: p.e } : { ok: true, value: p.v };
}

class IsolatedFunction implements UserFunction {
  private isolate!: ivm.Isolate;
  private context!: ivm.Context;
  private run!: ivm.Reference<(json: string, start: number, budget: number) => string>;
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
    this.run = await this.context.global.get('__sluiceRun', { reference: true });
    this.salvage = await this.context.global.get('__sluiceSalvage', { reference: true });
    this.arity = Number(await this.context.global.get('__sluiceArity', { copy: true })) || 0;
  }

  async callBatch(calls: unknown[][]): Promise<CallResult[]> {
    if (this.disposed) throw new Error(`${this.options.label}: sandbox already disposed`);
    const json = JSON.stringify(calls);
    const results: CallResult[] = [];
    let start = 0;
    const budget = Math.max(1, Math.floor(this.options.timeoutMs / 2));
    while (start < calls.length) {
      try {
        const reply = JSON.parse(
          await this.run.apply(undefined, [json, start, budget], { timeout: this.options.timeoutMs }),
        ) as RunnerReply;
        for (const part of reply.parts) results.push(decodePart(part));
        start = reply.next;
      } catch (err) {
        if (this.isolate.isDisposed) {
          // memory limit: the isolate is gone, and which record did it is unknown. Start a fresh
          // isolate and go on record by record, so only the culprit fails.
          await this.reset();
          results.push(...(await this.oneByOne(calls.slice(start))));
          return results;
        }
        if (/timed out/i.test((err as Error).message)) {
          const state = (await this.context.global.get('__sluiceState', { copy: true })) as { i: number; encoding: boolean };
          const salvaged = state.encoding ? undefined : await this.salvaged();
          if (!salvaged) {
            // a result's toJSON ran away: which one is unknown, so go on record by record
            results.push(...(await this.oneByOne(calls.slice(start))));
            return results;
          }
          results.push(...salvaged);
          results.push({ ok: false, error: `timed out: one call ran longer than ${this.options.timeoutMs} ms` });
          start = state.i + 1;
          continue;
        }
        throw err;
      }
    }
    return results;
  }

  /** the results of the call that timed out, before the runaway record; undefined if they cannot be encoded in time */
  private async salvaged(): Promise<CallResult[] | undefined> {
    try {
      const reply = JSON.parse(await this.salvage.apply(undefined, [], { timeout: this.options.timeoutMs })) as RunnerReply;
      return reply.parts.map(decodePart);
    } catch (err) {
      if (/timed out/i.test((err as Error).message)) return undefined;
      throw err;
    }
  }

  private async oneByOne(calls: unknown[][]): Promise<CallResult[]> {
    const results: CallResult[] = [];
    for (const call of calls) {
      try {
        const reply = JSON.parse(
          await this.run.apply(undefined, [JSON.stringify([call]), 0, this.options.timeoutMs], { timeout: this.options.timeoutMs }),
        ) as RunnerReply;
        results.push(reply.parts[0] ? decodePart(reply.parts[0]) : { ok: false, error: 'no result' });
      } catch (err) {
        if (this.isolate.isDisposed) {
          results.push({ ok: false, error: `exceeded the sandbox memory limit of ${this.options.memoryLimitMb} MB` });
          await this.reset();
        } else if (/timed out/i.test((err as Error).message)) {
          results.push({ ok: false, error: `timed out: one call ran longer than ${this.options.timeoutMs} ms` });
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
