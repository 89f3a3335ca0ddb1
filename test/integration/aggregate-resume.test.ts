/**
 * Kill and resume: a change stream (inserts, updates and deletes with before) read by file.source,
 * aggregated by core.aggregate and upserted by sqlite.sink, run with the real CLI. One run goes
 * uninterrupted; another is SIGKILLed right after its first aligned checkpoint (state and positions
 * saved together), then restarted to the end. The sink tables must be identical, and equal to
 * SQL GROUP BY over the final source table. Needs dist/ (`npx tsc -p .`; `npm test` runs it first).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/node-harness.js';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'bin/sluice.js');
const CHANGES = 80_000;
const KEYS = 3000;

type Row = { id: number; country: string; amount: number; status: string };

/** a deterministic change stream and the table it leaves */
function writeChanges(path: string): Map<number, Row> {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const table = new Map<number, Row>();
  const lines: string[] = [];
  for (let i = 0; i < CHANGES; i++) {
    const id = 1 + Math.floor(rnd() * KEYS);
    const old = table.get(id);
    if (old && rnd() < 0.15) {
      table.delete(id);
      lines.push(JSON.stringify({ op: 'd', key: { id }, before: old }));
      continue;
    }
    const row: Row = { id, country: `C${Math.floor(rnd() * 150)}`, amount: Math.round(rnd() * 100_000) / 100, status: ['new', 'paid', 'shipped'][Math.floor(rnd() * 3)] };
    table.set(id, row);
    lines.push(JSON.stringify(old ? { op: 'u', key: { id }, value: row, before: old } : { op: 'c', key: { id }, value: row }));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
  return table;
}

function writeFlow(dir: string, changes: string): string {
  const flow = `apiVersion: sluice/v1
name: aggregate-resume
settings: { batchSize: 50, checkpointIntervalMs: 100 }  # frequent checkpoints: the first one lands well before the end on a fast machine
nodes:
  - id: changes
    type: file.source
    config: { path: ${JSON.stringify(changes)}, envelope: true }
  - id: totals
    type: core.aggregate
    config:
      groupBy: [country]
      measures:
        - { name: orders, fn: count }
        - { name: revenue, fn: sum, field: amount }
        - { name: mean, fn: avg, field: amount }
        - { name: smallest, fn: min, field: amount }
        - { name: largest, fn: max, field: amount }
        - { name: statuses, fn: countDistinct, field: status }
  - id: db
    type: sqlite.sink
    config: { path: ${JSON.stringify(join(dir, 'out.db'))}, table: totals, keys: [country] }
edges:
  - { from: changes, to: totals }
  - { from: totals, to: db }
`;
  const path = join(dir, 'flow.yaml');
  writeFileSync(path, flow);
  return path;
}

function sluice(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, stdout, stderr })),
  );
  return { child, done };
}

/** the committed checkpoint of the flow, read the way another process would (WAL: readers do not block) */
function checkpoint(stateDb: string): { positions: Record<string, { offset: number }>; state: Record<string, unknown> } | undefined {
  if (!existsSync(stateDb)) return undefined;
  const db = new Database(stateDb, { readonly: true, fileMustExist: true, timeout: 2000 });
  try {
    const row = db.prepare("SELECT positions, state FROM checkpoints WHERE flow = 'aggregate-resume'").get() as { positions: string; state: string } | undefined;
    return row ? { positions: JSON.parse(row.positions), state: JSON.parse(row.state) } : undefined;
  } catch {
    return undefined; // the table is not created yet
  } finally {
    db.close();
  }
}

const sinkRows = (dir: string) => {
  const db = new Database(join(dir, 'out.db'), { readonly: true });
  const rows = db.prepare('SELECT country, orders, revenue, mean, smallest, largest, statuses FROM totals ORDER BY country').all() as Record<string, unknown>[];
  db.close();
  return rows;
};

