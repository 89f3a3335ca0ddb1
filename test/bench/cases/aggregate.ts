/**
 * core.aggregate's figures: 1,000,000 orders over 10,000 customers, running count/sum/avg of amount
 * per customer. Throughput of the whole flow (generate → aggregate → a sink that discards) and of the
 * node's own process(), and the state it holds, each against a plain JS Map running aggregate over the
 * same records in the same run.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { z } from 'zod';
import { NODE_TYPES } from '../../../nodes/catalog.js';
import { aggregate } from '../../../nodes/core/aggregate.js';
import { datasetRecord } from '../../../nodes/core/datasets.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { defineNode, type NodeType, type SluiceRecord, type TransformInstance } from '../../../runtime/index.js';
import { NodeRegistry } from '../../../runtime/registry.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { create } from '../../helpers/node-harness.js';
import { timed, type BenchCase, type Figure } from '../harness.js';

const N = 1_000_000;
const GROUPS = 10_000;
const BATCH = 1000;
const DATA = { seed: 1, customers: GROUPS, linesPerOrder: 5 };
const CONFIG = {
  groupBy: ['customer_id'],
  measures: [
    { name: 'orders', fn: 'count' },
    { name: 'revenue', fn: 'sum', field: 'amount' },
    { name: 'mean', fn: 'avg', field: 'amount' },
  ],
};

const discard = defineNode({
  type: 'bench.discard',
  category: 'sink',
  title: 'Discard',
  description: 'acknowledges every batch at once',
  configSchema: z.object({}).strict(),
  inputs: [{ name: 'in' }],
  outputs: [],
  create: () => ({ kind: 'sink', async open() {}, async write() {}, async close() {} }),
});

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
function heapMb(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1e6;
}

/** the same 1M orders every time: 100,000 distinct values, each record with its own key */
const POOL = 100_000;
let pool: Record<string, unknown>[] | undefined;
function batchAt(start: number): SluiceRecord[] {
  pool ??= Array.from({ length: POOL }, (_, i) => datasetRecord('orders', i + 1, DATA));
  const out: SluiceRecord[] = new Array(BATCH);
  for (let j = 0; j < BATCH; j++) out[j] = { key: { id: start + j + 1 }, value: pool[(start + j) % POOL], op: 'c', meta: {} };
  return out;
}

/** plain JS: a Map of customer → { count, sum }, avg at the end */
function plainAggregate(values: (i: number) => Record<string, unknown>): Map<unknown, { count: number; sum: number }> {
  const groups = new Map<unknown, { count: number; sum: number }>();
  for (let i = 0; i < N; i++) {
    const v = values(i);
    let g = groups.get(v.customer_id);
    if (!g) groups.set(v.customer_id, (g = { count: 0, sum: 0 }));
    g.count++;
    g.sum += v.amount as number;
  }
  for (const g of groups.values()) void (g.sum / g.count);
  return groups;
}

async function nodeRun(retractionMemory: boolean): Promise<{ ms: number; heap: number; snapshotBytes: number; emitted: number }> {
  const before = heapMb();
  const t = await create<TransformInstance>(aggregate, { ...CONFIG, retractionMemory });
  await t.open(undefined);
  let emitted = 0;
  const ms = await timed(async () => {
    for (let i = 0; i < N; i += BATCH) emitted += (await t.process(batchAt(i), 'in')).out!.length;
  });
  const heap = heapMb() - before;
  const snapshotBytes = JSON.stringify(t.snapshot!()).length;
  await t.close();
  return { ms, heap, snapshotBytes, emitted };
}

export const aggregateCases: BenchCase[] = [
  {
    name: 'aggregate',
    description: `${N.toLocaleString()} orders, ${GROUPS.toLocaleString()} groups (customer_id), running count/sum/avg of amount`,
    async run() {
      const figures: Figure[] = [];

      // the whole flow, against generating the same orders and aggregating them in a plain loop
      const d = mkdtempSync(join(tmpdir(), 'sluice-bench-agg-'));
      const store = new SqliteCheckpointStore(join(d, 'state.db'));
      const registry = new NodeRegistry([...NODE_TYPES, discard as NodeType]);
      const plan = compileFlow(
        {
          apiVersion: 'sluice/v1',
          name: 'bench-aggregate',
          nodes: [
            { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count: N, customers: GROUPS } },
            { id: 'agg', type: 'core.aggregate', config: { ...CONFIG, retractionMemory: false } },
            { id: 'out', type: 'bench.discard', config: {} },
          ],
          edges: [
            { from: 'gen', to: 'agg' },
            { from: 'agg', to: 'out' },
          ],
        },
        registry,
      );
      let summary: Awaited<ReturnType<FlowRun['run']>> | undefined;
      const flowMs = await timed(async () => (summary = await new FlowRun(plan, { store }).run()));
      await store.close();
      if (summary?.status !== 'completed') throw new Error(`bench flow ${summary?.status}: ${summary?.error}`);
      const plainGenMs = await timed(() => plainAggregate((i) => datasetRecord('orders', i + 1, DATA)));
      figures.push({
        metric: 'flow records/s (generate → aggregate → discard)',
        value: (N / flowMs) * 1000,
        unit: 'rec/s',
        baseline: { label: 'generate + plain Map aggregate', value: (N / plainGenMs) * 1000 },
        note: `retractionMemory off, ${summary.nodes.agg.out.toLocaleString()} upserts emitted, checkpoints every 1 s`,
      });

      // the node alone, on pre-built records, against a Map over the same values
      batchAt(0); // builds the pool before anything is timed or weighed
      const before = heapMb();
      let kept: Map<unknown, { count: number; sum: number }> | undefined;
      const plainMs = await timed(() => (kept = plainAggregate((i) => pool![i % POOL])));
      const plainHeap = heapMb() - before;
      void kept?.size;
      kept = undefined;
      for (const memory of [false, true]) {
        const r = await nodeRun(memory);
        const label = memory ? 'retractionMemory on (default)' : 'retractionMemory off';
        figures.push({
          metric: `node process() records/s, ${label}`,
          value: (N / r.ms) * 1000,
          unit: 'rec/s',
          baseline: { label: 'plain Map aggregate', value: (N / plainMs) * 1000 },
          note: `${r.emitted.toLocaleString()} upserts built`,
        });
        figures.push({
          metric: `state heap, ${label}`,
          value: r.heap,
          unit: 'MB',
          baseline: { label: 'plain Map of 10,000 {count,sum}', value: plainHeap },
          note: `snapshot ${(r.snapshotBytes / 1e6).toFixed(1)} MB of JSON per checkpoint`,
        });
      }
      return figures;
    },
  },
];
