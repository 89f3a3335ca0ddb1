/**
 * Conversion figures (issue 17): a generated database of 10 tables, BENCH_CONV_ROWS rows in all
 * (default 2,000,000), copied whole by one flow (`tables: db.*` → sink `table: public.{table}`, created
 * by the sink), beside a dump-and-load baseline of the same rows in the same run:
 *
 * - `conversion.mariadb-postgres`: mysql.source → postgres.sink, against, per table,
 *   `mariadb --batch --quick -e 'SELECT *'` piped into `psql -c 'COPY … FROM STDIN'` (what
 *   `mysqldump --tab` + COPY does, without the server-side file the --tab form needs);
 * - `conversion.postgres-postgres`: postgres.source → postgres.sink, against
 *   `pg_dump --data-only | psql` into the same tables created empty beforehand (not timed);
 * - `conversion.keyless`: a keyless MariaDB table (BENCH_CONV_KEYLESS_ROWS, default 1,000,000) read by
 *   mysql.source (one streamed query, O(n)), against the same rows with a primary key (keyset chunks) and
 *   against the LIMIT/OFFSET chunks it was read by before (O(n²)), each the source alone.
 *
 * Servers: MYSQL_URL (default mysql://root@127.0.0.1:3306/test), PG_URL (default
 * postgres://postgres@127.0.0.1:5432/postgres); scratch databases, dropped after. Each flow variant in
 * VARIANTS is one more figure: adding a sink option (`schema: full`) is one line there.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysqlPromise from 'mysql2/promise';
import pg from 'pg';
import { createRegistry } from '../../../nodes/catalog.js';
import { mysqlSource } from '../../../nodes/mysql/source.js';
import { compileFlow } from '../../../runtime/flow/compile.js';
import { FlowRun } from '../../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import type { SourceInstance } from '../../../runtime/node-api.js';
import { create } from '../../helpers/node-harness.js';
import { scratchMysql, scratchPostgres, type ScratchDb } from '../../helpers/services.js';
import { timed, type BenchCase, type Figure } from '../harness.js';

const ROWS = Number(process.env.BENCH_CONV_ROWS ?? 2_000_000);
const KEYLESS_ROWS = Number(process.env.BENCH_CONV_KEYLESS_ROWS ?? 1_000_000);
const TABLES = 10;
const MY_URL = process.env.MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const run = promisify(execFile);

/** the flow variants measured: label → extra config of the source and the sink (one line per variant) */
const VARIANTS: { label: string; source?: Record<string, unknown>; sink?: Record<string, unknown> }[] = [
  { label: 'schema: keys (default)' },
  { label: 'parallelTables: 3', source: { parallelTables: 3 } },
];

/** rows of table i: the 2,000,000 split unevenly (table 0 the largest), `ROWS` in all */
function rowsOf(i: number): number {
  const weights = Array.from({ length: TABLES }, (_, k) => TABLES - k);
  const total = weights.reduce((a, b) => a + b, 0);
  const n = Math.floor((ROWS * weights[i]) / total);
  return i === 0 ? ROWS - weights.slice(1).reduce((a, w) => a + Math.floor((ROWS * w) / total), 0) : n;
}

const MY_DDL = (t: string) =>
  `CREATE TABLE ${t} (id BIGINT PRIMARY KEY, qty INT NOT NULL, name VARCHAR(40) NOT NULL, price DECIMAL(12,2), placed DATETIME(3), note TEXT, ratio DOUBLE, flag TINYINT(1))`;
const MY_FILL = (t: string, n: number) =>
  `INSERT INTO ${t} SELECT seq, seq % 1000, CONCAT('name ', seq), (seq % 100000) / 100, '2026-01-02 03:04:05.123' + INTERVAL seq SECOND, IF(seq % 4 = 0, NULL, CONCAT('note ', seq, ' ', REPEAT('x', seq % 40))), seq / 7, seq % 2 FROM seq_1_to_${n}`;
const PG_DDL = (t: string) =>
  `CREATE TABLE ${t} (id bigint PRIMARY KEY, qty integer NOT NULL, name varchar(40) NOT NULL, price numeric(12,2), placed timestamp(3), note text, ratio double precision, flag boolean)`;
const PG_FILL = (t: string, n: number) =>
  `INSERT INTO ${t} SELECT g, g % 1000, 'name ' || g, (g % 100000) / 100.0, '2026-01-02 03:04:05.123'::timestamp + g * interval '1 second', CASE WHEN g % 4 = 0 THEN NULL ELSE 'note ' || g || ' ' || repeat('x', (g % 40)::int) END, g / 7.0, g % 2 = 1 FROM generate_series(1, ${n}) g`;

