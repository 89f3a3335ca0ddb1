/**
 * Conversion of whole databases, the parts around the copy itself: progress (rows/s per table and in
 * all, counts of tables finished by an earlier run kept after a resume), `parallelTables`, tables
 * without a primary key, `exclude`, one failing table skipped while the others copy, and
 * `schema: full`. Real servers (test/setup); what the target holds is checked with SQL on both sides.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../runtime/executor/flow-run.js';
import { tempDir } from '../helpers/node-harness.js';
import { probeMysql, probePostgres, service } from '../helpers/services.js';
import { runFlow, scratchMysqlBlock, scratchPgBlock, withDb } from '../helpers/conversion-run.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);

const suffix = randomBytes(4).toString('hex');

const tableOf = (s: RunSummary, name: string) => s.progress!.src.tables!.find((t) => t.name === name)!;

describe.skipIf(!PG.available)('conversion: PostgreSQL', () => {
  const DB = `sluice_convt_${suffix}`;
  const { url: dbUrl, q } = scratchPgBlock(PG.url, DB, async (q) => {
    await q('CREATE SCHEMA shop; CREATE SCHEMA copy');
    await q('CREATE TABLE shop.a (id integer PRIMARY KEY, v text)');
    await q('CREATE TABLE shop.b (id integer PRIMARY KEY, v text)');
    await q('CREATE TABLE shop.c (id integer PRIMARY KEY, v text)');
    await q('CREATE TABLE shop.d (id integer PRIMARY KEY, v text)');
    await q(`INSERT INTO shop.a SELECT g, 'a' || g FROM generate_series(1, 4000) g`);
    await q(`INSERT INTO shop.b SELECT g, 'b' || g FROM generate_series(1, 3000) g`);
    await q(`INSERT INTO shop.c SELECT g, 'c' || g FROM generate_series(1, 600) g`);
    await q(`INSERT INTO shop.d SELECT g, 'd' || g FROM generate_series(1, 2500) g`);
    await q('ANALYZE');
  });
  /** a digest of a table's rows in key order, to compare source and copy */
  const digest = async (table: string, order = 'id') => (await q(`SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY ${order}), '')) AS h FROM ${table} t`))[0];

  it('parallelTables: 2 with parallel chunks copies every table; after a stop and a resume the tables finished before keep their counts, and rows/s are in the summary', async () => {
    const doc = {
      name: 'pg-lanes',
      settings: { batchSize: 200 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:DB_URL}', tables: 'shop.*', chunkSize: 200, parallel: 2, parallelTables: 2 } },
        { id: 'dst', type: 'postgres.sink', config: { url: '${env:DB_URL}', table: 'copy.{table}', createTable: true } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const state = join(tempDir(), 'state.db');
    const env = { DB_URL: dbUrl };
    // stop once the small table is copied whole, while others are under way
    const first = await runFlow(doc, state, env, async () => (await q('SELECT count(*)::int AS n FROM copy.c'))[0].n >= 600);
    expect(first.status).toBe('stopped');
    expect(first.progress!.src.rowsPerSec).toBeGreaterThan(0);
    const finished = first.progress!.src.tables!.filter((t) => t.phase === 'done');
    const second = await runFlow(doc, state, env);
    expect(second.status, second.error).toBe('completed');
    expect(second.resumedFrom).toBeDefined();
    expect(second.progress!.src.rowsPerSec).toBeGreaterThan(0);
    const want: Record<string, number> = { 'shop.a': 4000, 'shop.b': 3000, 'shop.c': 600, 'shop.d': 2500 };
    for (const t of second.progress!.src.tables!) {
      expect(t.phase, t.name).toBe('done');
      expect(t.done, t.name).toBeGreaterThanOrEqual(want[t.name]);
    }
    // a table finished (and committed) by the first run: not read again, its count kept, no rate this run
    for (const t of finished.filter((x) => x.done === want[x.name])) {
      expect(tableOf(second, t.name).done, t.name).toBe(want[t.name]);
    }
    // the tables read by the second run carry their rate
    expect(second.progress!.src.tables!.some((t) => (t.rowsPerSec ?? 0) > 0)).toBe(true);
    for (const t of ['a', 'b', 'c', 'd']) expect(await digest(`copy.${t}`), t).toEqual(await digest(`shop.${t}`));
  });

  it('tables without a primary key are read by ctid ranges and appended, or keyed by keys; exclude leaves tables out; a table that cannot be read is skipped and reported while the others copy', async () => {
    const role = `sluice_ro_${suffix}`;
    await q(`CREATE SCHEMA k; CREATE SCHEMA copyk; CREATE ROLE ${role} LOGIN`);
    await q(`CREATE TABLE k.events (id integer, kind text, at timestamptz)`); // no key
    await q(`CREATE TABLE k.tagged (id integer NOT NULL, tag text)`); // no key: keys given below
    await q(`CREATE TABLE k.secret (id integer PRIMARY KEY, v text)`);
    await q(`CREATE TABLE k.tmp_scratch (id integer PRIMARY KEY)`);
    await q(`INSERT INTO k.events SELECT g, 'k' || (g % 5), '2024-01-01'::timestamptz + g * interval '1 second' FROM generate_series(1, 3000) g`);
    await q(`DELETE FROM k.events WHERE id BETWEEN 1000 AND 1099`); // holes in the blocks
    await q(`INSERT INTO k.tagged SELECT g, 't' || g FROM generate_series(1, 700) g`);
    await q(`INSERT INTO k.secret VALUES (1, 'x')`);
    await q('ANALYZE k.events');
    await q(`GRANT USAGE ON SCHEMA k, copyk TO ${role}; GRANT CREATE ON SCHEMA copyk TO ${role}; GRANT SELECT ON k.events, k.tagged TO ${role}`);
    const asRole = (() => {
      const u = new URL(dbUrl);
      u.username = role;
      return u.toString();
    })();
    const doc = (onTableError: string, parallel: number): { name: string; settings: object; nodes: { id: string; type: string; config: object }[]; edges: object[] } => ({
      name: `pg-keyless-${onTableError}`,
      settings: { batchSize: 100 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:SRC}', tables: 'k.*', exclude: ['k.tmp_*'], keys: { 'k.tagged': ['id'] }, chunkSize: 100, parallel, onTableError } },
        { id: 'dst', type: 'postgres.sink', config: { url: '${env:DST}', table: 'copyk.{table}', createTable: true } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    });
    const env = { SRC: asRole, DST: asRole };

    const summary = await runFlow(doc('skip', 2), join(tempDir(), 'state.db'), env);
    expect(summary.status, summary.error).toBe('completed');
    const tables = summary.progress!.src.tables!;
    expect(tables.map((t) => t.name)).toEqual(['k.events', 'k.secret', 'k.tagged']); // k.tmp_scratch excluded
    expect(tableOf(summary, 'k.secret')).toMatchObject({ phase: 'skipped' });
    expect(tableOf(summary, 'k.secret').error).toMatch(/permission denied/);
    expect(tableOf(summary, 'k.events')).toMatchObject({ phase: 'done', done: 2900 });
    expect(await digest('copyk.events', 'id')).toEqual(await digest('k.events', 'id'));
    expect(await digest('copyk.tagged', 'id')).toEqual(await digest('k.tagged', 'id'));
    // the keyless copy has no key; the one with keys given is keyed by them
    const pk = async (t: string) => (await q(`SELECT array_to_string(array_agg(a.attname ORDER BY a.attnum), ',') AS k FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = '${t}'::regclass AND i.indisprimary`))[0].k;
    expect(await pk('copyk.events')).toBeNull();
    expect(await pk('copyk.tagged')).toBe('id');

    // onTableError: stop fails the flow on that table
    const stopped = await runFlow({ ...doc('stop', 1), nodes: [doc('stop', 1).nodes[0], { ...doc('stop', 1).nodes[1], config: { url: '${env:DST}', table: 'copyk.stop_{table}', createTable: true } }] }, join(tempDir(), 'state.db'), env);
    expect(stopped.status).toBe('failed');
    expect(stopped.error).toMatch(/permission denied for table secret/);
  });
});

describe.skipIf(!MY.available)('conversion: MySQL/MariaDB', () => {
  const DB = `sluice_convt_${suffix}`;
  const my = scratchMysqlBlock(MY.url, DB, async (db) => {
    await db.query(`USE ${DB};
      CREATE TABLE items (id INT PRIMARY KEY, note VARCHAR(50));
      CREATE TABLE stock (id INT PRIMARY KEY, qty INT);
      CREATE TABLE nokey (v INT NOT NULL, note VARCHAR(20));
      CREATE TABLE tmp_x (id INT PRIMARY KEY);`);
    await db.query(`INSERT INTO ${DB}.items VALUES ?`, [Array.from({ length: 2500 }, (_, i) => [i + 1, `n${i}`])]);
    await db.query(`INSERT INTO ${DB}.stock VALUES ?`, [Array.from({ length: 3000 }, (_, i) => [i + 1, i])]);
    await db.query(`INSERT INTO ${DB}.nokey VALUES ?`, [Array.from({ length: 3000 }, (_, i) => [3000 - i, `k${i}`])]);
  });

  it('after a stop mid-way through a keyless table (read by one streamed query, appended) and a resume, every row arrives once; a table finished in the first run keeps its row count; rows/s per table and overall', async () => {
    const dir = tempDir();
    const target = join(dir, 'copy.db');
    const doc = {
      name: 'my-progress',
      settings: { batchSize: 200 },
      nodes: [
        { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables: [`${DB}.*`], exclude: [`${DB}.tmp_*`], chunkSize: 200 } },
        { id: 'dst', type: 'sqlite.sink', config: { path: target, table: '{table}' } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const state = join(dir, 'state.db');
    const env = { MY_URL: withDb(MY.url, DB) };
    const Sqlite = (await import('better-sqlite3')).default;
    // tables go in name order: items, nokey, stock; stop inside nokey
    const first = await runFlow(doc, state, env, async () => {
      const d = new Sqlite(target, { readonly: true, fileMustExist: true });
      try {
        return (d.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'nokey'").get() as { n: number }).n > 0 && (d.prepare('SELECT count(*) AS n FROM nokey').get() as { n: number }).n >= 400;
      } finally {
        d.close();
      }
    });
    expect(first.status).toBe('stopped');
    expect(tableOf(first, `${DB}.items`)).toMatchObject({ phase: 'done', done: 2500 });
    expect(tableOf(first, `${DB}.items`).rowsPerSec).toBeGreaterThan(0);
    expect(tableOf(first, `${DB}.nokey`).phase).toBe('snapshot');
    const second = await runFlow(doc, state, env);
    expect(second.status, second.error).toBe('completed');
    expect(tableOf(second, `${DB}.items`)).toMatchObject({ phase: 'done', done: 2500 });
    expect(tableOf(second, `${DB}.items`).rowsPerSec).toBeUndefined(); // not read by this run
    expect(tableOf(second, `${DB}.stock`).done).toBeGreaterThanOrEqual(3000);
    expect(tableOf(second, `${DB}.stock`).rowsPerSec).toBeGreaterThan(0);
    expect(second.progress!.src.rowsPerSec).toBeGreaterThan(0);
    // the keyless table is copied, the excluded one is not there at all
    expect(second.progress!.src.tables!.map((t) => [t.name, t.phase])).toEqual([
      [`${DB}.items`, 'done'],
      [`${DB}.nokey`, 'done'],
      [`${DB}.stock`, 'done'],
    ]);
    const d = new Sqlite(target, { readonly: true });
    expect((d.prepare('SELECT count(*) AS n, sum(qty) AS s FROM stock').get() as { n: number; s: number })).toEqual({ n: 3000, s: (2999 * 3000) / 2 });
    // the offset resume point: each of the 3,000 distinct rows once, none twice, none missing
    expect(d.prepare('SELECT count(*) AS n, count(DISTINCT v) AS u, sum(v) AS s FROM nokey').get()).toEqual({ n: 3000, u: 3000, s: (3000 * 3001) / 2 });
    // created without a primary key
    expect((d.prepare("SELECT count(*) AS n FROM pragma_table_info('nokey') WHERE pk > 0").get() as { n: number }).n).toBe(0);
    d.close();
  });

  it('mysql.sink: a keyless table is appended (a re-run duplicates it, as warned), or upserted by the keys given for it', async () => {
    const OUT = `${DB}_out`;
    await my.db.query(`CREATE DATABASE ${OUT}`);
    try {
      const flow = (name: string, table: string, keys?: Record<string, string[]>) => ({
        name,
        settings: { batchSize: 500 },
        nodes: [
          { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables: [`${DB}.nokey`], chunkSize: 700, ...(keys ? { keys } : {}) } },
          { id: 'dst', type: 'mysql.sink', config: { url: '${env:MY_URL}', table: `${OUT}.${table}` } },
        ],
        edges: [{ from: 'src', to: 'dst' }],
      });
      const env = { MY_URL: withDb(MY.url, DB) };
      const count = async (t: string) => ((await my.db.query(`SELECT count(*) AS n, count(DISTINCT v) AS u, sum(v) AS s FROM ${OUT}.${t}`)) as unknown as [{ n: number; u: number; s: string }[]])[0][0];
      const pkCols = async (t: string) =>
        ((await my.db.query(`SELECT COLUMN_NAME AS c FROM information_schema.KEY_COLUMN_USAGE WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY'`, [OUT, t])) as unknown as [{ c: string }[]])[0].map((r) => r.c);
      for (const run of [1, 2]) {
        const s = await runFlow(flow('my-append', 'appended'), join(tempDir(), `state${run}.db`), env);
        expect(s.status, s.error).toBe('completed');
        expect(await count('appended')).toMatchObject({ n: 3000 * run, u: 3000 });
      }
      expect(await pkCols('appended')).toEqual([]);
      for (const run of [1, 2]) {
        const s = await runFlow(flow('my-keyed', 'keyed', { [`${DB}.nokey`]: ['v'] }), join(tempDir(), `state-k${run}.db`), env);
        expect(s.status, s.error).toBe('completed');
        expect(await count('keyed')).toMatchObject({ n: 3000, u: 3000 });
      }
      expect(await pkCols('keyed')).toEqual(['v']);
    } finally {
      await my.db.query(`DROP DATABASE IF EXISTS ${OUT}`);
    }
  });
});
