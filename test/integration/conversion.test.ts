/**
 * Conversion mode: one source over several tables, one sink whose `table` holds `{table}`: every table
 * is created on the target (createTable) and copied; a stop in the middle and a second run finish the
 * copy; the status counts rows per table. PostgreSQL → PostgreSQL (another schema) and MySQL/MariaDB →
 * SQLite. What the target holds is read back with Sluice's own sources and compared value for value.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import type { SluiceRecord, SourceInstance } from '../../runtime/index.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { postgresSource } from '../../nodes/postgres/source.js';
import { sqliteSource } from '../../nodes/sqlite/source.js';
import { mysqlSource } from '../../nodes/mysql/source.js';
import { resolveTableName } from '../../nodes/shared/table-router.js';
import { create, readAll, tempDir } from '../helpers/node-harness.js';
import { service } from '../helpers/services.js';
import { testRegistry } from '../helpers/test-nodes.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', async (url) => {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await c.connect();
  await c.end();
});
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', async (url) => {
  const c = await mysql.createConnection({ uri: url, connectTimeout: 3000 });
  await c.end();
});

const suffix = randomBytes(4).toString('hex');
const withDb = (url: string, db: string) => {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
};

/** runs a flow; `stopAfter(run)` resolving true stops it (a user's Stop, or a deploy's pause + stop) */
async function runFlow(doc: Record<string, unknown>, state: string, env: Record<string, string>, stopWhen?: () => Promise<boolean>): Promise<RunSummary> {
  const store = new SqliteCheckpointStore(state);
  const run = new FlowRun(compileFlow({ apiVersion: 'sluice/v1', ...doc }, testRegistry(), { env }), { store });
  const done = run.run().finally(() => store.close());
  if (stopWhen) {
    for (;;) {
      if (await Promise.race([done.then(() => 'done' as const), new Promise<'wait'>((r) => setTimeout(() => r('wait'), 5))]) === 'done') break;
      if (await stopWhen().catch(() => false)) {
        run.stop();
        break;
      }
    }
  }
  return done;
}

const byKey = (records: SluiceRecord[]) => Object.fromEntries(records.map((r) => [JSON.stringify(r.key), r.value]));

describe('resolveTableName', () => {
  it('fills {table} and {schema} from the source table name', () => {
    expect(resolveTableName('copy.{table}', 'shop.orders')).toBe('copy.orders');
    expect(resolveTableName('{schema}_copy.{table}', 'shop.orders')).toBe('shop_copy.orders');
    expect(resolveTableName('{table}', 'orders')).toBe('orders');
  });
});

