/**
 * The sandbox worker pool with real worker processes and real crashes: hostile user code fails its own
 * record, with a reason, and never the host. Needs the built worker (`npx tsc -p tsconfig.json`).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { compileUserFunction, sandboxWorkerPids, SandboxCrashLoopError, type UserFunction } from '../../runtime/sandbox/sandbox.js';
import { createRegistry } from '../../nodes/catalog.js';
import { validateFlow } from '../../runtime/flow/validate.js';
import { isAlive } from '../helpers/processes.js';

const opts = { memoryLimitMb: 64, timeoutMs: 500, label: 'hostile.config.code' };
const compiled: UserFunction[] = [];
afterEach(() => {
  for (const fn of compiled.splice(0)) fn.dispose();
});
const compile = async (code: string, o: Partial<typeof opts> & { maxOutputMb?: number } = {}) => {
  const fn = await compileUserFunction(code, { ...opts, ...o });
  compiled.push(fn);
  return fn;
};
const alive = isAlive;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** [good, bad, good]: the good ones come back, the bad one fails with a message matching `why` */
async function onlyTheBadRecordFails(code: string, why: RegExp) {
  const fn = await compile(code);
  const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, bad: true }], [{ id: 3 }]]);
  expect(r[0]).toEqual({ ok: true, value: { id: 1 } });
  expect(r[1].ok).toBe(false);
  expect((r[1] as { error: string }).error).toMatch(why);
  expect(r[2]).toEqual({ ok: true, value: { id: 3 } });
  // the function goes on working
  expect(await fn.callBatch([[{ id: 4 }]])).toEqual([{ ok: true, value: { id: 4 } }]);
}

