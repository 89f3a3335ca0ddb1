import { describe, expect, it } from 'vitest';
import { compileUserFunction, UserCodeError, type CallResult } from '../../runtime/sandbox/sandbox.js';

const opts = { memoryLimitMb: 32, timeoutMs: 300, label: 'test.config.code' };
const one = async (code: string, args: unknown[] = [{}]): Promise<CallResult> => {
  const fn = await compileUserFunction(code, opts);
  try {
    return (await fn.callBatch([args]))[0];
  } finally {
    fn.dispose();
  }
};

describe('sandbox', () => {
  it('calls the function once per record of a batch and returns values in order', async () => {
    const fn = await compileUserFunction('(v, meta) => ({ ...v, doubled: v.n * 2, op: meta.op })', opts);
    const calls = Array.from({ length: 1000 }, (_, i) => [{ n: i }, { op: 'c' }]);
    const results = await fn.callBatch(calls);
    fn.dispose();
    expect(results).toHaveLength(1000);
    expect(results[999]).toEqual({ ok: true, value: { n: 999, doubled: 1998, op: 'c' } });
  });

  it('keeps state between calls only inside its own isolate (compiled once)', async () => {
    const fn = await compileUserFunction('(() => { let calls = 0; return () => ++calls; })()', opts);
    await fn.callBatch([[], []]);
    expect((await fn.callBatch([[]]))[0]).toEqual({ ok: true, value: 3 });
    fn.dispose();
  });

  it('a record that throws fails alone, with the error message', async () => {
    const fn = await compileUserFunction('(v) => { if (v.bad) throw new TypeError("bad record " + v.id); return v.id; }', opts);
    const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, bad: true }], [{ id: 3 }]]);
    fn.dispose();
    expect(r).toEqual([{ ok: true, value: 1 }, { ok: false, error: 'TypeError: bad record 2' }, { ok: true, value: 3 }]);
  });

  it('has no require, process, timers, fetch or filesystem', async () => {
    for (const name of ['require', 'process', 'setTimeout', 'setInterval', 'fetch', 'Buffer', 'module', '__dirname', 'XMLHttpRequest']) {
      expect(await one(`() => typeof ${name}`)).toEqual({ ok: true, value: 'undefined' });
    }
  });

  it('escape attempts through constructors fail', async () => {
    const r1 = await one("function () { return this.constructor.constructor('return process')().env; }");
    expect(r1.ok).toBe(false);
    expect((r1 as { error: string }).error).toMatch(/process is not defined|Cannot read properties of undefined/);
    const r2 = await one("() => ({}).constructor.constructor('return typeof process')()");
    expect(r2).toEqual({ ok: true, value: 'undefined' });
    const r3 = await one("() => { Object.prototype.polluted = 1; return Object.getPrototypeOf(async function(){}).constructor('return 1') !== undefined; }");
    expect(r3.ok).toBe(true);
    // prototype pollution inside the isolate does not reach the host
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('an infinite loop stops that call with a timeout error; the host and the other records go on', async () => {
    const fn = await compileUserFunction('(v) => { if (v.loop) { for (;;) {} } return v.id; }', opts);
    const t0 = Date.now();
    const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, loop: true }], [{ id: 3 }]]);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(r[0]).toEqual({ ok: true, value: 1 });
    expect(r[1]).toEqual({ ok: false, error: 'timed out: one call ran longer than 300 ms' });
    expect(r[2]).toEqual({ ok: true, value: 3 });
    // the same function keeps working
    expect(await fn.callBatch([[{ id: 4 }]])).toEqual([{ ok: true, value: 4 }]);
    fn.dispose();
  });

  it('a runaway call keeps the results before it without calling the function again', async () => {
    const fn = await compileUserFunction('(() => { let calls = 0; return (v) => { calls++; if (v.loop) { for (;;) {} } return calls; }; })()', opts);
    const r = await fn.callBatch([[{}], [{}], [{ loop: true }], [{}]]);
    fn.dispose();
    expect(r).toEqual([{ ok: true, value: 1 }, { ok: true, value: 2 }, { ok: false, error: 'timed out: one call ran longer than 300 ms' }, { ok: true, value: 4 }]);
  });

  it('a result that cannot be encoded, or whose toJSON runs away, fails alone', async () => {
    const fn = await compileUserFunction('(v) => (v.big ? { n: 1n } : v.slow ? { toJSON() { for (;;) {} } } : v.id)', opts);
    const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, big: true }], [{ id: 3 }]]);
    expect(r[0]).toEqual({ ok: true, value: 1 });
    expect(r[1]).toMatchObject({ ok: false, error: expect.stringMatching(/BigInt/) });
    expect(r[2]).toEqual({ ok: true, value: 3 });
    const s = await fn.callBatch([[{ id: 4 }], [{ id: 5, slow: true }], [{ id: 6 }]]);
    expect(s).toEqual([{ ok: true, value: 4 }, { ok: false, error: 'timed out: one call ran longer than 300 ms' }, { ok: true, value: 6 }]);
    expect(await fn.callBatch([[{ id: 7 }]])).toEqual([{ ok: true, value: 7 }]);
    fn.dispose();
  });

  it('a result is taken as it was when returned, even if the function changes it later', async () => {
    const fn = await compileUserFunction('(() => { const acc = { sum: 0 }; return (v) => { acc.sum += v; return acc; }; })()', opts);
    expect(await fn.callBatch([[1], [2], [3]])).toEqual([{ ok: true, value: { sum: 1 } }, { ok: true, value: { sum: 3 } }, { ok: true, value: { sum: 6 } }]);
    fn.dispose();
  });

  it('user code that replaces the builtins the runner uses cannot garble the results', async () => {
    const fn = await compileUserFunction('(v) => { JSON.stringify = () => "[1,2"; JSON.parse = () => []; Array.prototype.join = () => "x"; Date.now = () => 0; return v * 2; }', opts);
    expect(await fn.callBatch([[1], [2]])).toEqual([{ ok: true, value: 2 }, { ok: true, value: 4 }]);
    expect(await fn.callBatch([[3]])).toEqual([{ ok: true, value: 6 }]);
    fn.dispose();
  });

  it('undefined is no value; a function, a Symbol or a BigInt result fails its record; toJSON is honoured', async () => {
    const fn = await compileUserFunction("(v) => [undefined, () => 1, Symbol('s'), { toJSON: (k) => 'key=' + k }, null, 1n][v]", opts);
    expect(await fn.callBatch([[0], [1], [2], [3], [4], [5]])).toEqual([
      { ok: true, value: undefined },
      { ok: false, error: 'returned a function, which is not JSON' },
      { ok: false, error: 'returned a Symbol, which is not JSON' },
      { ok: true, value: 'key=' },
      { ok: true, value: null },
      { ok: false, error: 'returned a BigInt, which is not JSON' },
    ]);
    fn.dispose();
  });

  it('a big batch under a short timeout gives one result per call, in order', async () => {
    const fn = await compileUserFunction('(v) => v.id', { ...opts, timeoutMs: 30 });
    const pad = 'x'.repeat(2000);
    const calls = Array.from({ length: 3000 }, (_, id) => [{ id, pad }]);
    const r = await fn.callBatch(calls);
    fn.dispose();
    expect(r).toHaveLength(calls.length);
    expect(r.every((x, i) => x.ok && x.value === i)).toBe(true);
  });

  it('a slow batch of fast records is not mistaken for a runaway call', async () => {
    const fn = await compileUserFunction('(v) => { const end = Date.now() + 2; while (Date.now() < end) {} return v; }', opts);
    const r = await fn.callBatch(Array.from({ length: 400 }, (_, i) => [i])); // ~800 ms in all, > timeout
    fn.dispose();
    expect(r.every((x) => x.ok)).toBe(true);
  });

  it('a memory bomb fails that record with a memory error; the host survives and the rest go on', async () => {
    // a generous time limit: on a loaded machine filling 32 MB can take longer than the suite's 300 ms
    const fn = await compileUserFunction('(v) => { if (v.bomb) { const a = []; for (;;) a.push(new Array(100000).fill(v)); } return v.id; }', { ...opts, timeoutMs: 10_000 });
    const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, bomb: true }], [{ id: 3 }]]);
    expect(r[0]).toEqual({ ok: true, value: 1 });
    expect(r[1]).toEqual({ ok: false, error: 'exceeded the sandbox memory limit of 32 MB' });
    expect(r[2]).toEqual({ ok: true, value: 3 });
    expect(await fn.callBatch([[{ id: 9 }]])).toEqual([{ ok: true, value: 9 }]);
    fn.dispose();
  });

  it('huge strings fail instead of taking the host down', async () => {
    const r = await one("() => 'x'.repeat(2 ** 29)");
    expect(r.ok).toBe(false);
  });

  it('rejects code that is not a function or does not compile, saying which', async () => {
    await expect(compileUserFunction('42', opts)).rejects.toThrowError(UserCodeError);
    await expect(compileUserFunction('42', opts)).rejects.toThrowError(/must be a function.*evaluates to number/);
    await expect(compileUserFunction('(v) => {', opts)).rejects.toThrowError(/does not compile: SyntaxError/);
    await expect(compileUserFunction('for(;;){}', opts)).rejects.toThrowError(/failed while loading: .*timed out/i);
  });

  it('reports an async function and an unserialisable result as that record failing', async () => {
    expect(await one('async (v) => v')).toEqual({ ok: false, error: 'user code must be synchronous: it returned a Promise' });
    const cyclic = await one('() => { const a = {}; a.self = a; return a; }');
    expect(cyclic.ok).toBe(false);
    expect((cyclic as { error: string }).error).toMatch(/circular/i);
  });
});
