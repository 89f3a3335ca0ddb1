/** The engine's own figures: throughput through the executor and the sandbox, against plain loops. */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRegistry } from '../../../nodes/catalog.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { compileUserFunction, sandboxWorkerPids } from '../../../runtime/sandbox/sandbox.js';
import { datasetRecord } from '../../../nodes/core/datasets.js';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { timed, type BenchCase, type Figure } from '../harness.js';
import { isAlive } from '../../helpers/processes.js';

const N = 500_000;
const registry = createRegistry();
const dir = () => mkdtempSync(join(tmpdir(), 'sluice-bench-'));
const TAX = '(o) => ({ ...o, tax: Math.round(o.amount * 0.2 * 100) / 100 })';

async function runFlow(nodes: unknown[], edges: unknown[]): Promise<number> {
  const d = dir();
  const store = new SqliteCheckpointStore(join(d, 'state.db'));
  const plan = compileFlow({ apiVersion: 'sluice/v1', name: 'bench', nodes, edges }, registry, { env: { D: d } });
  let status = '';
  const ms = await timed(async () => (status = (await new FlowRun(plan, { store }).run()).status));
  await store.close();
  if (status !== 'completed') throw new Error(`bench flow ${status}`);
  return ms;
}

/** record counts of engine.rss-flat (BENCH_MEMORY_COUNTS, comma-separated): 1M alone while iterating */
const MEMORY_COUNTS = (process.env.BENCH_MEMORY_COUNTS ?? '1000000,2000000,5000000').split(',').map(Number);
const MEMORY_CHILD = fileURLToPath(new URL('../memory-child.js', import.meta.url));

/** peak RSS of a fresh process that runs generate → TRANSFORM → sqlite.sink over `count` orders */
async function peakRss(count: number, transform: 'map' | 'select'): Promise<{ ms: number; maxRssMiB: number; withWorkersMiB: number }> {
  // with the V8 flag `sluice` starts with (bin/sluice.js's first line)
  const { stdout } = await promisify(execFile)(process.execPath, ['--max-semi-space-size=4', MEMORY_CHILD, String(count), transform], { maxBuffer: 1 << 20 });
  const out = JSON.parse(stdout) as { status: string; error?: string; ms: number; maxRssMiB: number; withWorkersMiB: number };
  if (out.status !== 'completed') throw new Error(`memory flow ${out.status}: ${out.error}`);
  return out;
}

