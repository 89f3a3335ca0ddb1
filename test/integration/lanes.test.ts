/**
 * settings.lanes (runtime/executor/lanes/): `sluice run` of a postgres.source snapshot → sandboxed
 * core.map → postgres.sink in 2 lane processes, against the test set-up's PostgreSQL. Every row once and
 * the same target as one process; a lane killed mid-run is started again and the run completes; a memory
 * bomb in the map ends a sandbox worker, never a lane or the host; the host killed mid-run resumes from
 * the lanes' committed positions; a flow with an aggregate is refused with the node named.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { probePostgres, type ScratchDb, scratchPostgres, service, withDb } from '../helpers/services.js';
import { tempDir } from '../helpers/node-harness.js';
import { startCli, runCli } from '../helpers/cli.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { laneStateKey } from '../../runtime/executor/lanes/lane-key.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const DB = `sluice_test_${randomBytes(4).toString('hex')}`;
const dbUrl = withDb(PG.url, DB);
const ROWS = 10_000;

let scratch: ScratchDb;
let db: pg.Pool;
const q = async <T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values?: unknown[]) => (await db.query<T>(sql, values)).rows;
const count = async (table: string) => Number((await q<{ n: string }>(`SELECT count(*)::text AS n FROM ${table}`))[0].n);

async function until(check: () => Promise<boolean> | boolean, what: string, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** rows that differ between two tables with the same columns, both ways */
async function diff(a: string, b: string): Promise<number> {
  const r = await q<{ n: string }>(`SELECT ((SELECT count(*) FROM (TABLE ${a} EXCEPT ALL TABLE ${b}) x) + (SELECT count(*) FROM (TABLE ${b} EXCEPT ALL TABLE ${a}) y))::text AS n`);
  return Number(r[0].n);
}

/** rows of `t` that differ from the source's (tax aside, which every row must have), both ways: 0 when each row is there once */
async function diffFromSource(t: string): Promise<number> {
  const cols = 'id, customer_id, amount, country';
  const r = await q<{ n: string }>(
    `SELECT ((SELECT count(*) FROM (SELECT ${cols} FROM ${t} EXCEPT ALL SELECT ${cols} FROM public.orders) x) + (SELECT count(*) FROM (SELECT ${cols} FROM public.orders EXCEPT ALL SELECT ${cols} FROM ${t}) y) + (SELECT count(*) FROM ${t} WHERE tax IS NULL))::text AS n`,
  );
  return Number(r[0].n);
}

const MAP = '(v) => ({ ...v, tax: Math.round(v.amount * 20) / 100 })';

function flowFile(name: string, o: { lanes: number; target: string; code?: string; aggregate?: boolean; batchSize?: number }): { file: string; state: string } {
  const dir = tempDir();
  const file = join(dir, 'flow.yaml');
  writeFileSync(
    file,
    `apiVersion: sluice/v1
name: ${name}
settings: { batchSize: ${o.batchSize ?? 500}, lanes: ${o.lanes} }
connections:
  shop: { type: postgres, url: '\${env:PG_URL}' }
nodes:
  - id: src
    type: postgres.source
    config: { connection: shop, tables: public.orders, mode: snapshot }
  - id: tax
    type: core.map
    config: { code: ${JSON.stringify(o.code ?? MAP)} }
  - id: out
    type: postgres.sink
    config: { connection: shop, table: ${o.target} }
${o.aggregate ? `  - id: per_country
    type: core.aggregate
    config: { groupBy: [country], measures: [{ name: orders, fn: count }] }
` : ''}edges:
  - { from: src, to: tax }
  - { from: tax, to: out }
${o.aggregate ? '  - { from: tax, to: per_country }\n' : ''}`,
  );
  return { file, state: join(dir, 'state.db') };
}

const target = (name: string) => q(`CREATE TABLE ${name} (id bigint PRIMARY KEY, customer_id integer, amount numeric(10,2), country text, tax numeric(12,2))`);

