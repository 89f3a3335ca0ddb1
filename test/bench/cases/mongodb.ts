/**
 * MySQL → MongoDB: N orders (BENCH_MONGO_ROWS, default 333,334: 1,000,002 rows in all) and 2 lines per order (3N rows)
 * read by two mysql.source snapshots, folded by core.denormalize (nest) into order documents with a
 * `lines` array, written by mongodb.sink (MONGO_URL, default the mongo-java-server of
 * .ci/services/40-mongo.sh). Figures in documents/s (final documents, N), against a plain driver
 * `insertMany` of the same N documents (chunks of 5,000, unordered) into the same server in the same
 * run; and mongodb.sink alone writing those documents as records. When MySQL (MYSQL_URL) is not
 * reachable, the same tables are read from SQLite (sqlite.source) and the figure says so.
 *
 * The flow runs on the default checkpoint interval, which FlowRun stretches to ten times the last
 * checkpoint's duration: each checkpoint serialises the nest node's whole state (every order and line).
 * The baseline runs first, on the emptiest server heap, so the ratio errs against the flow.
 * The printed server name says what the figure was measured against: mongo-java-server keeps data in
 * a Java heap, so its figures say little about a real mongod; run with MONGO_URL for those.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import Database from 'better-sqlite3';
import { MongoClient } from 'mongodb';
import mysqlPromise from 'mysql2/promise';
import { createRegistry } from '../../../nodes/catalog.js';
import { mongodbSink } from '../../../nodes/mongodb/sink.js';
import { serverInfo } from '../../../nodes/mongodb/connection.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun, type RunSummary } from '../../../runtime/executor/flow-run.js';
import type { SinkInstance } from '../../../runtime/node-api.js';
import type { SluiceRecord } from '../../../runtime/records.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { create } from '../../helpers/node-harness.js';
import { scratchMysql, withDb, type ScratchDb } from '../../helpers/services.js';
import { timed, Unavailable, type BenchCase } from '../harness.js';

const N = Number(process.env.BENCH_MONGO_ROWS ?? 333_334);
const LINES_PER_ORDER = 2;
const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27018/?directConnection=true';
const MYSQL_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const DB = `sluice_bench_mongo_${process.pid}`;
const CHUNK = 5000;

type Row = Record<string, string | number>;

/** the rows as mysql.source and sqlite.source read them back (DECIMAL as text, DATETIME as ISO 8601 text) */
function order(id: number): Row {
  return { id, customer: `customer ${id % 1000}`, amount: `${id % 10000}.${String(id % 100).padStart(2, '0')}`, status: ['new', 'paid', 'shipped'][id % 3], placed: `2024-01-02T03:04:${String(id % 60).padStart(2, '0')}` };
}

function line(id: number): Row {
  const orderId = Math.ceil(id / LINES_PER_ORDER);
  return { id, order_id: orderId, sku: `sku-${id % 5000}`, qty: (id % 7) + 1, price: `${id % 500}.${String(id % 100).padStart(2, '0')}` };
}

/** the document the flow should leave for order `id` */
function document(id: number): Record<string, unknown> {
  const lines: Row[] = [];
  for (let l = (id - 1) * LINES_PER_ORDER + 1; l <= id * LINES_PER_ORDER; l++) lines.push(line(l));
  return { _id: id, ...order(id), lines };
}

async function mysqlReachable(): Promise<boolean> {
  try {
    await mysqlPromise.createConnection({ uri: MYSQL_URL, connectTimeout: 3000 }).then((c) => c.end());
    return true;
  } catch {
    return false;
  }
}


let scratch: ScratchDb | undefined;

async function seedMysql(): Promise<void> {
  scratch = await scratchMysql(MYSQL_URL, DB);
  const c = await mysqlPromise.createConnection({ uri: MYSQL_URL });
  try {
    await c.query(`CREATE TABLE ${DB}.orders (id INT PRIMARY KEY, customer VARCHAR(40), amount DECIMAL(12,2), status VARCHAR(12), placed DATETIME)`);
    await c.query(`CREATE TABLE ${DB}.order_lines (id INT PRIMARY KEY, order_id INT, sku VARCHAR(20), qty INT, price DECIMAL(10,2))`);
    const load = async (table: string, count: number, make: (id: number) => Row) => {
      for (let start = 1; start <= count; start += CHUNK) {
        const rows: unknown[][] = [];
        for (let id = start; id < start + CHUNK && id <= count; id++) rows.push(Object.values(make(id)));
        await c.query(`INSERT INTO ${DB}.${table} VALUES ?`, [rows]);
      }
    };
    await load('orders', N, order);
    await load('order_lines', N * LINES_PER_ORDER, line);
  } finally {
    await c.end();
  }
}

async function dropMysql(): Promise<void> {
  await scratch?.drop();
}

function seedSqlite(path: string): void {
  const db = new Database(path);
  db.exec(`CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, amount TEXT, status TEXT, placed TEXT);
    CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER, sku TEXT, qty INTEGER, price TEXT);`);
  const o = db.prepare('INSERT INTO orders VALUES (?, ?, ?, ?, ?)');
  const l = db.prepare('INSERT INTO order_lines VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    for (let id = 1; id <= N; id++) o.run(...Object.values(order(id)));
    for (let id = 1; id <= N * LINES_PER_ORDER; id++) l.run(...Object.values(line(id)));
  })();
  db.close();
}

