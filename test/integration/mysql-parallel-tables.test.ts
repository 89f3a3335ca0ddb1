/**
 * `parallelTables: N` on mysql.source (the lanes of nodes/shared/table-lanes.ts): six MariaDB tables, one
 * without a key, copied three at once into PostgreSQL. Every row arrives once, the progress shows
 * several tables being read at the same time, and a `sluice run` SIGKILLed mid-copy several times and
 * resumed ends with every row of every table, each table going on from its own committed key. Real
 * servers (test/setup).
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { startCli } from '../helpers/cli.js';
import { scratchMysqlBlock, scratchPgBlock, withDb } from '../helpers/conversion-run.js';
import { tempDir } from '../helpers/node-harness.js';
import { probeMysql, probePostgres, service } from '../helpers/services.js';
import { testRegistry } from '../helpers/test-nodes.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);

const suffix = randomBytes(4).toString('hex');
/** rows per table: t1 … t6; t6 has no key (read by one streamed query, appended) */
const SIZES = [4000, 3500, 3000, 2500, 2000, 1500];
const CHUNK = 200;
const TOTAL = SIZES.reduce((a, b) => a + b, 0);

describe.skipIf(!PG.available || !MY.available)('mysql.source parallelTables', () => {
  const NAME = `sluice_mylanes_${suffix}`;
  const myUrl = withDb(MY.url, NAME);
  scratchMysqlBlock(MY.url, NAME, async (db) => {
    for (const [i, n] of SIZES.entries()) {
      const t = `${NAME}.t${i + 1}`;
      await db.query(i === 5 ? `CREATE TABLE ${t} (id INT NOT NULL, v VARCHAR(40))` : `CREATE TABLE ${t} (id INT PRIMARY KEY, v VARCHAR(40))`);
      await db.query(`INSERT INTO ${t} SELECT seq, CONCAT('t${i + 1}-', seq) FROM seq_1_to_${n}`);
    }
  });
  const pgdb = scratchPgBlock(PG.url, NAME, (q) => q('CREATE SCHEMA once; CREATE SCHEMA killed'));

  const flow = (into: string, tables: string[]) => ({
    apiVersion: 'sluice/v1',
    name: `mylanes-${into}`,
    settings: { batchSize: CHUNK },
    nodes: [
      { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables, chunkSize: CHUNK, parallelTables: 3 } },
      { id: 'dst', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: `${into}.{table}`, createTable: true } },
    ],
    edges: [{ from: 'src', to: 'dst' }],
  });
  /** per table: rows, distinct ids, and whether every row's v matches its id */
  const copied = async (schema: string, table: string) =>
    (await pgdb.q(`SELECT count(*)::int AS n, count(DISTINCT id)::int AS u, min(id) AS lo, max(id) AS hi, count(*) FILTER (WHERE v IS DISTINCT FROM '${table}-' || id)::int AS bad FROM ${schema}.${table}`))[0];

  it('copies six tables three at once: every row once, several tables read at the same time', async () => {
    const store = new SqliteCheckpointStore(join(tempDir(), 'state.db'));
    const run = new FlowRun(compileFlow(flow('once', [`${NAME}.*`]), testRegistry(), { env: { MY_URL: myUrl, PG_URL: pgdb.url } }), { store });
    let most = 0;
    const watch = setInterval(() => {
      const tables = run.progress().src?.tables ?? [];
      most = Math.max(most, tables.filter((t) => t.phase === 'snapshot').length);
    }, 2);
    const s = await run.run().finally(() => {
      clearInterval(watch);
      store.close();
    });
    expect(s.status, s.error).toBe('completed');
    expect(most, 'tables in the snapshot phase at one time').toBeGreaterThanOrEqual(2);
    expect(most).toBeLessThanOrEqual(3);
    expect(s.nodes.src.out, 'rows read').toBe(TOTAL);
    expect(s.nodes.dst.in, 'rows written').toBe(TOTAL);
    for (const [i, n] of SIZES.entries()) expect(await copied('once', `t${i + 1}`), `t${i + 1}`).toEqual({ n, u: n, lo: 1, hi: n, bad: 0 });
    expect(s.progress!.src.tables!.map((t) => [t.name, t.phase, t.done])).toEqual(SIZES.map((n, i) => [`${NAME}.t${i + 1}`, 'done', n]));
  });

  it('sluice run killed mid-copy three times and resumed: every row of every table; each table goes on from its own key', async () => {
    expect(existsSync(join(import.meta.dirname, '../../dist/nodes/mysql/source.js')), 'dist/ is built (npx tsc -p .; npm test does it)').toBe(true);
    // the keyed tables: a kill repeats a few batches of each, the upsert makes them one row again
    const keyed = SIZES.slice(0, 5).map((_, i) => `t${i + 1}`);
    const dir = tempDir();
    const file = join(dir, 'flow.json');
    const state = join(dir, 'state.db');
    writeFileSync(file, JSON.stringify(flow('killed', keyed.map((t) => `${NAME}.${t}`))));
    const env = { MY_URL: myUrl, PG_URL: pgdb.url };
    const total = async () => {
      let n = 0;
      for (const t of keyed) {
        const [r] = await pgdb.q(`SELECT to_regclass('killed.${t}') IS NOT NULL AS ok`);
        if (r.ok) n += (await pgdb.q(`SELECT count(*)::int AS n FROM killed.${t}`))[0].n;
      }
      return n;
    };
    const want = SIZES.slice(0, 5).reduce((a, b) => a + b, 0);
    let last = 0;
    let resumedOpen = 0;
    for (let k = 1; k <= 3; k++) {
      const run = startCli(['run', file, '--state', state, '--quiet'], { env });
      const from = last;
      const deadline = Date.now() + 60_000;
      while ((await total()) < Math.min(from + 4 * CHUNK, (k * want) / 4)) {
        if (Date.now() > deadline) throw new Error(`no rows from run ${k}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      run.child.kill('SIGKILL');
      const r = await run.done;
      expect(r.signal, r.stderr).toBe('SIGKILL');
      last = await total();
      expect(last, `killed before the end (run ${k})`).toBeLessThan(want);
      const pos = await positionsOf(state, 'mylanes-killed');
      resumedOpen = Math.max(resumedOpen, Object.keys(pos?.open ?? {}).length);
    }
    // the committed positions named several tables begun at once, each with its own key
    expect(resumedOpen).toBeGreaterThanOrEqual(2);
    const final = await startCli(['run', file, '--state', state, '--json'], { env }).done;
    expect(final.code, final.stderr).toBe(0);
    const summary = JSON.parse(final.stdout) as { resumedFrom?: unknown; nodes: Record<string, { out: number }> };
    expect(summary.resumedFrom).toBeDefined();
    // the last run read what was left, not every table again
    expect(summary.nodes.src.out).toBeLessThan(want);
    for (const [i, n] of SIZES.slice(0, 5).entries()) expect(await copied('killed', `t${i + 1}`), `t${i + 1}`).toEqual({ n, u: n, lo: 1, hi: n, bad: 0 });
  });
});

/** the source's committed position in a `--state` file */
async function positionsOf(state: string, flow: string): Promise<{ open?: Record<string, unknown[]> } | undefined> {
  const store = new SqliteCheckpointStore(state);
  try {
    const cp = await store.load(flow);
    return (cp?.positions as Record<string, { open?: Record<string, unknown[]> }> | undefined)?.src;
  } finally {
    await store.close();
  }
}
