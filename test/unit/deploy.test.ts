import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compileFlow } from '../../runtime/flow/compile.js';
import { DeploymentManager, DeploymentStateError, type DeploymentStatus } from '../../runtime/deploy/manager.js';
import { Preview, type PreviewBatch } from '../../runtime/deploy/preview.js';
import { LogRing } from '../../runtime/deploy/log-ring.js';
import { RateMeter } from '../../runtime/deploy/rates.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createRegistry } from '../../nodes/catalog.js';
import { tempDir } from '../helpers/node-harness.js';

const registry = createRegistry();
const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function setup(dir = tempDir()) {
  const store = new SqliteCheckpointStore(join(dir, 'state.db'));
  const manager = new DeploymentManager({ store, statusIntervalMs: 20, logCapacity: 50 });
  cleanup.push(() => store.close(), () => manager.stopAll());
  return { dir, store, manager };
}

/** gen (counter, paced) → file sink; `code` adds a map that may throw */
function plan(dir: string, opts: { count: number; rate?: number; name?: string; code?: string }) {
  const nodes: unknown[] = [{ id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: opts.count, ...(opts.rate ? { rate: opts.rate } : {}) } }];
  const edges = [];
  let last = 'gen';
  if (opts.code) {
    nodes.push({ id: 'fn', type: 'core.map', config: { code: opts.code } });
    edges.push({ from: 'gen', to: 'fn' });
    last = 'fn';
  }
  nodes.push({ id: 'out', type: 'file.sink', config: { path: join(dir, 'out.jsonl') } });
  edges.push({ from: last, to: 'out' });
  return compileFlow({ apiVersion: 'sluice/v1', name: opts.name ?? 'f', settings: { batchSize: 100 }, nodes, edges }, registry);
}

function nextStatus(manager: DeploymentManager, pred: (s: DeploymentStatus) => boolean): Promise<DeploymentStatus> {
  return new Promise((resolve) => {
    const off = manager.onStatus((s) => {
      if (pred(s)) {
        off();
        resolve(s);
      }
    });
  });
}