async function reachable(): Promise<string | undefined> {
  try {
    await mysqlPromise.createConnection({ uri: MY_URL, connectTimeout: 3000 }).then((c) => c.end());
    const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    await c.connect();
    await c.end();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

async function pgQuery(url: string, sql: string): Promise<pg.QueryResultRow[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

/** rows in all of the target's public tables named t0 … t9 */
async function pgCount(url: string): Promise<number> {
  const parts = Array.from({ length: TABLES }, (_, i) => `(SELECT count(*) FROM public.t${i})`);
  return Number((await pgQuery(url, `SELECT (${parts.join(' + ')})::bigint AS n`))[0].n);
}

/** the flow copying every table of `sourceConfig` into PostgreSQL `target`, timed */
async function sluiceCopy(sourceType: string, sourceConfig: Record<string, unknown>, target: string, variant: (typeof VARIANTS)[number]): Promise<number> {
  const d = mkdtempSync(join(tmpdir(), 'sluice-bench-'));
  const store = new SqliteCheckpointStore(join(d, 'state.db'));
  const plan = compileFlow(
    {
      apiVersion: 'sluice/v1',
      name: 'bench-conversion',
      settings: { batchSize: 5000 },
      nodes: [
        { id: 'src', type: sourceType, config: { ...sourceConfig, ...variant.source } },
        { id: 'out', type: 'postgres.sink', config: { url: target, table: 'public.{table}', ...variant.sink } },
      ],
      edges: [{ from: 'src', to: 'out' }],
    },
    createRegistry(),
  );
  let status = '';
  let error: string | undefined;
  const ms = await timed(async () => {
    const r = await new FlowRun(plan, { store }).run();
    status = r.status;
    error = r.error;
  });
  await store.close();
  if (status !== 'completed') throw new Error(`bench flow ${status}: ${error}`);
  const n = await pgCount(target);
  if (n !== ROWS) throw new Error(`the flow copied ${n} rows, expected ${ROWS}`);
  return ms;
}

const rate = (ms: number) => (ROWS / ms) * 1000;

async function mariadbToPostgres(): Promise<Figure[]> {
  const db = `sluice_conv_${process.pid}`;
  const my = await scratchMysql(MY_URL, db);
  const scratches: ScratchDb[] = [];
  try {
    const c = await mysqlPromise.createConnection({ uri: my.url });
    for (let i = 0; i < TABLES; i++) {
      await c.query(MY_DDL(`t${i}`));
      await c.query(MY_FILL(`t${i}`, rowsOf(i)));
    }
    await c.end();
    // baseline: per table, the mariadb client's tab-separated batch output (escaped as COPY text is) into COPY
    const base = await scratchPostgres(PG_URL, `${db}_base`);
    scratches.push(base);
    for (let i = 0; i < TABLES; i++) await pgQuery(base.url, PG_DDL(`t${i}`));
    const u = new URL(MY_URL);
    const myArgs = ['-h', u.hostname, '-P', u.port || '3306', '-u', decodeURIComponent(u.username || 'root'), ...(u.password ? [`-p${decodeURIComponent(u.password)}`] : []), '--batch', '--skip-column-names', '--quick', db];
    const baseMs = await timed(async () => {
      for (let i = 0; i < TABLES; i++) {
        const select = `SELECT id, qty, name, price, placed, note, ratio, flag = 1 FROM t${i}`;
        await run('bash', ['-o', 'pipefail', '-c', `mariadb "$@" -e ${shq(select)} | psql -q -v ON_ERROR_STOP=1 -d ${shq(base.url)} -c ${shq(`COPY t${i} FROM STDIN (NULL 'NULL')`)}`, 'x', ...myArgs], {
          maxBuffer: 1 << 20,
        });
      }
    });
    const n = await pgCount(base.url);
    if (n !== ROWS) throw new Error(`the baseline copied ${n} rows, expected ${ROWS}`);
    const baseline = { label: 'mariadb --batch | psql COPY, per table', value: rate(baseMs) };
    const figures: Figure[] = [];
    for (const [k, variant] of VARIANTS.entries()) {
      const target = await scratchPostgres(PG_URL, `${db}_v${k}`);
      scratches.push(target);
      const ms = await sluiceCopy('mysql.source', { url: my.url, tables: [`${db}.*`], chunkSize: 5000 }, target.url, variant);
      figures.push({ metric: `rows/s, MariaDB → PostgreSQL, ${TABLES} tables, ${ROWS.toLocaleString('en-US')} rows, ${variant.label}`, value: rate(ms), unit: 'rows/s', baseline });
    }
    return figures;
  } finally {
    for (const s of scratches) await s.drop();
    await my.drop();
  }
}

async function postgresToPostgres(): Promise<Figure[]> {
  const db = `sluice_conv_${process.pid}`;
  const src = await scratchPostgres(PG_URL, `${db}_src`);
  const scratches: ScratchDb[] = [];
  try {
    for (let i = 0; i < TABLES; i++) {
      await pgQuery(src.url, PG_DDL(`t${i}`));
      await pgQuery(src.url, PG_FILL(`t${i}`, rowsOf(i)));
    }
    await pgQuery(src.url, 'ANALYZE');
    const base = await scratchPostgres(PG_URL, `${db}_base`);
    scratches.push(base);
    await run('bash', ['-o', 'pipefail', '-c', `pg_dump --schema-only -d ${shq(src.url)} | psql -q -v ON_ERROR_STOP=1 -d ${shq(base.url)}`], { maxBuffer: 1 << 24 });
    const baseMs = await timed(() => run('bash', ['-o', 'pipefail', '-c', `pg_dump --data-only -d ${shq(src.url)} | psql -q -v ON_ERROR_STOP=1 -d ${shq(base.url)}`], { maxBuffer: 1 << 24 }));
    const n = await pgCount(base.url);
    if (n !== ROWS) throw new Error(`the baseline copied ${n} rows, expected ${ROWS}`);
    const baseline = { label: 'pg_dump --data-only | psql', value: rate(baseMs) };
    const figures: Figure[] = [];
    for (const [k, variant] of VARIANTS.entries()) {
      const target = await scratchPostgres(PG_URL, `${db}_v${k}`);
      scratches.push(target);
      const ms = await sluiceCopy('postgres.source', { url: src.url, tables: ['public.*'], chunkSize: 5000 }, target.url, variant);
      figures.push({ metric: `rows/s, PostgreSQL → PostgreSQL, ${TABLES} tables, ${ROWS.toLocaleString('en-US')} rows, ${variant.label}`, value: rate(ms), unit: 'rows/s', baseline });
    }
    return figures;
  } finally {
    for (const s of scratches) await s.drop();
    await src.drop();
  }
}

/** mysql.source alone over a keyless table, a keyed copy of it, and the old LIMIT/OFFSET chunks */
async function keyless(): Promise<Figure[]> {
  const db = `sluice_conv_keyless_${process.pid}`;
  const my = await scratchMysql(MY_URL, db);
  const N = KEYLESS_ROWS;
  const chunk = 5000;
  try {
    const c = await mysqlPromise.createConnection({ uri: my.url });
    await c.query(MY_DDL('keyed'));
    await c.query(MY_FILL('keyed', N));
    await c.query('CREATE TABLE nokey AS SELECT * FROM keyed');
    const readAll = async (table: string) =>
      timed(async () => {
        const source = await create<SourceInstance>(mysqlSource, { url: my.url, tables: [table], chunkSize: chunk });
        await source.open(undefined);
        let n = 0;
        for (let b = await source.read(); b; b = await source.read()) n += b.records.length;
        await source.close();
        if (n !== N) throw new Error(`source read ${n} rows of ${table}, expected ${N}`);
      });
    const keyedMs = await readAll('keyed');
    const streamedMs = await readAll('nokey');
    // the scheme before: LIMIT/OFFSET chunks in one snapshot transaction (rows fetched, not made records)
    const offsetMs = await timed(async () => {
      await c.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
      let n = 0;
      for (let off = 0; ; off += chunk) {
        const [rows] = await c.query({ sql: 'SELECT * FROM nokey LIMIT ? OFFSET ?', rowsAsArray: true }, [chunk, off]);
        n += (rows as unknown[]).length;
        if ((rows as unknown[]).length < chunk) break;
      }
      await c.query('COMMIT');
      if (n !== N) throw new Error(`LIMIT/OFFSET read ${n} rows`);
    });
    await c.end();
    const base = { label: 'mysql.source over the same rows with a primary key', value: (N / keyedMs) * 1000 };
    return [
      { metric: `rows/s, mysql.source alone, keyless table of ${N.toLocaleString('en-US')} rows (one streamed query)`, value: (N / streamedMs) * 1000, unit: 'rows/s', baseline: base },
      { metric: `rows/s, LIMIT/OFFSET chunks of ${chunk} over the keyless table (the scheme before; rows not made records)`, value: (N / offsetMs) * 1000, unit: 'rows/s', baseline: base },
    ];
  } finally {
    await my.drop();
  }
}

/** a shell word */
function shq(s: string): string {
  return `'${s.replaceAll("'", "'\\''")}'`;
}

function guarded(name: string, description: string, body: () => Promise<Figure[]>): BenchCase {
  return {
    name,
    description,
    async run() {
      const why = await reachable();
      if (why) {
        process.stderr.write(`  skipped: MariaDB (MYSQL_URL ${MY_URL}) or PostgreSQL (PG_URL ${PG_URL}) is not reachable: ${why}\n`);
        return [];
      }
      return body();
    },
  };
}

export const conversionCases: BenchCase[] = [
  guarded('conversion.mariadb-postgres', `${TABLES} MariaDB tables, ${ROWS.toLocaleString('en-US')} rows in all → PostgreSQL, against mariadb --batch | COPY`, mariadbToPostgres),
  guarded('conversion.postgres-postgres', `${TABLES} PostgreSQL tables, ${ROWS.toLocaleString('en-US')} rows in all → PostgreSQL, against pg_dump --data-only | psql`, postgresToPostgres),
  guarded('conversion.keyless', `a keyless MariaDB table of ${KEYLESS_ROWS.toLocaleString('en-US')} rows read by mysql.source, against the keyed table and the old LIMIT/OFFSET chunks`, keyless),
];
