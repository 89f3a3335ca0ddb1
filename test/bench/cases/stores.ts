/**
 * The checkpoint store's cost per commit: sequential saves (positions + ~1 KB of state, one flow) on the
 * cluster's PostgreSQL store (fence check, checkpoint and commit-log row in one transaction; PG_URL,
 * default postgres://postgres@127.0.0.1:5432/postgres, a scratch schema dropped after) beside the
 * embedded SQLite file in the same run; then PostgreSQL with 8 flows saving at once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { CheckpointStore } from '../../../runtime/state/checkpoint-store.js';
import { PgCheckpointStore } from '../../../runtime/state/pg-checkpoint-store.js';
import { SqliteCheckpointStore } from '../../../runtime/state/sqlite-checkpoint-store.js';
import { timed, type BenchCase } from '../harness.js';

const SAVES = Number(process.env.BENCH_CHECKPOINT_SAVES ?? 2000);
const PG_URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const state = { agg: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`country-${i}`, { sum: i * 1000.5, count: i }])) };

/** saves per second of `flows` flows saving SAVES checkpoints each, all flows at once */
async function savesPerSecond(store: CheckpointStore, flows: number): Promise<number> {
  const ms = await timed(() =>
    Promise.all(
      Array.from({ length: flows }, async (_, f) => {
        for (let n = 1; n <= SAVES; n++) await store.save(`flow-${f}`, { positions: { src: { lsn: n, table: 'orders' } }, state }, 1);
      }),
    ),
  );
  return (flows * SAVES) / (ms / 1000);
}

export const storeCases: BenchCase[] = [
  {
    name: 'stores.checkpoint-save',
    description: `checkpoint commits/s: PostgreSQL (fenced, logged) beside SQLite, ${SAVES} saves per flow`,
    async run() {
      const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-ckpt-'));
      const schema = `bench_ckpt_${process.pid}`;
      const sqlite = new SqliteCheckpointStore(join(dir, 'state.db'));
      const pgStore = await PgCheckpointStore.open(PG_URL, { schema, agent: 'bench' });
      try {
        const base = await savesPerSecond(sqlite, 1);
        const one = await savesPerSecond(pgStore, 1);
        const eight = await savesPerSecond(pgStore, 8);
        return [
          { metric: 'PostgreSQL, 1 flow', value: one, unit: 'saves/s', baseline: { label: 'SQLite, 1 flow', value: base }, note: `${(1000 / one).toFixed(2)} ms per commit` },
          { metric: 'PostgreSQL, 8 flows at once', value: eight, unit: 'saves/s', baseline: { label: 'PostgreSQL, 1 flow', value: one } },
        ];
      } finally {
        await sqlite.close();
        await pgStore.close();
        rmSync(dir, { recursive: true, force: true });
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS ${pg.escapeIdentifier(schema)} CASCADE`);
        await c.end();
      }
    },
  },
];
