/**
 * postgres.copy-lanes: the stateless part of the orders flow (postgres.source snapshot → core.map (tax) →
 * core.denormalize lookup → postgres.sink; no aggregate branch: a flow with stateful nodes cannot use lanes
 * yet) run by `sluice run` as one process and with `settings.lanes: 2`, against the hand-written
 * COPY → JS → COPY script of postgres.copy (which also counts per country: a little more work than these
 * flows do). Also the peak RSS of each run's process tree (host + lanes + sandbox workers), summed.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { BENCH_PG_URL, copyScript, count, ORDER_ROWS, ORDERS, REVENUE, seedOrders, TAX, withDatabase } from './postgres.js';
import type { BenchCase, Figure } from '../harness.js';

/** bin/sluice.js, found upward from here (the bench runs from dist/) */
function sluiceBin(): string {
  for (let d = import.meta.dirname; d !== dirname(d); d = dirname(d)) if (existsSync(join(d, 'bin/sluice.js'))) return join(d, 'bin/sluice.js');
  throw new Error('bin/sluice.js not found');
}

/** resident memory of `pid` and every process below it, KiB */
function treeRssKb(pid: number): number {
  const rows = execFileSync('ps', ['-eo', 'pid=,ppid=,rss='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number));
  const tree = new Set([pid]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [p, pp] of rows) if (tree.has(pp) && !tree.has(p)) grew = tree.add(p).size > 0;
  }
  return rows.filter(([p]) => tree.has(p)).reduce((s, [, , rss]) => s + rss, 0);
}

/** runs the flow with `sluice run`; its time (ms) and the peak RSS of its process tree (MiB) */
async function cliRun(doc: Record<string, unknown>): Promise<{ ms: number; peakMiB: number }> {
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-bench-lanes-')), 'flow.json');
  writeFileSync(file, JSON.stringify({ apiVersion: 'sluice/v1', ...doc }));
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, ['--max-semi-space-size=4', sluiceBin(), 'run', file, '--state', join(dirname(file), 'state.db'), '--quiet'], {
    env: { ...process.env, PG_URL: BENCH_PG_URL },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-2000)));
  let peak = 0;
  const poll = setInterval(() => {
    try {
      peak = Math.max(peak, treeRssKb(child.pid!));
    } catch {
      // the process ended between two polls
    }
  }, 250);
  const code = await new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  clearInterval(poll);
  if (code !== 0) throw new Error(`sluice run failed (${code}): ${stderr}`);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, peakMiB: peak / 1024 };
}

const flow = (target: string, lanes: number) => ({
  name: `bench-pg-lanes-${target}`,
  settings: { batchSize: Number(process.env.BENCH_PG_BATCH ?? 2000), lanes },
  nodes: [
    { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'public.orders', mode: 'snapshot' } },
    { id: 'tax', type: 'core.map', config: { code: TAX } },
    {
      id: 'customer',
      type: 'core.denormalize',
      config: { mode: 'lookup', as: 'customer', from: { type: 'postgres', url: '${env:PG_URL}', table: 'customers' }, localKey: 'customer_id', foreignKey: 'id', cache: { maxEntries: 20_000 } },
    },
    { id: 'out', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: target } },
  ],
  edges: [
    { from: 'src', to: 'tax' },
    { from: 'tax', to: 'customer' },
    { from: 'customer', to: 'out' },
  ],
});

export const postgresLanesCases: BenchCase[] = [
  {
    name: 'postgres.copy-lanes',
    description: `${ORDER_ROWS.toLocaleString()} orders: postgres.source snapshot → core.map → lookup → postgres.sink by sluice run, lanes 1 and 2, against the COPY → JS → COPY script`,
    async run() {
      return withDatabase(async (db: pg.Client) => {
        await seedOrders(db);
        for (const t of ['orders_l1', 'orders_l2', 'orders_a', 'orders_b']) await db.query(ORDERS(t, true));
        await db.query(REVENUE('revenue_orders_b'));
        const one = await cliRun(flow('orders_l1', 1));
        const two = await cliRun(flow('orders_l2', 2));
        const script = await copyScript();
        await db.query('INSERT INTO orders_a SELECT o.*, round(o.amount * 0.2, 2), to_jsonb(c) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id');
        for (const t of ['orders_l1', 'orders_l2', 'orders_b']) {
          if ((await count(db, t)) !== ORDER_ROWS) throw new Error(`${t} has ${await count(db, t)} rows, expected ${ORDER_ROWS}`);
          const same = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM (SELECT * FROM ${t} EXCEPT SELECT * FROM orders_a) x`);
          if (same.rows[0].n !== '0') throw new Error(`${t} holds ${same.rows[0].n} rows that differ from INSERT … SELECT … JOIN`);
        }
        const rate = (ms: number) => (ORDER_ROWS / ms) * 1000;
        const base = { label: 'COPY → JS → COPY script', value: rate(script) };
        return [
          { metric: 'rows/s, sluice run, lanes 1', value: rate(one.ms), unit: 'rows/s', baseline: base },
          { metric: 'rows/s, sluice run, lanes 2', value: rate(two.ms), unit: 'rows/s', baseline: base },
          { metric: 'rows/s, lanes 2 against lanes 1', value: rate(two.ms), unit: 'rows/s', baseline: { label: 'lanes 1', value: rate(one.ms) } },
          { metric: 'peak RSS, host + lanes + sandbox workers, lanes 2', value: two.peakMiB, unit: 'MiB', baseline: { label: 'lanes 1 (host + sandbox workers)', value: one.peakMiB } },
        ] satisfies Figure[];
      });
    },
  },
];
