/**
 * The executor's time is injected: aligned checkpoints and the lease keeper follow the clock they are
 * given, not the wall clock, so these tests move time by hand.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { ManualClock } from '../../runtime/cluster/clock.js';
import type { LockService } from '../../runtime/lock/lock.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { collector, flat, snapshots, testRegistry } from '../helpers/test-nodes.js';
import { tempDir } from '../helpers/node-harness.js';

const registry = testRegistry();
const stores: SqliteCheckpointStore[] = [];
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});
const newStore = () => {
  const s = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
  stores.push(s);
  return s;
};
const macrotask = () => new Promise((r) => setImmediate(r));

/** an endless stateful flow: generate (2000/s) → slowState → memory */
const endless = (name: string) =>
  compileFlow(
    {
      apiVersion: 'sluice/v1',
      name,
      settings: { checkpointIntervalMs: 1000 },
      nodes: [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 1e9, rate: 2000 } },
        { id: 'st', type: 'test.slowState', config: { name, snapshotMs: 0 } },
        { id: 'sink', type: 'test.memory', config: { name } },
      ],
      edges: [{ from: 'gen', to: 'st' }, { from: 'st', to: 'sink' }],
    },
    registry,
  );

/** moves the manual clock in small steps, letting real I/O in between, until `done` */
async function advanceUntil(clock: ManualClock, done: () => boolean, stepMs = 5): Promise<void> {
  for (let i = 0; i < 4000 && !done(); i++) {
    await clock.advance(stepMs);
    await macrotask();
  }
  expect(done()).toBe(true);
}

describe('executor clock', () => {
  it('takes aligned checkpoints when the injected clock says so, whatever the wall clock does', async () => {
    const c = collector('clock-ckpt');
    const clock = new ManualClock();
    const store = newStore();
    const run = new FlowRun(endless('clock-ckpt'), { store, clock });
    let summary: RunSummary | undefined;
    const done = run.run().then((s) => (summary = s));
    while (flat(c).length < 400) await new Promise((r) => setTimeout(r, 10));
    expect(snapshots.get('clock-ckpt')).toBeUndefined(); // wall time passed, the run's clock did not
    await clock.advance(999);
    expect(snapshots.get('clock-ckpt')).toBeUndefined();
    await advanceUntil(clock, () => snapshots.get('clock-ckpt')?.length === 1, 1);
    const saved = (await store.load('clock-ckpt'))!;
    expect(saved.state).toEqual({ st: { n: 1 } });
    expect(saved.positions.gen as number).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 300)); // three intervals on a wall clock: none here
    expect(snapshots.get('clock-ckpt')).toHaveLength(1);
    run.stop();
    await advanceUntil(clock, () => summary !== undefined);
    await done;
    expect(summary!.status).toBe('stopped');
    expect(snapshots.get('clock-ckpt')).toHaveLength(2); // the final commit after the drain
  });

  it('stops the flow when the lease cannot be extended before it lapses on the lease clock', async () => {
    collector('clock-lease');
    const clock = new ManualClock();
    const locks: LockService = {
      async acquire(resource) {
        return { resource, token: 7, extend: () => Promise.reject(new Error('redis is away')), release: async () => undefined };
      },
    };
    const run = new FlowRun(endless('clock-lease'), { store: newStore(), locks, leaseTtlMs: 4000, clock });
    let summary: RunSummary | undefined;
    const done = run.run().then((s) => (summary = s));
    await new Promise((r) => setTimeout(r, 200));
    expect(run.status).toBe('running');
    await clock.advance(2999); // the keeper gives it up a quarter of the ttl before it would lapse
    expect(run.status).toBe('running');
    await advanceUntil(clock, () => summary !== undefined);
    await done;
    expect(summary!.status).toBe('failed');
    expect(summary!.error).toMatch(/lost the lease on flow clock-lease, stopping it: .*redis is away/);
  });

  it('a renewal still unanswered at the deadline holds the run (not one batch more written), and its late yes lets the same run go on', async () => {
    // the sink's first write waits until the test lets it go, so batches queue before it
    let letGo!: () => void;
    const sink = collector('clock-held', { gate: new Promise<void>((r) => (letGo = r)) });
    const clock = new ManualClock();
    const answers: (() => void)[] = [];
    const locks: LockService = {
      async acquire(resource) {
        // Redis answers each renewal only when the test says (a loaded machine, a slow network)
        return { resource, token: 7, extend: () => new Promise<void>((r) => answers.push(r)), release: async () => undefined };
      },
    };
    const flow = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'clock-held',
        nodes: [
          { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 1e9, rate: 2000 } },
          { id: 'sink', type: 'test.memory', config: { name: 'clock-held' } },
        ],
        edges: [{ from: 'gen', to: 'sink' }],
      },
      registry,
    );
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`), error: (m: string) => lines.push(`error ${m}`) };
    const run = new FlowRun(flow, { store: newStore(), locks, leaseTtlMs: 4000, clock, log });
    let summary: RunSummary | undefined;
    const done = run.run().then((s) => (summary = s));
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.writes).toBe(1);
    await clock.advance(3000); // the renewal at 800 is unanswered at the deadline, 3000
    expect(lines).toContainEqual(expect.stringMatching(/^warn the lease on flow clock-held is in doubt .*: reading and writing nothing new/));
    expect(answers).toHaveLength(1);
    sink.gate = undefined;
    letGo(); // the write in flight ends; the batches queued behind it must wait
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.writes).toBe(1);
    expect(sink.batches).toHaveLength(1);
    expect(run.status).toBe('running');
    answers[0](); // yes: the lease was this run's all along
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.writes).toBeGreaterThan(1);
    expect(run.status).toBe('running');
    expect(lines).toContain('info the lease on flow clock-held is kept: going on');
    expect(summary).toBeUndefined();
    run.stop();
    await advanceUntil(clock, () => summary !== undefined);
    await done;
    expect(summary!.status).toBe('stopped');
    // one run throughout: the records written are 1, 2, 3 … with none missing or twice
    const written = sink.batches.flat().map((r) => (r.value as { n: number }).n);
    expect(written).toEqual(written.map((_, i) => i + 1));
  });
});
