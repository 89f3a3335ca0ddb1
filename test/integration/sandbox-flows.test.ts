/**
 * Hostile user code in whole flows, with real sandbox worker processes: through the executor and
 * through the spawned `sluice run`. Each flow completes: the other records are delivered, the bad one
 * is in the dead letters (or on the error port) with its reason, and the host is alive.
 */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRegistry } from '../../nodes/catalog.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';

const registry = createRegistry();
const BAD = 50;

/** counter 1..count → map(code) → out.jsonl; map errors to error.jsonl when `errorPort` */
const flowDoc = (dir: string, code: string, { count = 200, batchSize = 100, errorPort = false, sandbox = {} as Record<string, number> } = {}) => ({
  apiVersion: 'sluice/v1',
  name: 'hostile',
  settings: { batchSize, sandbox: { timeoutMs: 500, ...sandbox } },
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count } },
    { id: 'user', type: 'core.map', config: { code } },
    { id: 'out', type: 'file.sink', config: { path: join(dir, 'out.jsonl') } },
    ...(errorPort ? [{ id: 'errors', type: 'file.sink', config: { path: join(dir, 'error.jsonl') } }] : []),
  ],
  edges: [
    { from: 'gen', to: 'user' },
    { from: 'user', to: 'out' },
    ...(errorPort ? [{ from: 'user', fromPort: 'error', to: 'errors' }] : []),
  ],
});

const lines = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) : []);

async function deadLetters(state: string) {
  const store = new SqliteCheckpointStore(state);
  try {
    return await store.deadLetters('hostile', 10_000);
  } finally {
    await store.close();
  }
}

async function runInProcess(code: string, opts: Parameters<typeof flowDoc>[2] = {}) {
  const dir = tempDir();
  const state = join(dir, 'state.db');
  const store = new SqliteCheckpointStore(state);
  const summary = await new FlowRun(compileFlow(flowDoc(dir, code, opts), registry), { store }).run();
  await store.close();
  return { summary, dir, out: lines(join(dir, 'out.jsonl')), errors: lines(join(dir, 'error.jsonl')), dead: await deadLetters(state) };
}

/** the record n === BAD is bad */
const cases: [string, string, RegExp][] = [
  ['a fatal abort (new Array(1e9).fill(1))', `(v) => (v.n === ${BAD} ? { a: new Array(1e9).fill(1).length } : v)`, /^the sandbox process ran out of memory on this record$/],
  ['new Array(5e7).fill(0) inside try/catch', `(v) => { if (v.n === ${BAD}) { try { return { a: new Array(5e7).fill(0).length }; } catch (e) { return v; } } return v; }`, /ran out of memory on this record|memory limit/],
  ['WebAssembly memory', `(v) => (v.n === ${BAD} ? { m: new WebAssembly.Memory({ initial: 8192 }).buffer.byteLength } : v)`, /WebAssembly is not defined/],
  ['Atomics.wait', `(v) => (v.n === ${BAD} ? { w: Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0) } : v)`, /SharedArrayBuffer is not defined/],
  ['while (true)', `(v) => { while (v.n === ${BAD}) {} return v; }`, /timed out: one call ran longer than 500 ms/],
  // the stack may outlast the 500 ms timeout at load 12-19 (whole suite beside other builds), as the array below
  ['deep recursion', `(v) => { const f = (n) => f(n + 1) + 1; return v.n === ${BAD} ? { r: f(0) } : v; }`, /Maximum call stack size exceeded|^timed out: one call ran longer than 500 ms$/],
  ['a throwing Proxy', `(v) => (v.n === ${BAD} ? { p: new Proxy({}, { ownKeys() { throw new Error('trap'); } }) } : v)`, /its result is not JSON: Error: trap/],
  ['a throwing getter', `(v) => (v.n === ${BAD} ? { get x() { throw new Error('getter'); } } : v)`, /its result is not JSON: Error: getter/],
  // filling 1e7 slots may outlast the 500 ms timeout on a busy machine before the memory limit is reached
  ['a 1e7-element array', `(v) => (v.n === ${BAD} ? { a: new Array(1e7).fill(v) } : v)`, /memory limit of 64 MB|ran out of memory|^timed out: one call ran longer than 500 ms$/],
  ['a Promise result', `(v) => (v.n === ${BAD} ? Promise.resolve(v) : v)`, /must be synchronous/],
  ['a 2 GB ArrayBuffer', `(v) => (v.n === ${BAD} ? { b: new ArrayBuffer(2 ** 31).byteLength } : v)`, /Array buffer allocation failed/],
  ['a 2 GB SharedArrayBuffer', `(v) => (v.n === ${BAD} ? { b: new SharedArrayBuffer(2 ** 31).byteLength } : v)`, /SharedArrayBuffer is not defined/],
  ['a Symbol result', `(v) => (v.n === ${BAD} ? Symbol('s') : v)`, /returned a Symbol, which is not JSON/],
  ['a cyclic result', `(v) => { if (v.n !== ${BAD}) return v; const o = {}; o.o = o; return o; }`, /its result is not JSON: TypeError: Converting circular structure/],
  ['import()', `(v) => (v.n === ${BAD} ? import('node:fs') : v)`, /must be synchronous|import\(\) is not available/],
  ['the constructor trick', `function (v) { return v.n === ${BAD} ? { pid: this.constructor.constructor('return process')().pid } : v; }`, /process is not defined|Cannot read properties of undefined/],
];