const lines = (dir: string) => readFileSync(join(dir, 'out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l).n as number);

describe('DeploymentManager', () => {
  it('deploys, reports moving counts and rates, pauses, resumes and stops with a commit the next deployment resumes from', async () => {
    const { dir, store, manager } = setup();
    const p = plan(dir, { count: 3000, rate: 2000 });
    const moving = nextStatus(manager, (s) => s.status === 'running' && s.nodes.out.in > 0 && s.nodes.gen.rate > 0);
    expect((await manager.deploy('f', p, { version: 1 })).status).toMatch(/starting|running/);
    const running = await moving;
    expect(running.version).toBe(1);

    const paused = manager.pause('f');
    expect(paused.status).toBe('paused');
    // while paused nothing more is read (but the batch being read when it paused): over ten status
    // reports (200 ms, 400 records at the paced rate) the source moves by one batch of 100 at most
    let reports = 0;
    const later = await nextStatus(manager, (s) => s.status === 'paused' && ++reports === 10);
    expect(later.nodes.gen.out - paused.nodes.gen.out).toBeLessThanOrEqual(100);
    const after = later.nodes.gen.out;

    expect(manager.resume('f').status).toBe('running');
    await nextStatus(manager, (s) => s.nodes.gen.out > after);
    const stopped = await manager.stop('f');
    expect(stopped.status).toBe('stopped');
    expect(stopped.endedAt).toBeDefined();
    expect(Object.values(stopped.nodes).every((n) => n.rate === 0)).toBe(true);
    const committed = (await store.load('f'))!.positions.gen as number;
    expect(committed).toBe(stopped.nodes.gen.out);

    // the next deployment reads on from the committed position, to the end
    const done = nextStatus(manager, (s) => s.status === 'completed');
    await manager.deploy('f', p, { version: 1 });
    expect((await done).nodes.gen.out).toBe(3000 - committed);
    expect(lines(dir)).toEqual(Array.from({ length: 3000 }, (_, i) => i + 1));
    expect(manager.logTail('f').map((l) => l.message)).toEqual(
      expect.arrayContaining(['deploying version 1', 'paused', 'resumed', expect.stringMatching(/^stopped after/), expect.stringMatching(/^completed after/)]),
    );
  });

  it('leaves an active deployment of the same version alone, and stops an older version before starting the new one', async () => {
    const { dir, manager } = setup();
    const p = plan(dir, { count: 1_000_000, rate: 1000 });
    const first = await manager.deploy('f', p, { version: 1 });
    expect((await manager.deploy('f', p, { version: 1 })).startedAt).toBe(first.startedAt);
    await nextStatus(manager, (s) => s.nodes.gen.out > 0);
    const second = await manager.deploy('f', p, { version: 2 });
    expect(second.version).toBe(2);
    expect(manager.logTail('f').map((l) => l.message)).toContain('stopping version 1 to deploy version 2');
    expect(manager.isActive('f')).toBe(true);
    await manager.stop('f');
  });

  it('answers DeploymentStateError for commands on flows that are not deployed or already ended, and stop is idempotent', async () => {
    const { dir, manager } = setup();
    expect(manager.status('nope')).toMatchObject({ status: 'not-deployed', nodes: {}, deadLetters: 0 });
    expect(() => manager.pause('nope')).toThrow(DeploymentStateError);
    expect(() => manager.resume('nope')).toThrow(/not deployed/);
    await expect(manager.stop('nope')).rejects.toThrow(DeploymentStateError);
    const done = nextStatus(manager, (s) => s.status === 'completed');
    await manager.deploy('f', plan(dir, { count: 10 }), { version: 1 });
    await done;
    expect(() => manager.pause('f')).toThrow(/is completed/);
    expect((await manager.stop('f')).status).toBe('completed');
    await expect(manager.forget('f')).resolves.toBeUndefined();
    expect(manager.status('f').status).toBe('not-deployed');
  });

  it('counts dead letters live and reports a failure with its node', async () => {
    const { dir, manager } = setup();
    const done = nextStatus(manager, (s) => s.status === 'completed');
    await manager.deploy('f', plan(dir, { count: 50, code: '(v) => { if (v.n % 10 === 0) throw new Error("tens"); return v; }' }));
    const s = await done;
    expect(s.deadLetters).toBe(5);
    expect(s.nodes.fn.errors).toBe(5);
    expect((await manager.checkpoints.deadLetters('f')).map((d) => d.record.value)).toEqual([10, 20, 30, 40, 50].map((n) => ({ n })));

  });

  it('reports a failed deployment with its node and error', async () => {
    const { dir, manager } = setup();
    const failed = nextStatus(manager, (s) => s.status === 'failed');
    const bad = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'g',
        nodes: [
          { id: 'gen', type: 'core.generate', config: { count: 10 } },
          { id: 'out', type: 'file.sink', config: { path: dir } }, // a directory: the sink cannot open it
        ],
        edges: [{ from: 'gen', to: 'out' }],
      },
      registry,
    );
    await manager.deploy('g', bad, { version: 1 });
    const s = await failed;
    expect(s.failedNode).toBe('out');
    expect(s.error).toMatch(/out/);
    expect(manager.logTail('g').at(-1)).toMatchObject({ level: 'error', message: expect.stringMatching(/^failed after .* in node out$/) });
    expect(manager.isActive('g')).toBe(false);
  });

  it('resumes after a restart of the process: lease tokens keep growing, so the new run is not fenced off', async () => {
    const dir = tempDir();
    const a = setup(dir);
    for (let i = 0; i < 2; i++) {
      const done = nextStatus(a.manager, (s) => s.status === 'completed');
      await a.manager.deploy('f', plan(dir, { count: 100 }), { version: i + 1 });
      await done;
    }
    await a.store.close();
    await new Promise((r) => setTimeout(r, 2)); // the next "process" starts at least a millisecond later
    const b = setup(dir);
    const done = nextStatus(b.manager, (s) => s.status !== 'starting' && s.status !== 'running');
    await b.manager.deploy('f', plan(dir, { count: 200 }), { version: 3 });
    const s = await done;
    expect(s.error).toBeUndefined();
    expect(s).toMatchObject({ status: 'completed', nodes: { gen: { out: 100 } } });
  });

  it('pauses a deployment asked to pause while it starts, once it runs', async () => {
    const { dir, manager } = setup();
    await manager.deploy('f', plan(dir, { count: 1_000_000, rate: 500 }), { version: 1, paused: true });
    const s = await nextStatus(manager, (x) => x.status === 'paused');
    expect(s.nodes.gen.out).toBeLessThan(1_000_000);
  });
});