export const engineCases: BenchCase[] = [
  {
    name: 'engine.map',
    description: `${N.toLocaleString()} orders: generate → map (sandboxed tax) → jsonl file, against the same work in a plain loop`,
    async run() {
      const flowMs = await runFlow(
        [
          { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count: N } },
          { id: 'tax', type: 'core.map', config: { code: TAX } },
          { id: 'out', type: 'file.sink', config: { path: '${env:D}/out.jsonl' } },
        ],
        [
          { from: 'gen', to: 'tax' },
          { from: 'tax', to: 'out' },
        ],
      );
      // baseline: the same records, the same function in the host, the same file, no engine and no sandbox
      const { createWriteStream } = await import('node:fs');
      const d = dir();
      const plainMs = await timed(async () => {
        const out = createWriteStream(join(d, 'plain.jsonl'));
        const fn = (o: Record<string, unknown>) => ({ ...o, tax: Math.round((o.amount as number) * 0.2 * 100) / 100 });
        const o = { seed: 1, customers: 1000, linesPerOrder: 5 };
        for (let i = 1; i <= N; i += 1000) {
          let chunk = '';
          for (let j = i; j < i + 1000 && j <= N; j++) chunk += `${JSON.stringify(fn(datasetRecord('orders', j, o)))}\n`;
          if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
        }
        await new Promise<void>((r) => out.end(() => r()));
      });
      return [{ metric: 'records/s through the flow', value: (N / flowMs) * 1000, unit: 'rec/s', baseline: { label: 'plain Node loop', value: (N / plainMs) * 1000 } }];
    },
  },
  {
    name: 'engine.sandbox',
    description: 'user function calls: one isolate call per batch of 1,000 against plain JS in the host',
    async run() {
      const fn = await compileUserFunction(TAX, { memoryLimitMb: 64, timeoutMs: 1000, label: 'bench' });
      const o = { seed: 1, customers: 1000, linesPerOrder: 5 };
      const batches = Array.from({ length: 200 }, (_, b) => Array.from({ length: 1000 }, (_, j) => [datasetRecord('orders', b * 1000 + j + 1, o), {}]));
      const isolated = await timed(async () => {
        for (const b of batches) await fn.callBatch(b);
      });
      fn.dispose();
      const host = (v: Record<string, unknown>) => ({ ...v, tax: Math.round((v.amount as number) * 0.2 * 100) / 100 });
      const plain = await timed(() => {
        for (const b of batches) JSON.parse(JSON.stringify(b.map((c) => host(c[0] as Record<string, unknown>))));
      });
      return [{ metric: 'sandboxed calls/s', value: (200_000 / isolated) * 1000, unit: 'calls/s', baseline: { label: 'host JS (with a JSON copy)', value: (200_000 / plain) * 1000 } }];
    },
  },
  {
    name: 'engine.sandbox-crash',
    description: 'a record kills its sandbox worker (fatal abort at the heap limit): from the worker’s death to the next record processed',
    async run() {
      const fn = await compileUserFunction('(v) => (v.bad ? new Array(1e9).fill(1).length : v)', { memoryLimitMb: 64, timeoutMs: 1000, label: 'bench' });
      await fn.callBatch([[{}]]);
      const alive = isAlive;
      const gaps: number[] = [];
      for (let rep = 0; rep < 3; rep++) {
        // the batch fails in a worker, then runs again one record per call in fresh ones: the culprit
        // kills a second worker, and the record after it is the one measured
        const seen = new Set<number>(sandboxWorkerPids());
        let lastDeath = 0;
        const watch = setInterval(() => {
          for (const pid of sandboxWorkerPids()) seen.add(pid);
          for (const pid of seen) {
            if (!alive(pid)) {
              seen.delete(pid);
              lastDeath = performance.now();
            }
          }
        }, 1);
        const r = await fn.callBatch([[{ id: 1 }], [{ id: 2, bad: true }], [{ id: 3 }]]);
        const end = performance.now();
        clearInterval(watch);
        if (r[1].ok || !r[2].ok || !lastDeath) throw new Error(`bench: unexpected results ${JSON.stringify(r)}`);
        gaps.push(end - lastDeath);
      }
      fn.dispose();
      return [
        { metric: 'worker killed → next record processed, worst of 3', value: Math.max(...gaps), unit: 'ms', note: 'target < 1000' },
        { metric: 'worker killed → next record processed, best of 3', value: Math.min(...gaps), unit: 'ms' },
      ];
    },
  },
  {
    name: 'engine.memory',
    description: '2,000,000 records to a slow-ish SQLite sink: heap stays flat (backpressure)',
    async run() {
      const d = dir();
      const samples: number[] = [];
      const timer = setInterval(() => samples.push(process.memoryUsage().heapUsed / 1e6), 100);
      const ms = await runFlow(
        [
          { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 2_000_000 } },
          { id: 'db', type: 'sqlite.sink', config: { path: join(d, 'x.db'), table: 'c', keys: ['n'] } },
        ],
        [{ from: 'gen', to: 'db' }],
      );
      clearInterval(timer);
      const tail = samples.slice(Math.floor(samples.length / 4));
      return [
        { metric: 'records/s into SQLite', value: (2_000_000 / ms) * 1000, unit: 'rec/s' },
        { metric: 'heap after warm-up, max', value: Math.max(...tail), unit: 'MB' },
        { metric: 'heap after warm-up, min', value: Math.min(...tail), unit: 'MB', note: 'max − min is what grows with input' },
      ];
    },
  },
  {
    name: 'engine.rss-flat',
    description: `peak RSS of generate (orders) → map → sqlite.sink, one process per count (${MEMORY_COUNTS.map((n) => n.toLocaleString()).join(', ')}): flat in the record count`,
    async run() {
      const figures: Figure[] = [];
      const first = MEMORY_COUNTS[0];
      let base = 0;
      for (const count of MEMORY_COUNTS) {
        const { ms, maxRssMiB, withWorkersMiB } = await peakRss(count, 'map');
        if (count === first) base = withWorkersMiB;
        figures.push({
          metric: `peak RSS, host + sandbox workers, map, ${count.toLocaleString()} records`,
          value: withWorkersMiB,
          unit: 'MiB',
          baseline: count === first ? undefined : { label: `${first.toLocaleString()} records`, value: base },
          note: `host alone ${Math.round(maxRssMiB)} MiB; ${Math.round((count / ms) * 1000).toLocaleString()} rec/s`,
        });
      }
      const select = await peakRss(first, 'select');
      figures.push({ metric: `peak RSS, select in place of map, ${first.toLocaleString()}`, value: select.maxRssMiB, unit: 'MiB', note: 'no sandbox' });
      return figures;
    },
  },
];
