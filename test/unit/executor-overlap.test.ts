/**
 * A stateless transform that declares `concurrency`: several of its batches are in process() at once,
 * and what it emits still reaches downstream in input order (flow-run.ts overlappingTransformLoop).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { defineNode, type NodeType } from '../../runtime/index.js';
import { NodeRegistry } from '../../runtime/registry.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { collector, flat, memorySink } from '../helpers/test-nodes.js';
import { NODE_TYPES } from '../../nodes/catalog.js';
import { tempDir } from '../helpers/node-harness.js';

/** what the overlapping transform saw: calls started, most at once, and the order calls finished */
const seen = { started: 0, inFlight: 0, most: 0, finished: [] as number[] };

/**
 * Batch k (0-based) with k even finishes only once batch k + 1 has started: with one batch at a time
 * the flow would never end. Odd batches finish at once, so they finish before the even one before them.
 */
const overlap = defineNode({
  type: 'test.overlap',
  category: 'transform',
  title: 'Overlap',
  description: 'finishes its batches out of order',
  configSchema: z.object({ concurrency: z.number(), failAt: z.number().default(-1) }).strict(),
  inputs: [{ name: 'in', required: true }],
  outputs: [{ name: 'out' }],
  create(ctx) {
    const startedSignals: (() => void)[] = [];
    const started: Promise<void>[] = [];
    const signalFor = (k: number) => {
      while (started.length <= k) started.push(new Promise<void>((r) => startedSignals.push(r)));
      return started[k];
    };
    return {
      kind: 'transform',
      concurrency: ctx.config.concurrency,
      async open() {},
      async process(records) {
        const k = seen.started++;
        seen.inFlight++;
        seen.most = Math.max(seen.most, seen.inFlight);
        void signalFor(k);
        startedSignals[k]();
        try {
          if (k === ctx.config.failAt) throw new Error(`batch ${k} is bad`);
          if (k % 2 === 0) await signalFor(k + 1);
          seen.finished.push(k);
          return { out: records.map((r) => ({ ...r, value: { ...r.value, batch: k } })) };
        } finally {
          seen.inFlight--;
        }
      },
      async close() {},
    };
  },
});

const registry = new NodeRegistry([...NODE_TYPES, memorySink as NodeType, overlap as NodeType]);
const stores: SqliteCheckpointStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
  Object.assign(seen, { started: 0, inFlight: 0, most: 0, finished: [] });
});

function run(concurrency: number, failAt = -1) {
  const plan = compileFlow(
    {
      apiVersion: 'sluice/v1',
      name: 'overlap',
      settings: { batchSize: 100 },
      nodes: [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 1000 } },
        { id: 'tx', type: 'test.overlap', config: { concurrency, failAt } },
        { id: 'sink', type: 'test.memory', config: { name: 'overlap' } },
      ],
      edges: [
        { from: 'gen', to: 'tx' },
        { from: 'tx', to: 'sink' },
      ],
    },
    registry,
  );
  const store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
  stores.push(store);
  return { store, done: new FlowRun(plan, { store }).run() };
}

describe('a transform with concurrency', () => {
  it('has several batches in process() at once and emits them in input order', async () => {
    const c = collector('overlap');
    const { store, done } = run(3);
    const summary = await done;
    expect(summary.status).toBe('completed');
    // batches finished out of order (1 before 0, …), yet the sink got every record once, in order
    expect(seen.finished.slice(0, 2)).toEqual([1, 0]);
    expect(flat(c).map((r) => (r.value as { n: number }).n)).toEqual(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(flat(c).map((r) => (r.value as { batch: number }).batch)).toEqual(Array.from({ length: 1000 }, (_, i) => Math.floor(i / 100)));
    expect(seen.most).toBeGreaterThanOrEqual(2);
    expect(seen.most).toBeLessThanOrEqual(3);
    expect((await store.load('overlap'))!.positions).toEqual({ gen: 1000 });
  });

  it('fails the flow when one of the batches in flight fails, committing nothing past it', async () => {
    collector('overlap');
    const { store, done } = run(2, 4);
    const summary = await done;
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/node tx: batch 4 is bad/);
    const committed = (await store.load('overlap'))?.positions.gen as number | undefined;
    expect(committed ?? 0).toBeLessThanOrEqual(400);
  });
});
