/**
 * The per-record path of map and filter: callValues with each row as the call's only argument, results
 * read by index (no object per result), and evaluate over records with values and before rows. Each
 * recovery path of the sandbox (a fatal abort, the isolate's memory limit, a runaway call, a rejected
 * Promise) runs here on only-argument calls too, since each re-encodes the calls. Real worker processes.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { compileUserFunction, type UserFunction } from '../../runtime/sandbox/sandbox.js';
import { evaluate, NOT_CALLED } from '../../nodes/core/user-code.js';
import type { SluiceRecord } from '../../runtime/index.js';

const opts = { memoryLimitMb: 32, timeoutMs: 500, label: 'values.config.code' };
const compiled: UserFunction[] = [];
afterEach(() => {
  for (const fn of compiled.splice(0)) fn.dispose();
});
const compile = async (code: string, o: Partial<typeof opts> = {}) => {
  const fn = await compileUserFunction(code, { ...opts, ...o });
  compiled.push(fn);
  return fn;
};

describe('sandbox: only-argument calls, results by index', () => {
  it('single: each element is the only argument; otherwise it is the argument list', async () => {
    const fn = await compile('function (v, m) { return { v, m: m === undefined ? null : m, n: arguments.length }; }');
    expect(await fn.callValues([{ id: 1 }, [2, 3]], true)).toEqual({
      values: [{ v: { id: 1 }, m: null, n: 1 }, { v: [2, 3], m: null, n: 1 }],
      errors: undefined,
    });
    expect(await fn.callValues([[{ id: 1 }, 'meta']], false)).toEqual({ values: [{ v: { id: 1 }, m: 'meta', n: 2 }], errors: undefined });
  });

  it('errors and undefined results are kept by call index, in a batch of several replies', async () => {
    const fn = await compile("(v) => { if (v.id % 3 === 1) throw new Error('bad ' + v.id); return v.id % 3 === 2 ? undefined : { id: v.id, pad: v.pad }; }");
    const pad = 'x'.repeat(500); // replies of REPLY_CHARS: ~100 per reply, so several
    const calls = Array.from({ length: 1000 }, (_, id) => ({ id, pad }));
    const { values, errors } = await fn.callValues(calls, true);
    expect(values).toHaveLength(1000);
    for (let i = 0; i < 1000; i++) {
      if (i % 3 === 1) expect(errors?.get(i)).toBe(`Error: bad ${i}`);
      else {
        expect(errors?.has(i)).toBe(false);
        expect(i in values).toBe(true);
        expect(values[i]).toEqual(i % 3 === 2 ? undefined : { id: i, pad });
      }
    }
  });

  const recoveries: [string, string, Partial<typeof opts>, string | RegExp][] = [
    ['a fatal abort of the worker', '(v) => (v.bad ? { a: new Array(1e9).fill(1).length } : v.id)', {}, 'the sandbox process ran out of memory on this record'],
    ["the isolate's memory limit", '(v) => { if (v.bad) { const a = []; for (;;) a.push(new Array(100000).fill(v)); } return v.id; }', { timeoutMs: 10_000 }, 'exceeded the sandbox memory limit of 32 MB'],
    ['a runaway call', '(v) => { if (v.bad) for (;;) {} return v.id; }', {}, /^timed out/],
    ['a Promise rejected and not handled', "(v) => { if (v.bad) Promise.reject(new Error('nobody catches this')); return v.id; }", {}, /nobody catches this/],
  ];
  for (const [name, code, o, why] of recoveries) {
    it(`${name}: only that record fails, the others get their own results`, async () => {
      const fn = await compile(code, o);
      const { values, errors } = await fn.callValues([{ id: 1 }, { id: 2, bad: true }, { id: 3 }], true);
      expect(values[0]).toBe(1);
      expect(values[2]).toBe(3);
      expect(errors?.size).toBe(1);
      expect(errors?.get(1)).toMatch(why);
      expect(await fn.callValues([{ id: 4 }], true)).toEqual({ values: [4], errors: undefined });
    });
  }
});

describe('evaluate (core.map and core.filter)', () => {
  const rec = (r: Partial<SluiceRecord>): SluiceRecord => ({ key: { id: 1 }, op: 'u', meta: {}, value: null, ...r }) as SluiceRecord;
  const records = [
    rec({ value: { id: 1 }, before: { id: 10 } }),
    rec({ op: 'd', value: null, before: { id: 20 } }),
    rec({ op: 'c', value: { id: 3, bad: true } }),
    rec({ op: 'u', value: { id: 4 }, before: { id: 40, bad: true } }),
  ];

  it('a one-parameter function: each value and before row as its only argument, NOT_CALLED where a record has none', async () => {
    const fn = await compile("function (v) { if (v.bad) throw new Error('bad ' + v.id); return { id: v.id, n: arguments.length }; }");
    const r = await evaluate(fn, records);
    expect([r.value(0), r.before(0), r.failure(0)]).toEqual([{ id: 1, n: 1 }, { id: 10, n: 1 }, undefined]);
    expect([r.value(1), r.before(1), r.failure(1)]).toEqual([NOT_CALLED, { id: 20, n: 1 }, undefined]);
    expect([r.before(2), r.failure(2)]).toEqual([NOT_CALLED, 'Error: bad 3']);
    expect(r.failure(3)).toBe('Error: bad 40');
  });

  it('a function of (value, meta): meta holds op and key', async () => {
    const fn = await compile('(v, meta) => ({ id: v.id, op: meta.op, key: meta.key })');
    const r = await evaluate(fn, records.slice(0, 2));
    expect([r.value(0), r.before(0), r.value(1), r.before(1)]).toEqual([
      { id: 1, op: 'u', key: { id: 1 } },
      { id: 10, op: 'u', key: { id: 1 } },
      NOT_CALLED,
      { id: 20, op: 'd', key: { id: 1 } },
    ]);
  });
});
