/**
 * What `schema: full` costs on a conversion: MariaDB / MySQL (MYSQL_URL) → PostgreSQL (PG_URL), two
 * tables (N rows in all, BENCH_SCHEMA_ROWS, default 100,000) with NOT NULL, defaults, a unique constraint,
 * an index, an ENUM, a check and a foreign key; the same flow with `schema: keys` is the baseline, run
 * into another PostgreSQL schema in the same run.
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import mysqlPromise from 'mysql2/promise';
import pg from 'pg';
import { createRegistry } from '../../../nodes/catalog.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { scratchMysql, scratchPostgres, withDb } from '../../helpers/services.js';
import { timed, type BenchCase } from '../harness.js';

const N = Number(process.env.BENCH_SCHEMA_ROWS ?? 100_000);
const MY = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const PG = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const DB = `sluice_bench_schema_${process.pid}`;

async function seed(): Promise<void> {
  const c = await mysqlPromise.createConnection({ uri: withDb(MY, DB), multipleStatements: true });
  try {
    await c.query(`CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(60) NOT NULL, tier ENUM('a','b','c') NOT NULL DEFAULT 'a', UNIQUE KEY u_email (email));
      CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT NOT NULL, qty INT NOT NULL DEFAULT 1, placed DATETIME DEFAULT CURRENT_TIMESTAMP, note VARCHAR(40),
        KEY i_placed (placed), CONSTRAINT qty_pos CHECK (qty > 0), CONSTRAINT fk_c FOREIGN KEY (customer_id) REFERENCES customers (id))`);
    const customers = Math.max(1, Math.floor(N / 10));
    for (let s = 1; s <= customers; s += 5000) {
      const rows: unknown[][] = [];
      for (let id = s; id < s + 5000 && id <= customers; id++) rows.push([id, `c${id}@x`, 'abc'[id % 3]]);
      await c.query('INSERT INTO customers VALUES ?', [rows]);
    }
    for (let s = 1; s <= N - customers; s += 5000) {
      const rows: unknown[][] = [];
      for (let id = s; id < s + 5000 && id <= N - customers; id++) rows.push([id, 1 + (id % customers), 1 + (id % 7), '2024-01-02 03:04:05', id % 3 ? null : `n${id}`]);
      await c.query('INSERT INTO orders VALUES ?', [rows]);
    }
  } finally {
    await c.end();
  }
}

async function convert(schema: 'keys' | 'full', pgUrl: string, into: string): Promise<number> {
  const d = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const store = new SqliteCheckpointStore(join(d, 'state.db'));
  const plan = compileFlow(
    {
      apiVersion: 'sluice/v1',
      name: `bench-schema-${schema}`,
      settings: { batchSize: 5000 },
      nodes: [
        { id: 'src', type: 'mysql.source', config: { url: withDb(MY, DB), tables: [`${DB}.*`], schema } },
        { id: 'dst', type: 'postgres.sink', config: { url: pgUrl, table: `${into}.{table}` } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    },
    createRegistry(),
  );
  let status = '';
  const ms = await timed(async () => (status = (await new FlowRun(plan, { store }).run()).status));
  await store.close();
  if (status !== 'completed') throw new Error(`bench flow (${schema}) ${status}`);
  return ms;
}

export const schemaFullCases: BenchCase[] = [
  {
    name: 'conversion.schema-full',
    description: `${N.toLocaleString()} rows in 2 tables, mysql.source → postgres.sink: schema: full against schema: keys`,
    async run() {
      try {
        await mysqlPromise.createConnection({ uri: MY, connectTimeout: 3000 }).then((c) => c.end());
        const c = new pg.Client({ connectionString: PG });
        await c.connect();
        await c.end();
      } catch (err) {
        process.stderr.write(`  skipped: MySQL (MYSQL_URL) or PostgreSQL (PG_URL) is not reachable: ${(err as Error).message}\n`);
        return [];
      }
      const my = await scratchMysql(MY, DB);
      const target = await scratchPostgres(PG, DB);
      try {
        await seed();
        const c = new pg.Client({ connectionString: target.url });
        await c.connect();
        await c.query('CREATE SCHEMA k1; CREATE SCHEMA f1; CREATE SCHEMA k2; CREATE SCHEMA f2');
        await c.end();
        // keys, full, keys, full: the better of two of each, so a burst of load on one does not decide
        const keys1 = await convert('keys', target.url, 'k1');
        const full1 = await convert('full', target.url, 'f1');
        const keys2 = await convert('keys', target.url, 'k2');
        const full2 = await convert('full', target.url, 'f2');
        const k = Math.min(keys1, keys2);
        const base = { label: 'the same conversion with schema: keys', value: (N / k) * 1000 };
        return [{ metric: 'rows/s, mysql.source schema: full → postgres.sink', value: (N / Math.min(full1, full2)) * 1000, unit: 'rows/s', baseline: base }];
      } finally {
        await my.drop();
        await target.drop();
      }
    },
  },
];