describe.skipIf(!PG.available)('settings.lanes: a postgres.source snapshot in lane processes', () => {
  beforeAll(async () => {
    expect(existsSync(join(import.meta.dirname, '../../dist/runtime/executor/lanes/coordinator.js')), 'dist/ is built (npx tsc -p .)').toBe(true);
    scratch = await scratchPostgres(PG.url, DB);
    db = new pg.Pool({ connectionString: dbUrl, max: 4 });
    db.on('error', () => undefined);
    await q('CREATE TABLE public.orders (id bigint PRIMARY KEY, customer_id integer, amount numeric(10,2), country text)');
    await q(`INSERT INTO public.orders SELECT g, g % 100, (g % 997) + 0.25, (ARRAY['FR','DE','IT','ES'])[1 + g % 4] FROM generate_series(1, ${ROWS}) g`);
  });
  afterAll(async () => {
    await db?.end();
    await scratch?.drop();
  });

  it('lanes 2: every row once, the same target as one process, each lane with its own positions', async () => {
    await target('public.one');
    await target('public.two');
    const one = flowFile('lanes-one', { lanes: 1, target: 'public.one' });
    const r1 = await runCli(['run', one.file, '--state', one.state, '--quiet', '--json'], { env: { PG_URL: dbUrl } });
    expect(r1.code, r1.stderr).toBe(0);
    const two = flowFile('lanes-two', { lanes: 2, target: 'public.two' });
    const r2 = await runCli(['run', two.file, '--state', two.state, '--json'], { env: { PG_URL: dbUrl } });
    expect(r2.code, r2.stderr).toBe(0);
    const s = JSON.parse(r2.stdout);
    expect(s.status).toBe('completed');
    // each lane read its own share, and together every row exactly once (no row read by both)
    expect(s.nodes.src.out).toBe(ROWS);
    expect(s.nodes.out.in).toBe(ROWS);
    expect(await count('public.two')).toBe(ROWS);
    expect(await diff('public.one', 'public.two')).toBe(0);
    expect(await diffFromSource('public.two')).toBe(0);
    // two lanes, each committed under its own key
    const store = new SqliteCheckpointStore(two.state);
    try {
      for (const index of [0, 1]) expect((await store.load(laneStateKey('lanes-two', { index, count: 2 })))?.positions.src).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it('a lane SIGKILLed mid-run is started again and the run completes: every row once', async () => {
    await target('public.killed');
    // every write into the target takes 60 ms: slow enough to kill a lane midway (each lane writes 25 batches)
    await q('CREATE FUNCTION public.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.06); RETURN NULL; END $$');
    await q('CREATE TRIGGER slow AFTER INSERT OR UPDATE ON public.killed FOR EACH STATEMENT EXECUTE FUNCTION public.slow()');
    const f = flowFile('lanes-kill', { lanes: 2, target: 'public.killed', batchSize: 200 });
    const run = startCli(['run', f.file, '--state', f.state, '--json'], { env: { PG_URL: dbUrl, SLUICE_LANE_PIDS_LOG: '1' } });
    let stderr = '';
    run.child.stderr!.on('data', (d) => (stderr += d));
    await until(() => /lane 1 pid \d+/.test(stderr), 'the first lane to start');
    await until(async () => (await count('public.killed')) >= 2000, 'the first rows written');
    const pid = Number(/lane 1 pid (\d+)/.exec(stderr)![1]);
    process.kill(pid, 'SIGKILL');
    const r = await run.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/lane 1 of 2 was killed \(SIGKILL\); starting it again/);
    expect(r.stderr).toMatch(/lane 1 pid \d+[\s\S]*lane 1 pid \d+/); // started twice
    expect(await count('public.killed')).toBe(ROWS);
    expect(await diffFromSource('public.killed')).toBe(0);
  }, 180_000);

  it('a memory bomb in the map with lanes 2: the other rows delivered, the bad one dead-lettered, the host alive', async () => {
    await target('public.bomb');
    const code = '(v) => (Number(v.id) === 777 ? { a: new Array(1e9).fill(1).length } : ({ ...v, tax: Math.round(v.amount * 20) / 100 }))';
    const f = flowFile('lanes-bomb', { lanes: 2, target: 'public.bomb', code });
    const r = await runCli(['run', f.file, '--state', f.state, '--json'], { env: { PG_URL: dbUrl } });
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    expect(s.deadLetters).toBe(1);
    expect(await count('public.bomb')).toBe(ROWS - 1);
    expect(await count('public.bomb WHERE id = 777')).toBe(0);
    const store = new SqliteCheckpointStore(f.state);
    try {
      const letters = await store.deadLetters('lanes-bomb');
      expect(letters).toHaveLength(1);
      expect(letters[0].error).toMatch(/the sandbox process ran out of memory on this record/);
    } finally {
      await store.close();
    }
  }, 180_000);

  it('the host SIGKILLed mid-run: the lanes stop and commit, the next run resumes from their positions, every row once', async () => {
    await target('public.resumed');
    await q('CREATE TRIGGER slow AFTER INSERT OR UPDATE ON public.resumed FOR EACH STATEMENT EXECUTE FUNCTION public.slow()');
    const f = flowFile('lanes-host', { lanes: 2, target: 'public.resumed', batchSize: 200 });
    const first = startCli(['run', f.file, '--state', f.state, '--quiet'], { env: { PG_URL: dbUrl } });
    await until(async () => (await count('public.resumed')) >= 3000, 'the first rows written');
    first.child.kill('SIGKILL');
    await first.done;
    // the lanes see their host gone, finish their batches and commit; wait until both committed
    const committed = async () => {
      const store = new SqliteCheckpointStore(f.state);
      try {
        const ps = await Promise.all([0, 1].map((index) => store.load(laneStateKey('lanes-host', { index, count: 2 }))));
        return ps.every((p) => p?.positions.src !== undefined);
      } finally {
        await store.close();
      }
    };
    await until(committed, 'both lanes to commit a position');
    const before = await count('public.resumed');
    expect(before).toBeLessThan(ROWS);
    const second = await runCli(['run', f.file, '--state', f.state, '--json'], { env: { PG_URL: dbUrl } });
    expect(second.code, second.stderr).toBe(0);
    const s = JSON.parse(second.stdout);
    // resumed: the second run read fewer rows than the table holds
    expect(s.nodes.src.out).toBeLessThan(ROWS);
    expect(await count('public.resumed')).toBe(ROWS);
    expect(await diffFromSource('public.resumed')).toBe(0);
  }, 180_000);

  it('a flow with an aggregate cannot use lanes yet: exit 2 naming the node', async () => {
    await target('public.agg');
    const f = flowFile('lanes-agg', { lanes: 2, target: 'public.agg', aggregate: true });
    const r = await runCli(['run', f.file, '--state', f.state, '--quiet'], { env: { PG_URL: dbUrl } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/nodes\[per_country\]: settings\.lanes > 1: core\.aggregate keeps state/);
    expect(await count('public.agg')).toBe(0);
  });
});