describe('sandbox worker pool: hostile user code fails its record, never the host', () => {
  const cases: [string, string, RegExp][] = [
    ['new Array(1e9).fill(1) (a fatal abort of the isolate)', '(v) => (v.bad ? { a: new Array(1e9).fill(1).length } : v)', /^the sandbox process ran out of memory on this record$/],
    ['new Array(5e7).fill(0) inside try/catch', "(v) => { if (v.bad) { try { return { n: new Array(5e7).fill(0).length }; } catch (e) { return { caught: true }; } } return v; }", /^the sandbox process ran out of memory on this record$|memory limit/],
    ['WebAssembly memory (not counted in the heap limit)', '(v) => (v.bad ? { m: new WebAssembly.Memory({ initial: 8192 }).buffer.byteLength } : v)', /WebAssembly is not defined/],
    ['Atomics.wait on a shared buffer', '(v) => (v.bad ? { w: Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0) } : v)', /SharedArrayBuffer is not defined/],
    ['a 2 GB ArrayBuffer', '(v) => (v.bad ? { n: new ArrayBuffer(2 ** 31).byteLength } : v)', /Array buffer allocation failed/],
    ['a 2 GB SharedArrayBuffer', '(v) => (v.bad ? { n: new SharedArrayBuffer(2 ** 31).byteLength } : v)', /SharedArrayBuffer is not defined/],
    // filling 1e7 slots takes about 100 ms on a quiet machine; on a loaded one the 500 ms timeout may come first
    ['a 1e7-element array result', '(v) => (v.bad ? { a: new Array(1e7).fill(v) } : v)', /memory limit of 64 MB|ran out of memory|^timed out: one call ran longer than 500 ms$/],
    ['while (true)', '(v) => { while (v.bad) {} return v; }', /^timed out: one call ran longer than 500 ms$/],
    ['deep recursion', '(v) => { const f = (n) => f(n + 1) + 1; return v.bad ? f(0) : v; }', /RangeError: Maximum call stack size exceeded/],
    ['a throwing Proxy in the result', "(v) => (v.bad ? { p: new Proxy({}, { ownKeys() { throw new Error('trap'); } }) } : v)", /^its result is not JSON: Error: trap$/],
    ['a throwing getter in the result', "(v) => (v.bad ? { get x() { throw new Error('getter'); } } : v)", /^its result is not JSON: Error: getter$/],
    ['a cyclic result', '(v) => { if (!v.bad) return v; const o = {}; o.o = o; return o; }', /^its result is not JSON: TypeError: Converting circular structure/],
    ['a Symbol result', "(v) => (v.bad ? Symbol('s') : v)", /^returned a Symbol, which is not JSON$/],
    ['a function result', '(v) => (v.bad ? () => 1 : v)', /^returned a function, which is not JSON$/],
    ['a BigInt result', '(v) => (v.bad ? 10n : v)', /^returned a BigInt, which is not JSON$/],
    ['a Promise result', '(v) => (v.bad ? Promise.resolve(v) : v)', /^user code must be synchronous: it returned a Promise$/],
    ['import()', "(v) => (v.bad ? import('node:fs') : v)", /returned a Promise|import\(\) is not available/],
    ['the constructor trick', "function (v) { return v.bad ? this.constructor.constructor('return process')().pid : v; }", /process is not defined|Cannot read properties of undefined/],
    ['the constructor trick through a value', "(v) => (v.bad ? ({}).constructor.constructor('return process')().mainModule : v)", /process is not defined/],
  ];
  for (const [name, code, why] of cases) it(name, () => onlyTheBadRecordFails(code, why));

  it('import() inside try/catch fails its own record only, never the batch', async () => {
    const fn = await compile("(() => { let calls = 0; return (v) => { calls++; if (v.bad) { try { import('node:fs'); } catch (e) {} } return { ...v, calls }; }; })()");
    const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, bad: true }], [{ id: 3 }], [{ id: 4 }]]);
    expect(r[0]).toMatchObject({ ok: true, value: { id: 1 } });
    expect(r[1]).toEqual({ ok: false, error: 'import() is not available in the sandbox' });
    expect(r[2]).toMatchObject({ ok: true, value: { id: 3 } });
    expect(r[3]).toMatchObject({ ok: true, value: { id: 4 } });
  });

  it('a Promise rejected and not handled fails its own record only', async () => {
    const fn = await compile("(v) => { if (v.bad) Promise.reject(new Error('nobody catches this')); return v; }");
    const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, bad: true }], [{ id: 3 }]]);
    expect(r).toEqual([{ ok: true, value: { id: 1 } }, { ok: false, error: expect.stringMatching(/nobody catches this/) }, { ok: true, value: { id: 3 } }]);
  });

  it("the runner's functions are out of user code's reach", async () => {
    const fn = await compile(
      "(v) => ({ names: Object.getOwnPropertyNames(globalThis).filter((n) => /sluice|__/i.test(n)), load: typeof __sluiceLoad, run: typeof __sluiceRun, user: typeof __sluiceUser, wasm: typeof WebAssembly })",
    );
    expect(await fn.callBatch([[{}]])).toEqual([{ ok: true, value: { names: [], load: 'undefined', run: 'undefined', user: 'undefined', wasm: 'undefined' } }]);
  });

  it('user code that replaces builtins at load time cannot garble the results', async () => {
    const fn = await compile('JSON.stringify = () => "[1,2"; JSON.parse = () => []; Array.prototype.join = () => "x"; (v) => v * 2');
    expect(await fn.callBatch([[1], [2]])).toEqual([{ ok: true, value: 2 }, { ok: true, value: 4 }]);
  });

  it('results past settings.sandbox.maxOutputMb go to errors with the reason; the rest of the batch is delivered up to the cap', async () => {
    const fn = await compile("(v) => ({ id: v.id, s: 'x'.repeat(300000) })", { maxOutputMb: 1 });
    const r = await fn.callBatch(Array.from({ length: 10 }, (_, id) => [{ id }]));
    const ok = r.filter((x) => x.ok);
    expect(ok.length).toBe(3); // 3 × 300 kB fit in 1 MB, the 4th does not
    expect(r.slice(0, 3).every((x) => x.ok)).toBe(true);
    for (const x of r.slice(3)) expect(x).toEqual({ ok: false, error: 'its result passes the cap on the output of one batch (settings.sandbox.maxOutputMb: 1)' });
  });

  it("'x'.repeat(15e6) per record over 1,000 records: the host's memory stays bounded by the cap", async () => {
    const fn = await compile("(v) => ({ ...v, s: 'x'.repeat(15e6) })", { timeoutMs: 5000 });
    const before = process.memoryUsage().rss;
    const r = await fn.callBatch(Array.from({ length: 1000 }, (_, id) => [{ id }]));
    expect(r).toHaveLength(1000);
    const delivered = r.filter((x) => x.ok).length;
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThanOrEqual(4); // 64 MB / 15 MB
    expect(r.filter((x) => !x.ok).every((x) => /maxOutputMb|memory limit/.test((x as { error: string }).error))).toBe(true);
    expect(process.memoryUsage().rss - before).toBeLessThan(1024 * 1024 * 1024);
  }, 120_000);

  it('a function whose records kill workers 5 times within a minute fails with that reason', async () => {
    const fn = await compile('(v) => (v.bad ? new Array(1e9).fill(1).length : v)');
    const batch = Array.from({ length: 8 }, (_, i) => [{ id: i, bad: i % 2 === 1 }]);
    const first = await fn.callBatch(batch); // 4 crashes: each culprit fails alone
    expect(first.map((r) => r.ok)).toEqual([true, false, true, false, true, false, true, false]);
    const second = fn.callBatch(batch); // the 5th within a minute
    await expect(second).rejects.toThrow(SandboxCrashLoopError);
    await expect(second).rejects.toThrow(/records killed the sandbox process 5 times within a minute \(the last ran out of memory\); the flow stops/);
  }, 120_000);

  it('a worker killed from outside mid-batch: the batch is run again in a fresh worker and completes', async () => {
    const fn = await compile('(v) => { const end = Date.now() + 2; while (Date.now() < end) {} return v; }');
    const pending = fn.callBatch(Array.from({ length: 300 }, (_, id) => [{ id }]));
    await sleep(150);
    const [pid] = sandboxWorkerPids();
    process.kill(pid, 'SIGKILL');
    const r = await pending;
    expect(r.every((x, i) => x.ok && (x.value as { id: number }).id === i)).toBe(true);
    expect(sandboxWorkerPids()).not.toContain(pid);
  });

  it('a wedged worker (stopped, no answer) is killed by the watchdog and the batch completes in a fresh one', async () => {
    const fn = await compile('(v) => v', { timeoutMs: 200 });
    await fn.callBatch([[1]]);
    const [pid] = sandboxWorkerPids();
    process.kill(pid, 'SIGSTOP');
    const t0 = Date.now();
    expect(await fn.callBatch([[1], [2]])).toEqual([{ ok: true, value: 1 }, { ok: true, value: 2 }]);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(sandboxWorkerPids()).not.toContain(pid);
  }, 30_000);

  /** [start, end] of each call, in the worker's clock (the same machine's) */
  const SLOW = '(v) => { const start = Date.now(); const end = start + 300; while (Date.now() < end) {} return [start, Date.now()]; }';
  const overlap = (a: { value: unknown }[], b: { value: unknown }[]) => {
    const span = (r: { value: unknown }[]) => [(r[0].value as number[])[0], (r.at(-1)!.value as number[])[1]];
    const [s1, e1] = span(a);
    const [s2, e2] = span(b);
    return s1 < e2 && s2 < e1;
  };

  it('functions of different nodes are spread over the workers, and their calls run at the same time', async () => {
    const a = await compile(SLOW);
    const b = await compile(SLOW);
    expect(new Set(sandboxWorkerPids()).size).toBe(2);
    const [ra, rb] = await Promise.all([a.callBatch([[1], [2]]), b.callBatch([[1], [2]])]);
    expect(overlap(ra as { value: unknown }[], rb as { value: unknown }[])).toBe(true);
  });

  it('calls of one function in flight at the same time are spread over the workers; calls one after another stay in one', async () => {
    const counting = await compile('(() => { let calls = 0; return () => ++calls; })()');
    await counting.callBatch([[]]);
    expect(await counting.callBatch([[]])).toEqual([{ ok: true, value: 2 }]);
    expect(sandboxWorkerPids()).toHaveLength(1);
    const fn = await compile(SLOW);
    const [a, b] = await Promise.all([fn.callBatch([[1], [2]]), fn.callBatch([[1], [2]])]);
    expect(overlap(a as { value: unknown }[], b as { value: unknown }[])).toBe(true);
    expect(new Set(sandboxWorkerPids()).size).toBe(2);
  });

  it('the workers exit when the last function is disposed', async () => {
    const fn = await compileUserFunction('(v) => v', opts);
    const pids = sandboxWorkerPids();
    expect(pids.length).toBeGreaterThan(0);
    fn.dispose();
    expect(sandboxWorkerPids()).toEqual([]);
    for (let i = 0; i < 40 && pids.some(alive); i++) await sleep(50);
    expect(pids.filter(alive)).toEqual([]);
  });

  it('the workers die with their host, even one killed with SIGKILL (no orphans)', async () => {
    const sandbox = fileURLToPath(new URL('../../dist/runtime/sandbox/sandbox.js', import.meta.url));
    const script = `const { compileUserFunction, sandboxWorkerPids } = await import(${JSON.stringify(sandbox)});
const fn = await compileUserFunction('(v) => v', { memoryLimitMb: 16, timeoutMs: 100, label: 'x' });
await fn.callBatch([[1]]);
console.log(JSON.stringify(sandboxWorkerPids()));
setInterval(() => {}, 1000);`;
    const host = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve) => host.stdout.once('data', (d) => resolve(String(d))));
    const pids = JSON.parse(line) as number[];
    expect(pids.length).toBe(1);
    expect(alive(pids[0])).toBe(true);
    host.kill('SIGKILL');
    for (let i = 0; i < 40 && alive(pids[0]); i++) await sleep(50);
    expect(alive(pids[0])).toBe(false);
  });

  it('memoryLimitMb is validated between 8 and 1024, naming the field', () => {
    const flow = (memoryLimitMb: number) => ({
      apiVersion: 'sluice/v1',
      name: 'f',
      settings: { sandbox: { memoryLimitMb } },
      nodes: [{ id: 'gen', type: 'core.generate', config: { count: 1 } }],
      edges: [],
    });
    const errors = (n: number) => validateFlow(flow(n), createRegistry()).issues.filter((i) => i.severity === 'error');
    expect(errors(4096).map((e) => [e.path, e.message])).toEqual([['settings.sandbox.memoryLimitMb', expect.stringMatching(/at most 1024/)]]);
    expect(errors(1).map((e) => e.path)).toEqual(['settings.sandbox.memoryLimitMb']);
    expect(errors(1024)).toEqual([]);
    expect(validateFlow(flow(64), createRegistry()).flow!.settings.sandbox.maxOutputMb).toBe(64);
  });
});
