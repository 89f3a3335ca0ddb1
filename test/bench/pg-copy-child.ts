/**
 * The postgres.copy orders flow alone, once, in this process: for a CPU profile of the host
 * (`node --cpu-prof --cpu-prof-dir=DIR dist/test/bench/pg-copy-child.js ROWS`). Prints `{ ms, rowsPerS,
 * hostCpuMs, workerCpuMs }` (the sandbox workers' CPU read from /proc while they run, on Linux).
 * `STAGES=tax,customer` runs the source through those stages only, into a sink that discards (the
 * stage figures of postgres.copy, as CPU); with `SINK=1` into the flow's postgres.sink `out` instead. The scratch database is the bench's (`sluice_bench_<pid>`,
 * PG_URL), created and dropped here.
 */
import { shutdownSandbox } from '../../runtime/sandbox/sandbox.js';
import { runFlow, withDatabase } from './cases/postgres.js';
import { WorkerCpu } from './cpu.js';
import { timed } from './harness.js';

const STAGES = process.env.STAGES?.split(',').filter(Boolean);

const N = Number(process.argv[2] ?? 200_000);
const TAX = '(o) => ({ ...o, tax: Math.round(o.amount * 0.2 * 100) / 100 })';
const ORDERS = (name: string, tax: boolean) =>
  `CREATE TABLE ${name} (id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(10,2) NOT NULL, currency text, country text, status text, ts timestamptz${tax ? ', tax numeric(12,2), customer jsonb' : ''})`;

await withDatabase(async (db) => {
  await db.query(ORDERS('orders', false));
  await db.query(`INSERT INTO orders SELECT g, 1 + g % 1000, round((5 + (g::bigint * 7919 % 49500) / 100.0)::numeric, 2), 'EUR', (ARRAY['DE','FR','NL'])[1 + g % 3],
    (ARRAY['new','paid','shipped'])[1 + g % 3], '2026-01-01 00:00:00+00'::timestamptz + g * interval '1 second' FROM generate_series(1, ${N}) g`);
  await db.query(`CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, tier text, country text)`);
  await db.query(`INSERT INTO customers SELECT g, 'customer ' || g, (ARRAY['gold','silver','bronze'])[1 + g % 3], (ARRAY['DE','FR','NL'])[1 + g % 3] FROM generate_series(1, 10000) g`);
  await db.query('VACUUM ANALYZE orders, customers');
  await db.query(ORDERS('orders_out', true));
  await db.query('CREATE TABLE revenue_out (country text PRIMARY KEY, orders bigint NOT NULL, revenue numeric(14,2) NOT NULL)');
  const cpu0 = process.cpuUsage();
  const workerCpu = new WorkerCpu();
  const stagesOnly = (doc: { nodes: { id: string; type: string; config: unknown }[]; edges: { from: string; to: string }[]; [k: string]: unknown }) => {
    if (!STAGES) return doc;
    const chain = ['src', ...STAGES];
    const nodes = doc.nodes.filter((n) => chain.includes(n.id));
    nodes.push(process.env.SINK ? doc.nodes.find((n) => n.id === 'out')! : { id: 'out', type: 'bench.discard', config: {} });
    return { ...doc, nodes, edges: [...chain, 'out'].slice(1).map((to, i, all) => ({ from: i === 0 ? 'src' : all[i - 1], to })) };
  };
  const ms = await timed(
    () =>
      runFlow(stagesOnly({
        name: 'pg-copy-profile',
        settings: { batchSize: Number(process.env.BENCH_PG_BATCH ?? 2000) },
        nodes: [
          { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'public.orders' } },
          { id: 'tax', type: 'core.map', config: { code: TAX } },
          {
            id: 'customer',
            type: 'core.denormalize',
            config: { mode: 'lookup', as: 'customer', from: { type: 'postgres', url: '${env:PG_URL}', table: 'customers' }, localKey: 'customer_id', foreignKey: 'id', cache: { maxEntries: 20_000 } },
          },
          { id: 'out', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: 'orders_out' } },
          { id: 'agg', type: 'core.aggregate', config: { groupBy: ['country'], measures: [{ name: 'orders', fn: 'count' }, { name: 'revenue', fn: 'sum', field: 'amount' }], retractionMemory: false } },
          { id: 'revenue', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: 'revenue_out' } },
        ],
        edges: [
          { from: 'src', to: 'tax' },
          { from: 'tax', to: 'customer' },
          { from: 'customer', to: 'out' },
          { from: 'customer', to: 'agg' },
          { from: 'agg', to: 'revenue' },
        ],
      })).done,
  );
  const cpu = process.cpuUsage(cpu0);
  const workerCpuMs = workerCpu.stop();
  const n = Number((await db.query('SELECT count(*)::int AS n FROM orders_out')).rows[0].n);
  if ((!STAGES || process.env.SINK) && n !== N) throw new Error(`orders_out has ${n} rows, expected ${N}`);
  process.stdout.write(`${JSON.stringify({ stages: STAGES ?? 'all', ms: Math.round(ms), rowsPerS: Math.round((N / ms) * 1000), hostCpuMs: Math.round((cpu.user + cpu.system) / 1000), workerCpuMs: Math.round(workerCpuMs) })}\n`);
});
await shutdownSandbox();
