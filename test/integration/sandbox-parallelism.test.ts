/**
 * settings.sandbox.parallelism: several batches of a map in the sandbox at once, each in its own worker
 * process. In process: outputs keep their input order although batches finish out of order, on two
 * workers. Through the real CLI against a real PostgreSQL: the orders flow (parallel snapshot chunks →
 * map with parallelism 2 → upsert, and → per-country count and exact sum → upsert) SIGKILLed mid-run
 * and restarted ends with every row once in the sink, each as the map made it, and the aggregate equal
 * to GROUP BY. Needs dist/ (`npx tsc -p .`: the CLI and the sandbox worker run from it).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRegistry } from '../../nodes/catalog.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { sandboxWorkerPids } from '../../runtime/sandbox/sandbox.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { startCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/node-harness.js';
import { probePostgres, service } from '../helpers/services.js';

const DIST = join(import.meta.dirname, '../../dist/runtime/sandbox/worker.js');

describe('settings.sandbox.parallelism (in process)', () => {
  it('batches finish out of order on two workers; the sink still gets every record in input order', async () => {
    expect(existsSync(DIST), 'dist/ is built (npx tsc -p .)').toBe(true);
    const dir = tempDir('sluice-perf-par-');
    const out = join(dir, 'out.jsonl');
    // the records of even batches (of 100) take far longer than the odd ones: with two in flight, odd batches finish first
    const code = '(v) => { if (Math.floor((v.n - 1) / 100) % 2 === 0) { let x = 0; for (let i = 0; i < 40000; i++) x += i; } return { n: v.n, doubled: v.n * 2 }; }';
    const doc = {
      apiVersion: 'sluice/v1',
      name: 'perf-parallelism',
      settings: { batchSize: 100, sandbox: { parallelism: 2 } },
      nodes: [
        { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 4000 } },
        { id: 'user', type: 'core.map', config: { code } },
        { id: 'out', type: 'file.sink', config: { path: out } },
      ],
      edges: [
        { from: 'gen', to: 'user' },
        { from: 'user', to: 'out' },
      ],
    };
    const store = new SqliteCheckpointStore(join(dir, 'state.db'));
    let workers = 0;
    const watch = setInterval(() => (workers = Math.max(workers, sandboxWorkerPids().length)), 5);
    const summary = await new FlowRun(compileFlow(doc, createRegistry()), { store }).run();
    clearInterval(watch);
    await store.close();
    expect(summary.status).toBe('completed');
    expect(workers, 'the map ran in two worker processes').toBe(2);
    const got = readFileSync(out, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { n: number; doubled: number }).n);
    expect(got).toEqual(Array.from({ length: 4000 }, (_, i) => i + 1));
  });

  it('parallelism outside 1–16 is a validation error naming the field', () => {
    const doc = { apiVersion: 'sluice/v1', name: 'bad', settings: { sandbox: { parallelism: 0 } }, nodes: [{ id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 1 } }], edges: [] };
    expect(() => compileFlow(doc, createRegistry())).toThrow(/parallelism/);
  });
});

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const DB = `sluice_perf_${randomBytes(4).toString('hex')}`;
const dbUrl = (() => {
  const u = new URL(PG.url);
  u.pathname = `/${DB}`;
  return u.toString();
})();
let admin: pg.Client;
let db: pg.Client;
const q = async <T extends pg.QueryResultRow = Record<string, unknown>>(sql: string) => (await db.query<T>(sql)).rows;

async function until(check: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe.skipIf(!PG.available)('settings.sandbox.parallelism through the CLI, parallel chunks, SIGKILL and resume (real PostgreSQL)', () => {
  beforeAll(async () => {
    admin = new pg.Client({ connectionString: PG.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DB}`);
    db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await admin?.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
    await admin?.end().catch(() => undefined);
  });

  it('every row exactly once in the sink as the map made it, and the per-country aggregate equal to GROUP BY', async () => {
    expect(existsSync(DIST), 'dist/ is built (npx tsc -p .)').toBe(true);
    const N = 12_000;
    await q('CREATE TABLE orders (id bigint PRIMARY KEY, customer_id integer NOT NULL, amount numeric(10,2) NOT NULL, country text)');
    // amounts of 0 and below are dropped by the map
    await q(`INSERT INTO orders SELECT g, 1 + g % 100, round(((g * 7919 % 10000) - 500) / 100.0, 2), (ARRAY['DE','FR','NL','IT'])[1 + g % 4] FROM generate_series(1, ${N}) g`);
    await q('CREATE TABLE orders_enriched (id bigint PRIMARY KEY, customer_id integer, amount numeric(10,2), country text, tax numeric(12,2))');
    await q('CREATE TABLE revenue_by_country (country text PRIMARY KEY, orders bigint NOT NULL, revenue numeric(14,2) NOT NULL)');
    // every write statement into the target takes 20 ms: slow enough to kill the flow midway
    await q('CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN NULL; END $$');
    await q('CREATE TRIGGER slow AFTER INSERT ON orders_enriched FOR EACH STATEMENT EXECUTE FUNCTION slow()');
    const dir = tempDir('sluice-perf-kill-');
    const file = join(dir, 'flow.yaml');
    const state = join(dir, 'state.db');
    writeFileSync(
      file,
      `apiVersion: sluice/v1
name: perf-par-kill
settings: { batchSize: 200, checkpointIntervalMs: 100, sandbox: { parallelism: 2 } }
nodes:
  - id: src
    type: postgres.source
    config: { url: '\${env:PG_URL}', tables: public.orders, parallel: 2, chunkSize: 200 }
  - id: tax
    type: core.map
    config: { code: "(o) => (Number(o.amount) <= 0 ? null : { ...o, tax: Math.round(o.amount * 20) / 100 })" }
  - id: out
    type: postgres.sink
    config: { url: '\${env:PG_URL}', table: orders_enriched, copyThreshold: 100000 }
  - id: agg
    type: core.aggregate
    config: { groupBy: [country], measures: [{ name: orders, fn: count }, { name: revenue, fn: sum, field: amount }], retractionMemory: false }
  - id: revenue
    type: postgres.sink
    config: { url: '\${env:PG_URL}', table: revenue_by_country }
edges:
  - { from: src, to: tax }
  - { from: tax, to: out }
  - { from: tax, to: agg }
  - { from: agg, to: revenue }
`,
    );
    const count = async () => Number((await q<{ n: string }>('SELECT count(*)::text AS n FROM orders_enriched'))[0].n);
    const position = async () => {
      const store = new SqliteCheckpointStore(state);
      try {
        return (await store.load('perf-par-kill'))?.positions.src as Record<string, unknown> | undefined;
      } finally {
        await store.close();
      }
    };
    const start = () => startCli(['run', file, '--state', state, '--quiet'], { env: { PG_URL: dbUrl } });

    const first = start();
    await until(async () => (await count()) >= 2000 && (await position()) !== undefined, 'a committed position after the first rows');
    first.child.kill('SIGKILL');
    const killed = await first.done;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const expected = Number((await q<{ n: string }>('SELECT count(*)::text AS n FROM orders WHERE amount > 0'))[0].n);
    expect(await count()).toBeLessThan(expected);
    expect(await position()).toMatchObject({ phase: 'snapshot', table: 'public.orders' });

    const second = await start().done;
    expect(second.code, second.stderr).toBe(0);

    // every row the map keeps, once (the key), with the map's value
    expect(await count()).toBe(expected);
    const differ = await q<{ n: string }>(
      `SELECT count(*)::text AS n FROM (
         (SELECT id, customer_id, amount, country, round(amount * 0.2, 2) AS tax FROM orders WHERE amount > 0 EXCEPT SELECT id, customer_id, amount, country, tax FROM orders_enriched)
         UNION ALL
         (SELECT id, customer_id, amount, country, tax FROM orders_enriched EXCEPT SELECT id, customer_id, amount, country, round(amount * 0.2, 2) FROM orders WHERE amount > 0)) x`,
    );
    expect(differ[0].n).toBe('0');
    // the aggregate: exact, neither a row counted twice (records read again after the kill) nor one missed
    const want = await q('SELECT country, count(*)::text AS orders, sum(amount)::text AS revenue FROM orders WHERE amount > 0 GROUP BY country ORDER BY country');
    const got = await q('SELECT country, orders::text AS orders, revenue::text AS revenue FROM revenue_by_country ORDER BY country');
    expect(got).toEqual(want);
  }, 180_000);
});