describe('Preview', () => {
  it('reads at most limit records, streams at most sample per node, direction and port, and writes nothing', async () => {
    const dir = tempDir();
    const batches: PreviewBatch[] = [];
    const preview = new Preview(plan(dir, { count: 10_000, code: '(v) => ({ ...v, twice: v.n * 2 })' }), { limit: 250, sample: 30, onRecords: (b) => batches.push(b) });
    const summary = await preview.start();
    expect(summary.status).toBe('completed');
    expect(summary.nodes.gen.out).toBe(250);
    expect(summary.preview!.fn.output.out).toHaveLength(30);
    expect(summary.preview!.out.wouldWrite!.ops.c).toBe(250);
    const streamed = new Map<string, number>();
    for (const b of batches) streamed.set(`${b.node}/${b.direction}/${b.port}`, (streamed.get(`${b.node}/${b.direction}/${b.port}`) ?? 0) + b.records.length);
    expect(Object.fromEntries(streamed)).toEqual({ 'gen/out/out': 30, 'fn/in/in': 30, 'fn/out/out': 30, 'out/in/in': 30 });
    expect(batches.find((b) => b.node === 'fn' && b.direction === 'out')!.records[0].value).toEqual({ n: 1, twice: 2 });
    expect(() => readFileSync(join(dir, 'out.jsonl'))).toThrow(/ENOENT/);
  });

  it('stops at its time limit a source that would wait for more', async () => {
    const summary = await new Preview(plan(tempDir(), { count: 1000, rate: 20 }), { limit: 1000, timeoutMs: 150 }).start();
    expect(summary.status).toBe('stopped');
    expect(summary.timedOut).toBe(true);
    expect(summary.nodes.gen.out).toBeLessThan(1000);
  });

  it('keeps running when the listener throws', async () => {
    const summary = await new Preview(plan(tempDir(), { count: 20 }), {
      limit: 20,
      onRecords: () => {
        throw new Error('socket gone');
      },
    }).start();
    expect(summary).toMatchObject({ status: 'completed', nodes: { out: { in: 20 } } });
  });
});

describe('LogRing and RateMeter', () => {
  it('keeps the newest lines, oldest first', () => {
    const ring = new LogRing(3);
    for (let i = 1; i <= 5; i++) ring.push({ flowId: 'f', at: '', level: 'info', message: String(i) });
    expect(ring.tail().map((l) => l.message)).toEqual(['3', '4', '5']);
    expect(ring.tail(2).map((l) => l.message)).toEqual(['4', '5']);
    expect(ring.size).toBe(3);
  });

  it('computes records/s per node from the deltas of what sources read and other nodes received', () => {
    const m = new RateMeter(new Set(['src']), 200);
    const stats = (src: number, sink: number) => ({ src: { in: 0, out: src, errors: 0 }, sink: { in: sink, out: 0, errors: 0 } });
    expect(m.sample(stats(0, 0), 0)).toEqual({ src: 0, sink: 0 });
    expect(m.sample(stats(500, 250), 1000)).toEqual({ src: 500, sink: 250 });
    expect(m.sample(stats(900, 900), 1100)).toEqual({ src: 500, sink: 250 }); // too soon: the last rates stand
    expect(m.sample(stats(1500, 1250), 2000)).toEqual({ src: 1000, sink: 1000 });
    m.zero();
    expect(m.sample(stats(1500, 1250), 2100)).toEqual({ src: 0, sink: 0 });
  });
});