describe.skipIf(!PG.available)('conversion mode: PostgreSQL → PostgreSQL', () => {
  const DB = `sluice_conv_${suffix}`;
  const dbUrl = withDb(PG.url, DB);
  let db: pg.Client;
  const q = async (sql: string) => (await db.query(sql)).rows;

  beforeAll(async () => {
    const admin = new pg.Client({ connectionString: PG.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${DB}`);
    await admin.end();
    db = new pg.Client({ connectionString: dbUrl });
    await db.connect();
    await q('CREATE SCHEMA shop; CREATE SCHEMA copy');
    await q(`CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL, tags text[], joined timestamptz, balance numeric(20,6))`);
    await q(`CREATE TABLE shop.orders (id integer PRIMARY KEY, customer_id bigint, doc jsonb, amount numeric(12,2), ref uuid, paid boolean)`);
    await q(`CREATE TABLE shop.blobs (a integer, b integer, data bytea, PRIMARY KEY (a, b))`);
    await q(`INSERT INTO shop.customers SELECT g, 'c' || g, ARRAY['t' || (g % 3)], '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', g * 1.000001 FROM generate_series(1, 3000) g`);
    await q(`INSERT INTO shop.orders SELECT g, g % 3000 + 1, jsonb_build_object('n', g, 'nested', jsonb_build_object('x', g % 7)), g * 0.01, md5(g::text)::uuid, g % 2 = 0 FROM generate_series(1, 5000) g`);
    await q(`INSERT INTO shop.blobs SELECT g / 10, g % 10, decode(md5(g::text), 'hex') FROM generate_series(1, 800) g`);
    await q('ANALYZE shop.customers, shop.orders, shop.blobs');
  });

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    const admin = new pg.Client({ connectionString: PG.url });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  });

  it('creates every table on the target and copies it; a stop in the middle and a second run finish the copy', async () => {
    const doc = {
      name: 'pg-convert',
      settings: { batchSize: 500 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:DB_URL}', tables: 'shop.*', mode: 'snapshot', chunkSize: 500 } },
        { id: 'dst', type: 'postgres.sink', config: { url: '${env:DB_URL}', table: 'copy.{table}', createTable: true } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const state = join(tempDir(), 'state.db');
    const env = { DB_URL: dbUrl };
    const first = await runFlow(doc, state, env, async () => (await q("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'copy'"))[0].n >= 1);
    expect(first.status).toBe('stopped');
    expect(first.progress!.src.tables!.map((t) => t.name)).toEqual(['shop.blobs', 'shop.customers', 'shop.orders']);
    expect(first.nodes.dst.in).toBeLessThan(8800); // stopped in the middle

    const second = await runFlow(doc, state, env);
    expect(second.status, second.error).toBe('completed');
    expect(second.resumedFrom).toBeDefined();
    expect(second.progress!.src.tables!.every((t) => t.phase === 'done')).toBe(true);

    // every table exists on the target with a primary key, and holds what the source holds
    const created = await q("SELECT table_name FROM information_schema.tables WHERE table_schema = 'copy' ORDER BY 1");
    expect(created.map((r) => r.table_name)).toEqual(['blobs', 'customers', 'orders']);
    for (const table of ['customers', 'orders', 'blobs']) {
      const read = async (schema: string) => byKey((await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: `${schema}.${table}` }))).records);
      const source = await read('shop');
      expect(Object.keys(source).length).toBeGreaterThan(0);
      expect(await read('copy'), table).toEqual(source);
    }
  });
});

describe.skipIf(!MY.available)('conversion mode: MySQL/MariaDB → SQLite', () => {
  const DB = `sluice_conv_${suffix}`;
  let db: mysql.Connection;

  beforeAll(async () => {
    db = await mysql.createConnection({ uri: MY.url, multipleStatements: true });
    await db.query(`CREATE DATABASE ${DB}`);
    await db.query(`USE ${DB};
      CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(20,6), made DATETIME(6), doc JSON, note VARCHAR(200), data BLOB);
      CREATE TABLE stock (sku VARCHAR(20), site INT, qty INT, PRIMARY KEY (sku, site));`);
    const items = Array.from({ length: 2500 }, (_, i) => [i + 1, `${i}.123456`, `2024-02-03 04:05:06.${String(i % 1000000).padStart(6, '0')}`, JSON.stringify({ i, tags: ['a', i % 5] }), i % 4 ? `note ${i}` : null, Buffer.from([i % 256, 0, 255])]);
    await db.query(`INSERT INTO ${DB}.items VALUES ?`, [items]);
    const stock = Array.from({ length: 900 }, (_, i) => [`sku${i % 300}`, Math.floor(i / 300), i]);
    await db.query(`INSERT INTO ${DB}.stock VALUES ?`, [stock]);
  });

  afterAll(async () => {
    await db?.query(`DROP DATABASE IF EXISTS ${DB}`).catch(() => undefined);
    await db?.end().catch(() => undefined);
  });

  it('creates each table in SQLite and copies it; a stop in the middle and a second run finish the copy', async () => {
    const dir = tempDir();
    const target = join(dir, 'copy.db');
    const doc = {
      name: 'my-convert',
      settings: { batchSize: 200 },
      nodes: [
        { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables: [`${DB}.*`], chunkSize: 200 } },
        { id: 'dst', type: 'sqlite.sink', config: { path: target, table: '{table}' } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const state = join(dir, 'state.db');
    const env = { MY_URL: withDb(MY.url, DB) };
    const first = await runFlow(doc, state, env, async () => {
      const d = new (await import('better-sqlite3')).default(target, { readonly: true, fileMustExist: true });
      try {
        return (d.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'items'").get() as { n: number }).n > 0;
      } finally {
        d.close();
      }
    });
    expect(first.status).toBe('stopped');
    expect(first.nodes.dst.in).toBeLessThan(3400); // stopped in the middle
    const second = await runFlow(doc, state, env);
    expect(second.status, second.error).toBe('completed');
    expect(second.resumedFrom).toBeDefined();
    expect(second.progress!.src.tables!.map((t) => [t.name, t.phase])).toEqual([
      [`${DB}.items`, 'done'],
      [`${DB}.stock`, 'done'],
    ]);
    // rows read per table across the two runs: every row at least once (what the stop left unacknowledged is read again)
    const readOf = (s: RunSummary, t: string) => s.progress!.src.tables!.find((x) => x.name === `${DB}.${t}`)!.done;
    expect(readOf(first, 'items') + readOf(second, 'items')).toBeGreaterThanOrEqual(2500);
    expect(readOf(first, 'stock') + readOf(second, 'stock')).toBeGreaterThanOrEqual(900);
    expect(second.progress!.src.tables!.every((t) => typeof t.estimated === 'number')).toBe(true);
    // what Sluice reads back from SQLite is what it read from MySQL (JSON comes back as its text)
    for (const [table, id] of [['items', (v: Record<string, unknown>) => String(v.id)], ['stock', (v: Record<string, unknown>) => `${v.sku}/${v.site}`]] as const) {
      const byId = (records: SluiceRecord[]) => Object.fromEntries(records.map((r) => [id(r.value as Record<string, unknown>), r.value]));
      const source = byId((await readAll(await create<SourceInstance>(mysqlSource, { url: withDb(MY.url, DB), tables: [table] }))).records);
      const copy = byId((await readAll(await create<SourceInstance>(sqliteSource, { path: target, table }))).records);
      expect(Object.keys(copy).sort(), table).toEqual(Object.keys(source).sort());
      for (const [k, v] of Object.entries(source)) {
        const got = { ...(copy[k] as Record<string, unknown>) };
        for (const [f, x] of Object.entries(v as Record<string, unknown>)) if (x !== null && typeof x === 'object' && !('$base64' in x) && typeof got[f] === 'string') got[f] = JSON.parse(got[f] as string);
        expect(got, `${table} ${k}`).toEqual(v);
      }
    }
  });
});
