import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { InProcessLockService } from '../../runtime/lock/lock.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { FencedOffError } from '../../runtime/state/checkpoint-store.js';
import { collector, flat, snapshots, testRegistry } from '../helpers/test-nodes.js';
import { tempDir } from '../helpers/node-harness.js';

const registry = testRegistry();
const stores: SqliteCheckpointStore[] = [];
const newStore = (path = join(tempDir(), 'state.db')) => {
  const s = new SqliteCheckpointStore(path);
  stores.push(s);
  return s;
};
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

type N = { id: string; type: string; config?: Record<string, unknown> };
const flow = (nodes: N[], edges: { from: string; to: string; fromPort?: string; toPort?: string }[], settings: Record<string, unknown> = {}) =>
  compileFlow({ apiVersion: 'sluice/v1', name: 'exec-test', settings, nodes: nodes.map((n) => ({ config: {}, ...n })), edges }, registry);

const gen = (count: number, extra: Record<string, unknown> = {}): N => ({ id: 'gen', type: 'core.generate', config: { dataset: 'counter', count, ...extra } });

describe('executor', () => {
  it('fans out to several nodes and fans in from several, every record once per path', async () => {
    const c = collector('fan');
    const plan = flow(
      [
        gen(5000),
        { id: 'a', type: 'core.map', config: { code: '(v) => ({ n: v.n, via: "a" })' } },
        { id: 'b', type: 'core.map', config: { code: '(v) => ({ n: v.n, via: "b" })' } },
        { id: 'sink', type: 'test.memory', config: { name: 'fan' } },
      ],
      [
        { from: 'gen', to: 'a' },
        { from: 'gen', to: 'b' },
        { from: 'a', to: 'sink' },
        { from: 'b', to: 'sink' },
      ],
    );
    const store = newStore();
    const summary = await new FlowRun(plan, { store }).run();
    expect(summary.status).toBe('completed');
    const got = flat(c).map((r) => `${(r.value as { via: string }).via}${(r.value as { n: number }).n}`);
    expect(got).toHaveLength(10000);
    expect(new Set(got).size).toBe(10000);
    expect(summary.nodes.sink).toMatchObject({ in: 10000, out: 10000, errors: 0 });
    expect(summary.edges).toEqual([5000, 5000, 5000, 5000]);
    expect((await store.load('exec-test'))!.positions).toEqual({ gen: 5000 });
  });

  it('applies backpressure: batches in flight stay bounded whatever the input size', async () => {
    const c = collector('slow');
    const plan = flow([gen(200_000), { id: 'sink', type: 'test.memory', config: { name: 'slow' } }], [{ from: 'gen', to: 'sink' }], {
      batchSize: 500,
      queueSize: 2,
    });
    const run = new FlowRun(plan, { store: newStore() });
    let maxAhead = 0;
    let written = 0;
    c.onWrite = (batch) => {
      written += batch.length;
      maxAhead = Math.max(maxAhead, (run.stats().gen.out - written) / 500);
      c.batches.length = 0; // keep memory flat in the test itself
    };
    const summary = await run.run();
    expect(summary.status).toBe('completed');
    expect(summary.nodes.sink.in).toBe(200_000);
    // queue of 2 + the batch the sink holds + the one the source is pushing
    expect(maxAhead).toBeLessThanOrEqual(4);
  });

  it('commits a position only after every sink downstream acknowledged the batch', async () => {
    let release!: () => void;
    const fast = collector('fast');
    const gated = collector('gated', { gate: new Promise<void>((r) => (release = r)) });
    const plan = flow(
      [gen(3000), { id: 'fast', type: 'test.memory', config: { name: 'fast' } }, { id: 'gated', type: 'test.memory', config: { name: 'gated' } }],
      [
        { from: 'gen', to: 'fast' },
        { from: 'gen', to: 'gated' },
      ],
    );
    const store = newStore();
    const done = new FlowRun(plan, { store }).run();
    while (flat(fast).length < 1000) await new Promise((r) => setTimeout(r, 5));
    await new Promise((r) => setTimeout(r, 50));
    expect(await store.load('exec-test')).toBeUndefined(); // the fast sink alone is not enough
    release();
    expect((await done).status).toBe('completed');
    expect(flat(gated)).toHaveLength(3000);
    expect((await store.load('exec-test'))!.positions).toEqual({ gen: 3000 });
  });

  it('stops gracefully and resumes from the committed position: nothing lost, nothing twice', async () => {
    const path = join(tempDir(), 'state.db');
    const c = collector('resume');
    const plan = flow([gen(20_000, { rate: 40_000 }), { id: 'sink', type: 'test.memory', config: { name: 'resume' } }], [{ from: 'gen', to: 'sink' }], {
      batchSize: 100,
    });
    const first = new FlowRun(plan, { store: newStore(path) });
    c.onWrite = () => {
      if (flat(c).length >= 3000) first.stop();
    };
    const s1 = await first.run();
    expect(s1.status).toBe('stopped');
    const afterFirst = flat(c).length;
    expect(afterFirst).toBeLessThan(20_000);
    expect(s1.positions.gen).toBe(afterFirst);
    c.onWrite = undefined;
    const s2 = await new FlowRun(plan, { store: newStore(path) }).run();
    expect(s2.status).toBe('completed');
    expect(s2.resumedFrom).toEqual({ gen: afterFirst });
    const ns = flat(c).map((r) => (r.value as { n: number }).n);
    expect(ns).toHaveLength(20_000);
    expect(ns).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
  });

  it('retries a failing write with backoff and commits only once it succeeds', async () => {
    const c = collector('flaky', { failuresLeft: 2 });
    const plan = flow([gen(10), { id: 'sink', type: 'test.memory', config: { name: 'flaky' } }], [{ from: 'gen', to: 'sink' }], {
      retry: { attempts: 3, backoffMs: 1 },
    });
    const summary = await new FlowRun(plan, { store: newStore() }).run();
    expect(summary.status).toBe('completed');
    expect(c.writes).toBe(3);
    expect(flat(c)).toHaveLength(10);
  });

  it('fails the flow when writes keep failing, without committing the batch', async () => {
    collector('broken', { failuresLeft: 100 });
    const plan = flow([gen(10), { id: 'sink', type: 'test.memory', config: { name: 'broken' } }], [{ from: 'gen', to: 'sink' }], {
      retry: { attempts: 2, backoffMs: 1 },
    });
    const store = newStore();
    const summary = await new FlowRun(plan, { store }).run();
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe('node sink: transient write failure');
    expect(summary.userError).toBe(false);
    expect((await store.load('exec-test'))?.positions.gen).toBeUndefined();
  });

  it('a source read error: run() returns only once no sink write is in flight, and nothing is written after it returned', async () => {
    const c = collector('after-fail');
    const plan = flow(
      [
        { id: 'src', type: 'test.failingSource', config: { batch: 100, failAt: 7 } },
        { id: 'sink', type: 'test.memory', config: { name: 'after-fail', delayMs: 40 } },
      ],
      [{ from: 'src', to: 'sink' }],
      { retry: { attempts: 1, backoffMs: 1 }, queueSize: 4 },
    );
    const store = newStore();
    const summary = await new FlowRun(plan, { store }).run();
    expect(summary.status).toBe('failed');
    expect(summary.error).toMatch(/read 7 failed: connection reset/);
    // the sink is idle and closed when run() returns, and was closed after its last write ended
    expect(c.inFlight).toBe(0);
    expect(c.closed).toBe(true);
    expect(c.afterClose ?? 0).toBe(0);
    const rows = flat(c).length;
    await new Promise((r) => setTimeout(r, 400)); // 10 writes' time: a sink loop still going would write more
    expect(flat(c).length).toBe(rows);
    expect(c.afterClose ?? 0).toBe(0);
    // the committed position never runs ahead of what the sink wrote
    expect(Number((await store.load('exec-test'))?.positions.src ?? 0)).toBeLessThanOrEqual(rows);
  });

  const throwing = { id: 'm', type: 'core.map', config: { code: '(v) => { if (v.n % 4 === 0) throw new Error("no multiples of 4"); return v; }' } };

  it('sends records that throw to the dead-letter store with the error and the record, and goes on', async () => {
    const c = collector('dl');
    const store = newStore();
    const plan = flow([gen(20), throwing, { id: 'sink', type: 'test.memory', config: { name: 'dl' } }], [
      { from: 'gen', to: 'm' },
      { from: 'm', to: 'sink' },
    ]);
    const summary = await new FlowRun(plan, { store }).run();
    expect(summary.status).toBe('completed');
    expect(flat(c)).toHaveLength(15);
    expect(summary.deadLetters).toBe(5);
    expect(summary.nodes.m.errors).toBe(5);
    const letters = await store.deadLetters('exec-test');
    expect(letters.map((l) => (l.record.value as { n: number }).n)).toEqual([4, 8, 12, 16, 20]);
    expect(letters[0]).toMatchObject({ node: 'm', error: 'Error: no multiples of 4' });
  });

  it('routes failed records to the error port when it is wired', async () => {
    const good = collector('good');
    const bad = collector('bad');
    const plan = flow(
      [gen(20), throwing, { id: 'ok', type: 'test.memory', config: { name: 'good' } }, { id: 'ko', type: 'test.memory', config: { name: 'bad' } }],
      [
        { from: 'gen', to: 'm' },
        { from: 'm', to: 'ok' },
        { from: 'm', fromPort: 'error', to: 'ko' },
      ],
    );
    const summary = await new FlowRun(plan, { store: newStore() }).run();
    expect(summary.deadLetters).toBe(0);
    expect(flat(good)).toHaveLength(15);
    expect(flat(bad).map((r) => r.meta.error)).toEqual(Array(5).fill({ node: 'm', message: 'Error: no multiples of 4' }));
  });

  it('stops the flow on a failed record when settings.onError is stop', async () => {
    collector('stop');
    const plan = flow([gen(20), throwing, { id: 'sink', type: 'test.memory', config: { name: 'stop' } }], [
      { from: 'gen', to: 'm' },
      { from: 'm', to: 'sink' },
    ], { onError: 'stop' });
    const summary = await new FlowRun(plan, { store: newStore() }).run();
    expect(summary.status).toBe('failed');
    expect(summary.error).toBe('node m: Error: no multiples of 4 (record key {"n":4}; settings.onError is "stop")');
  });

  it('previews a bounded sample without writing or committing', async () => {
    const c = collector('preview');
    const plan = flow([gen(1_000_000), throwing, { id: 'sink', type: 'test.memory', config: { name: 'preview' } }], [
      { from: 'gen', to: 'm' },
      { from: 'm', to: 'sink' },
    ]);
    const summary = await new FlowRun(plan, { preview: { limit: 12, sample: 5 } }).run();
    expect(summary.status).toBe('completed');
    expect(c.writes).toBe(0);
    expect(summary.nodes.gen.out).toBe(12);
    const p = summary.preview!;
    expect(p.gen.output.out).toHaveLength(5);
    expect(p.m.input).toHaveLength(5);
    expect(p.m.errors.map((r) => (r.value as { n: number }).n)).toEqual([4, 8, 12]);
    expect(p.sink.wouldWrite!.ops.c).toBe(9);
    expect(p.sink.wouldWrite!.sample).toHaveLength(5);
  });

  it('refuses to run the same flow twice at once', async () => {
    let release!: () => void;
    collector('lock', { gate: new Promise<void>((r) => (release = r)) });
    const plan = flow([gen(10), { id: 'sink', type: 'test.memory', config: { name: 'lock' } }], [{ from: 'gen', to: 'sink' }]);
    const locks = new InProcessLockService();
    const first = new FlowRun(plan, { store: newStore(), locks }).run();
    await new Promise((r) => setTimeout(r, 20));
    const second = await new FlowRun(plan, { store: newStore(), locks }).run();
    expect(second.status).toBe('failed');
    expect(second.userError).toBe(true);
    expect(second.error).toMatch(/flow exec-test cannot start: flow:exec-test is already running/);
    release();
    expect((await first).status).toBe('completed');
  });

  it('checkpoints stateful flows every settings.checkpointIntervalMs, stretched to ten times a slow checkpoint', async () => {
    const run = async (name: string, snapshotMs: number) => {
      collector(name);
      const plan = flow(
        [gen(600, { rate: 500 }), { id: 'st', type: 'test.slowState', config: { name, snapshotMs } }, { id: 'sink', type: 'test.memory', config: { name } }],
        [{ from: 'gen', to: 'st' }, { from: 'st', to: 'sink' }],
        { checkpointIntervalMs: 100, batchSize: 10 },
      );
      const summary = await new FlowRun(plan, { store: newStore() }).run();
      expect(summary.status).toBe('completed');
      const at = snapshots.get(name)!;
      return { count: at.length, gaps: at.slice(1).map((t, i) => t - at[i]) };
    };
    const fast = await run('ckpt-fast', 0); // ~1.2 s of input at 100 ms: about a dozen checkpoints
    const slow = await run('ckpt-slow', 60); // each takes 60 ms: the next waits >= 600 ms
    expect(fast.count).toBeGreaterThanOrEqual(6);
    expect(slow.count).toBeLessThanOrEqual(4);
    for (const gap of slow.gaps.slice(0, -1)) expect(gap).toBeGreaterThanOrEqual(600);
  });

  it("puts the sources' own progress (tables done / estimated) in the summary", async () => {
    const path = join(tempDir(), 'progress.db');
    const db = new Database(path);
    db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY)');
    db.prepare('INSERT INTO t (id) SELECT value FROM json_each(?)').run(JSON.stringify(Array.from({ length: 2500 }, (_, i) => i + 1)));
    db.close();
    collector('progress');
    const plan = flow([{ id: 'src', type: 'sqlite.source', config: { path, table: 't', chunkSize: 1000 } }, { id: 'sink', type: 'test.memory', config: { name: 'progress' } }], [{ from: 'src', to: 'sink' }]);
    const summary = await new FlowRun(plan, { store: newStore() }).run();
    expect(summary.status).toBe('completed');
    expect(summary.progress).toEqual({ src: { tables: [{ name: 't', phase: 'done', done: 2500, estimated: 2500 }] } });
  });

  it('a later lock service (a restarted process) hands out larger tokens than an earlier one', async () => {
    let clock = 1_000_000;
    const earlier = new InProcessLockService(() => clock);
    const a = await earlier.acquire('flow:x', 1000);
    await a.release();
    const b = await earlier.acquire('flow:x', 1000);
    expect(b.token).toBeGreaterThan(a.token);
    clock += 5; // the next process starts a little later, its own counter from scratch
    const later = await new InProcessLockService(() => clock).acquire('flow:x', 1000);
    expect(later.token).toBeGreaterThan(b.token);
  });

  it('the checkpoint store refuses a save fenced off by a newer lease', async () => {
    const store = newStore();
    await store.save('f', { positions: { a: 1 }, state: {} }, 5);
    await expect(store.save('f', { positions: { a: 2 }, state: {} }, 4)).rejects.toThrowError(FencedOffError);
    expect((await store.load('f'))!.positions).toEqual({ a: 1 });
  });
});
