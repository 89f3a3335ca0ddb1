/**
 * mysql.source snapshot throughput: N rows (BENCH_MYSQL_ROWS, default 200,000) of a MySQL / MariaDB table
 * (MYSQL_URL, default mysql://root@127.0.0.1:3306/test) through the executor into sqlite.sink, and the
 * source alone, against a plain mysql2 streaming query of the same rows in the same run.
 */
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import mysql from 'mysql2';
import mysqlPromise from 'mysql2/promise';
import { createRegistry } from '../../../nodes/catalog.js';
import { mysqlSource } from '../../../nodes/mysql/source.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { create } from '../../helpers/node-harness.js';
import { scratchMysql, withDb, type ScratchDb } from '../../helpers/services.js';
import type { SourceInstance } from '../../../runtime/node-api.js';
import { timed, Unavailable, type BenchCase } from '../harness.js';

const N = Number(process.env.BENCH_MYSQL_ROWS ?? 200_000);
const URL_ = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const DB = `sluice_bench_${process.pid}`;


let scratch: ScratchDb | undefined;

async function seed(): Promise<void> {
  scratch = await scratchMysql(URL_, DB);
  const c = await mysqlPromise.createConnection({ uri: URL_ });
  try {
    await c.query(`CREATE TABLE ${DB}.orders (id INT PRIMARY KEY, customer VARCHAR(40) NOT NULL, amount DECIMAL(12,2), placed DATETIME(3), status VARCHAR(12), note VARCHAR(100))`);
    for (let start = 1; start <= N; start += 5000) {
      const rows: unknown[][] = [];
      for (let id = start; id < start + 5000 && id <= N; id++) {
        rows.push([id, `customer ${id % 1000}`, `${id % 10000}.${id % 100}`, `2024-01-02 03:04:05.${String(id % 1000).padStart(3, '0')}`, ['new', 'paid', 'shipped'][id % 3], id % 4 ? null : `note ${id}`]);
      }
      await c.query(`INSERT INTO ${DB}.orders VALUES ?`, [rows]);
    }
  } finally {
    await c.end();
  }
}

async function drop(): Promise<void> {
  await scratch?.drop();
}

/** baseline: one plain mysql2 streaming query of the same rows, same value options as the source */
async function plainStream(): Promise<number> {
  const conn = mysql.createConnection({ uri: withDb(URL_, DB), supportBigNumbers: true, dateStrings: true });
  let n = 0;
  const ms = await timed(
    () =>
      new Promise<void>((resolve, reject) => {
        conn
          .query('SELECT * FROM orders ORDER BY id')
          .stream({ highWaterMark: 1000 })
          .on('data', () => n++)
          .on('end', () => resolve())
          .on('error', reject);
      }),
  );
  conn.end();
  if (n !== N) throw new Error(`baseline read ${n} rows, expected ${N}`);
  return ms;
}

export const mysqlCases: BenchCase[] = [
  {
    name: 'mysql.snapshot',
    description: `${N.toLocaleString()} rows: mysql.source snapshot → sqlite.sink, and the source alone, against a plain mysql2 streaming query`,
    async run() {
      try {
        await mysqlPromise.createConnection({ uri: URL_, connectTimeout: 3000 }).then((c) => c.end());
      } catch (err) {
        throw new Unavailable(`MySQL is not reachable at ${URL_} (MYSQL_URL): ${(err as Error).message}`);
      }
      await seed();
      try {
        const baseline = await plainStream();
        const sourceMs = await timed(async () => {
          // batches read and dropped, as a flow does once sinks acknowledged them
          const source = await create<SourceInstance>(mysqlSource, { url: withDb(URL_, DB), tables: ['orders'], chunkSize: 5000 });
          await source.open(undefined);
          let n = 0;
          for (let b = await source.read(); b; b = await source.read()) n += b.records.length;
          await source.close();
          if (n !== N) throw new Error(`source read ${n} rows`);
        });
        const d = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
        const store = new SqliteCheckpointStore(join(d, 'state.db'));
        const plan = compileFlow(
          {
            apiVersion: 'sluice/v1',
            name: 'bench-mysql',
            settings: { batchSize: 5000 },
            nodes: [
              { id: 'src', type: 'mysql.source', config: { url: withDb(URL_, DB), tables: ['orders'] } },
              { id: 'out', type: 'sqlite.sink', config: { path: join(d, 'out.db'), table: 'orders', keys: ['id'] } },
            ],
            edges: [{ from: 'src', to: 'out' }],
          },
          createRegistry(),
        );
        let status = '';
        const flowMs = await timed(async () => (status = (await new FlowRun(plan, { store }).run()).status));
        await store.close();
        if (status !== 'completed') throw new Error(`bench flow ${status}`);
        const base = { label: 'plain mysql2 streaming query', value: (N / baseline) * 1000 };
        return [
          { metric: 'rows/s, mysql.source → sqlite.sink (flow)', value: (N / flowMs) * 1000, unit: 'rows/s', baseline: base },
          { metric: 'rows/s, mysql.source alone (chunks of 5,000)', value: (N / sourceMs) * 1000, unit: 'rows/s', baseline: base, note: 'records built, then dropped' },
        ];
      } finally {
        await drop();
      }
    },
  },
];