export const mongodbCases: BenchCase[] = [
  {
    name: 'mongodb.nest',
    description: `${N.toLocaleString()} orders + ${(N * LINES_PER_ORDER).toLocaleString()} lines: mysql.source ×2 (sqlite.source without MySQL) → core.denormalize nest → mongodb.sink, documents/s against a plain insertMany`,
    async run() {
      const client = new MongoClient(MONGO_URL, { serverSelectionTimeoutMS: 3000 });
      let server: string;
      try {
        await client.connect();
        const info = await serverInfo(client);
        server = info.mongoJavaServer ? `mongo-java-server ${info.mongoJavaServer}` : `MongoDB ${info.version} ${info.topology}`;
      } catch (err) {
        await client.close();
        throw new Unavailable(`MongoDB is not reachable at ${MONGO_URL} (MONGO_URL): ${(err as Error).message}`);
      }
      const db = client.db(DB);
      const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
      const useMysql = await mysqlReachable();
      const from = useMysql ? 'MariaDB/MySQL' : 'SQLite (MySQL not reachable)';
      process.stdout.write(`  source: ${from}; MongoDB server: ${server}; seeding ...\n`);
      if (useMysql) await seedMysql();
      else seedSqlite(join(dir, 'shop.db'));
      try {
        // baseline first (the server's heap is then at its emptiest: the ratio errs against the flow):
        // the same documents, plain insertMany
        const docs: Record<string, unknown>[][] = [];
        for (let start = 1; start <= N; start += CHUNK) {
          const chunk: Record<string, unknown>[] = [];
          for (let id = start; id < start + CHUNK && id <= N; id++) chunk.push(document(id));
          docs.push(chunk);
        }
        const plainMs = await timed(async () => {
          for (const chunk of docs) await db.collection('plain').insertMany(chunk, { ordered: false });
        });
        await db.collection('plain').drop();
        const read = (table: string) =>
          useMysql
            ? { type: 'mysql.source', config: { url: withDb(MYSQL_URL, DB), tables: [table], chunkSize: CHUNK } }
            : { type: 'sqlite.source', config: { path: join(dir, 'shop.db'), table, chunkSize: CHUNK } };
        const store = new SqliteCheckpointStore(join(dir, 'state.db'));
        const plan = compileFlow(
          {
            apiVersion: 'sluice/v1',
            name: 'bench-mongo-nest',
            settings: { batchSize: 2000 },
            nodes: [
              { id: 'orders', ...read('orders') },
              { id: 'lines', ...read('order_lines') },
              { id: 'nest', type: 'core.denormalize', config: { mode: 'nest', as: 'lines', parentKey: 'id', childKey: 'order_id' } },
              { id: 'docs', type: 'mongodb.sink', config: { url: MONGO_URL, database: DB, collection: 'orders' } },
            ],
            edges: [
              { from: 'orders', to: 'nest', toPort: 'parent' },
              { from: 'lines', to: 'nest', toPort: 'child' },
              { from: 'nest', to: 'docs' },
            ],
          },
          createRegistry(),
        );
        let summary: RunSummary | undefined;
        const flowMs = await timed(async () => (summary = await new FlowRun(plan, { store }).run()));
        await store.close();
        if (summary?.status !== 'completed') throw new Error(`bench flow ${summary?.status}: ${summary?.error}`);
        const count = await db.collection('orders').countDocuments();
        const sample = await db.collection('orders').findOne({ _id: Math.ceil(N / 2) } as never);
        if (count !== N || !isDeepStrictEqual(sample, document(Math.ceil(N / 2)))) {
          throw new Error(`the flow left ${count} documents (expected ${N}); sample ${JSON.stringify(sample)}`);
        }
        const ops = summary.nodes.docs.ops!;
        const writes = ops.c + ops.u + ops.r;
        await db.collection('orders').drop();

        // mongodb.sink alone: the final documents as records, batches of 2,000
        const records: SluiceRecord[][] = [];
        for (let start = 1; start <= N; start += 2000) {
          const batch: SluiceRecord[] = [];
          for (let id = start; id < start + 2000 && id <= N; id++) {
            const { _id, ...value } = document(id);
            batch.push({ key: { id: _id }, value, op: 'c', meta: {} });
          }
          records.push(batch);
        }
        const sink = await create<SinkInstance>(mongodbSink, { url: MONGO_URL, database: DB, collection: 'sink_alone' });
        await sink.open();
        const sinkMs = await timed(async () => {
          for (const b of records) await sink.write(b);
        });
        await sink.close();
        await db.collection('sink_alone').drop();

        const base = { label: `plain insertMany (${server})`, value: (N / plainMs) * 1000 };
        return [
          {
            metric: `documents/s, ${useMysql ? 'mysql' : 'sqlite'}.source → nest → mongodb.sink`,
            value: (N / flowMs) * 1000,
            unit: 'docs/s',
            baseline: base,
            note: `${from} → ${server}; ${(N * (1 + LINES_PER_ORDER)).toLocaleString()} rows read, ${writes.toLocaleString()} document writes (nest re-emits a parent when more of its lines arrive)`,
          },
          { metric: 'documents/s, mongodb.sink alone (op c: inserts, replaceOne on an existing _id)', value: (N / sinkMs) * 1000, unit: 'docs/s', baseline: base, note: 'batches of 2,000 records' },
        ];
      } finally {
        await db.dropDatabase().catch(() => undefined);
        await client.close();
        if (useMysql) await dropMysql().catch(() => undefined);
      }
    },
  },
];