describe('core.aggregate kill and resume (real CLI, SIGKILL)', () => {
  it('a run killed after a checkpoint and restarted leaves the sink exactly as an uninterrupted run, and as SQL GROUP BY', async () => {
    expect(existsSync(join(ROOT, 'dist/nodes/core/aggregate.js')), 'dist/ is missing: run `npx tsc -p .` first (npm test does)').toBe(true);
    const data = tempDir('sluice-agg-resume-');
    const changes = join(data, 'changes.jsonl');
    const table = writeChanges(changes);
    const size = statSync(changes).size;

    // uninterrupted
    const whole = tempDir('sluice-agg-whole-');
    const a = await sluice(['run', writeFlow(whole, changes), '--state', join(whole, 'state.db'), '--quiet']).done;
    expect(a.code, a.stderr).toBe(0);

    // killed right after its first aligned checkpoint, then resumed
    const killed = tempDir('sluice-agg-killed-');
    const flow = writeFlow(killed, changes);
    const stateDb = join(killed, 'state.db');
    const run = sluice(['run', flow, '--state', stateDb, '--quiet']);
    let exited = false;
    void run.done.then(() => (exited = true));
    let saved: ReturnType<typeof checkpoint>;
    while (!exited && !(saved = checkpoint(stateDb))?.positions.changes) await new Promise((r) => setTimeout(r, 10));
    expect(exited, 'the run ended before its first checkpoint: make the input larger for this machine').toBe(false);
    run.child.kill('SIGKILL');
    const b1 = await run.done;
    expect(b1.signal).toBe('SIGKILL');
    const at = checkpoint(stateDb)!;
    expect(at.positions.changes.offset).toBeGreaterThan(0);
    expect(at.positions.changes.offset, 'killed after the end: nothing was left to resume').toBeLessThan(size);
    expect((at.state.totals as { slots: unknown[] }).slots.length).toBeGreaterThan(0); // the node's state is in the same checkpoint
    expect(sinkRows(killed).length).toBeGreaterThan(0);

    const b2 = await sluice(['run', flow, '--state', stateDb, '--quiet', '--json']).done;
    expect(b2.code, b2.stderr).toBe(0);
    const summary = JSON.parse(b2.stdout) as { status: string; resumedFrom?: { changes: { offset: number } }; nodes: Record<string, { in: number }> };
    expect(summary.status).toBe('completed');
    expect(summary.resumedFrom?.changes.offset).toBe(at.positions.changes.offset);
    expect(summary.nodes.totals.in).toBeLessThan(CHANGES); // it resumed, it did not start over

    const uninterrupted = sinkRows(whole);
    expect(sinkRows(killed)).toEqual(uninterrupted);

    // and both equal what SQL computes over the final table
    const ref = new Database(':memory:');
    ref.exec('CREATE TABLE orders (id INTEGER PRIMARY KEY, country TEXT, amount REAL, status TEXT)');
    const put = ref.prepare('INSERT INTO orders VALUES (@id, @country, @amount, @status)');
    for (const r of table.values()) put.run(r);
    const want = ref
      .prepare(
        'SELECT country, COUNT(*) AS orders, SUM(amount) AS revenue, AVG(amount) AS mean, MIN(amount) AS smallest, MAX(amount) AS largest, COUNT(DISTINCT status) AS statuses FROM orders GROUP BY country ORDER BY country',
      )
      .all() as Record<string, number | string>[];
    ref.close();
    expect(uninterrupted.map((r) => [r.country, r.orders, r.smallest, r.largest, r.statuses])).toEqual(want.map((r) => [r.country, r.orders, r.smallest, r.largest, r.statuses]));
    uninterrupted.forEach((r, i) => {
      // SQLite sums doubles; the node sums exact decimals and rounds once: equal within 1e-12 relative
      for (const f of ['revenue', 'mean']) expect(Math.abs((r[f] as number) - (want[i][f] as number))).toBeLessThanOrEqual(1e-12 * Math.abs(want[i][f] as number));
    });
  });
});