describe('hostile user code in a flow (executor): the flow completes, the bad record is dead-lettered with its reason', () => {
  for (const [name, code, why] of cases) {
    it(name, async () => {
      const r = await runInProcess(code);
      expect(r.summary.status).toBe('completed');
      expect(r.out).toHaveLength(199);
      expect(r.out.some((v) => v.n === BAD)).toBe(false);
      expect(r.dead).toHaveLength(1);
      expect(r.dead[0].record.value).toEqual({ n: BAD });
      expect(r.dead[0].node).toBe('user');
      expect(r.dead[0].error).toMatch(why);
    });
  }

  it('a record that kills its worker goes to the error port when one is wired', async () => {
    const r = await runInProcess(`(v) => (v.n === ${BAD} ? { a: new Array(1e9).fill(1).length } : v)`, { errorPort: true });
    expect(r.summary.status).toBe('completed');
    expect(r.out).toHaveLength(199);
    expect(r.dead).toHaveLength(0);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toMatchObject({ n: BAD });
  });

  it('records that kill workers again and again (5 within a minute) fail the flow with that reason', async () => {
    const r = await runInProcess('(v) => (v.n % 10 === 0 ? { a: new Array(1e9).fill(1).length } : v)', { count: 100, batchSize: 100 });
    expect(r.summary.status).toBe('failed');
    expect(r.summary.error).toMatch(/user\.config\.code: records killed the sandbox process 5 times within a minute \(the last ran out of memory\); the flow stops/);
  }, 120_000);
});

describe('hostile user code through `sluice run` (a spawned CLI): exit 0, the host alive', () => {
  const run = async (code: string, opts: Parameters<typeof flowDoc>[2] = {}) => {
    const dir = tempDir();
    const file = join(dir, 'flow.json');
    writeFileSync(file, JSON.stringify(flowDoc(dir, code, opts)));
    const state = join(dir, 'state.db');
    const r = await runCli(['run', file, '--json', '--state', state]);
    return { ...r, out: lines(join(dir, 'out.jsonl')), dead: await deadLetters(state) };
  };

  for (const [name, code, why] of [cases[0], cases[1], cases[2]]) {
    it(name, async () => {
      const r = await run(code);
      expect(r.signal).toBeNull();
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout).status).toBe('completed');
      expect(r.out).toHaveLength(199);
      expect(r.dead.map((d) => [d.record.value, d.error])).toEqual([[{ n: BAD }, expect.stringMatching(why)]]);
    });
  }

  it("'x'.repeat(15e6) per record over 1,000 records: the results past settings.sandbox.maxOutputMb are dead letters", async () => {
    const r = await run("(v) => ({ ...v, s: 'x'.repeat(15e6) })", { count: 1000, batchSize: 1000, sandbox: { timeoutMs: 5000 } });
    expect(r.signal).toBeNull();
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).status).toBe('completed');
    expect(r.out.length).toBeGreaterThan(0);
    expect(r.out.length).toBeLessThanOrEqual(4); // 4 × 15 MB under the 64 MB cap
    expect(r.out.length + r.dead.length).toBe(1000);
    expect(r.dead.filter((d) => /maxOutputMb: 64/.test(d.error)).length).toBeGreaterThan(990);
  }, 120_000);
});
