/**
 * The cluster's checkpoint store, on PostgreSQL: positions and state per flow, dead letters, and the
 * fencing that keeps a stalled former owner from committing.
 *
 * A save runs in one transaction: it first raises the flow's row in `fences` to the caller's token,
 * refusing (FencedOffError) a token older than the newest seen; that row stays locked until the commit,
 * so two writers of one flow commit one after the other and the older token always loses. The same
 * transaction writes the checkpoint and appends `(flow, token, agent, at, positions)` to
 * `checkpoint_commits`, an append-only table (a trigger refuses UPDATE and DELETE) from which a test
 * can prove that no flow ever had two owners committing at once and that positions never went back.
 * `reset` forgets positions and state but not the fence.
 */
import { hostname } from 'node:os';
import type pg from 'pg';
import type { Checkpoint, CheckpointStore, DeadLetter, DeadLetterFilter, PositionHistoryEntry, StoredDeadLetter } from './checkpoint-store.js';
import { FencedOffError, HISTORY_EVERY_MS, HISTORY_KEPT, SCHEDULED_RUNS_KEPT } from './checkpoint-store.js';
import type { ScheduledRun } from './operations-wire.js';
import { createPool, describeUrl, ensureSchema, inTransaction, num, quoteSchema } from './pg-schema.js';

export interface PgCheckpointStoreOptions {
  /** the schema holding the tables (created on open); default `sluice` */
  schema?: string;
  /** who commits, written with each commit (the cluster's agent name); default `host:pid` */
  agent?: string;
  /**
   * false: commits are not appended to `checkpoint_commits` (it grows by a row per commit, forever;
   * TRUNCATE empties it). Default true. The fence is checked either way.
   */
  commitLog?: boolean;
}

const DDL = `
  CREATE TABLE IF NOT EXISTS \${S}.checkpoints (
    flow TEXT PRIMARY KEY,
    positions TEXT NOT NULL,
    state TEXT NOT NULL,
    fence BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS \${S}.fences (
    flow TEXT PRIMARY KEY,
    token BIGINT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS \${S}.checkpoint_commits (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow TEXT NOT NULL,
    token BIGINT NOT NULL,
    agent TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL DEFAULT clock_timestamp(),
    positions TEXT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS checkpoint_commits_flow ON \${S}.checkpoint_commits (flow, id);
  CREATE OR REPLACE FUNCTION \${S}.append_only() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION '%.% is append-only', TG_TABLE_SCHEMA, TG_TABLE_NAME; END $$;
  CREATE OR REPLACE TRIGGER checkpoint_commits_append_only BEFORE UPDATE OR DELETE ON \${S}.checkpoint_commits
    FOR EACH ROW EXECUTE FUNCTION \${S}.append_only();
  CREATE TABLE IF NOT EXISTS \${S}.dead_letters (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow TEXT NOT NULL,
    node TEXT NOT NULL,
    error TEXT NOT NULL,
    record TEXT NOT NULL,
    at BIGINT NOT NULL
  );
  CREATE INDEX IF NOT EXISTS dead_letters_flow ON \${S}.dead_letters (flow, id);
  CREATE TABLE IF NOT EXISTS \${S}.position_history (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow TEXT NOT NULL,
    at BIGINT NOT NULL,
    positions TEXT NOT NULL,
    note TEXT
  );
  CREATE INDEX IF NOT EXISTS position_history_flow ON \${S}.position_history (flow, id);
  CREATE TABLE IF NOT EXISTS \${S}.scheduled_runs (
    flow TEXT NOT NULL,
    started_at TEXT NOT NULL,
    run TEXT NOT NULL,
    PRIMARY KEY (flow, started_at)
  );
`;

/** one row of `checkpoint_commits` */
export interface CheckpointCommit {
  id: number;
  flow: string;
  token: number;
  agent: string;
  at: Date;
  positions: Record<string, unknown>;
}

export class PgCheckpointStore implements CheckpointStore {
  private readonly S: string;
  private closed = false;
  /** each flow's newest history entry written by a commit: updated by commits within HISTORY_EVERY_MS of it */
  private readonly sampled = new Map<string, { id: number; at: number }>();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    readonly schema: string,
    readonly agent: string,
    readonly location: string,
    private readonly commitLog: boolean,
  ) {
    this.S = quoteSchema(schema);
  }

  /** opens (and creates, if missing) the store in `schema` of the database at `url`, or on a pool the caller owns */
  static async open(target: string | pg.Pool, options: PgCheckpointStoreOptions = {}): Promise<PgCheckpointStore> {
    const schema = options.schema ?? 'sluice';
    const pool = typeof target === 'string' ? createPool(target) : target;
    const location = typeof target === 'string' ? describeUrl(target, schema) : `schema ${schema}`;
    try {
      await ensureSchema(pool, schema, 'checkpoints', DDL);
    } catch (err) {
      if (typeof target === 'string') await pool.end();
      throw err;
    }
    return new PgCheckpointStore(pool, typeof target === 'string', schema, options.agent ?? `${hostname()}:${process.pid}`, location, options.commitLog ?? true);
  }

  async load(flow: string): Promise<Checkpoint | undefined> {
    const { rows } = await this.pool.query<{ positions: string; state: string; updated_at: string }>(
      `SELECT positions, state, updated_at FROM ${this.S}.checkpoints WHERE flow = $1`,
      [flow],
    );
    const row = rows[0];
    if (!row) return undefined;
    return { positions: JSON.parse(row.positions), state: JSON.parse(row.state), updatedAt: num(row.updated_at) };
  }

  async save(flow: string, checkpoint: Omit<Checkpoint, 'updatedAt'>, fence: number): Promise<void> {
    const positions = JSON.stringify(checkpoint.positions);
    const state = JSON.stringify(checkpoint.state);
    await inTransaction(this.pool, async (c) => {
      // raises the fence, or leaves it and returns nothing when it is newer than ours; the row stays
      // locked until this transaction ends, so a concurrent save of the same flow waits here
      const raised = await c.query(
        `INSERT INTO ${this.S}.fences (flow, token) VALUES ($1, $2)
         ON CONFLICT (flow) DO UPDATE SET token = excluded.token WHERE fences.token <= excluded.token
         RETURNING token`,
        [flow, fence],
      );
      if (raised.rowCount === 0) {
        const { rows } = await c.query<{ token: string }>(`SELECT token FROM ${this.S}.fences WHERE flow = $1`, [flow]);
        throw new FencedOffError(`checkpoint of flow ${flow} refused: lease token ${fence} is older than ${rows[0]?.token ?? 'the newest seen'}`);
      }
      await c.query(
        `INSERT INTO ${this.S}.checkpoints (flow, positions, state, fence, updated_at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (flow) DO UPDATE SET positions = excluded.positions, state = excluded.state,
           fence = excluded.fence, updated_at = excluded.updated_at`,
        [flow, positions, state, fence, Date.now()],
      );
      if (this.commitLog) await c.query(`INSERT INTO ${this.S}.checkpoint_commits (flow, token, agent, positions) VALUES ($1, $2, $3, $4)`, [flow, fence, this.agent, positions]);
      const now = Date.now();
      const last = this.sampled.get(flow);
      if (last && now - last.at < HISTORY_EVERY_MS) await c.query(`UPDATE ${this.S}.position_history SET positions = $1 WHERE id = $2`, [positions, last.id]);
      else await this.remember(c, flow, now, positions, null);
    });
  }

  async rewrite(flow: string, checkpoint: Omit<Checkpoint, 'updatedAt'>, note: string): Promise<void> {
    const positions = JSON.stringify(checkpoint.positions);
    await inTransaction(this.pool, async (c) => {
      const now = Date.now();
      await c.query(
        `INSERT INTO ${this.S}.checkpoints (flow, positions, state, fence, updated_at)
         VALUES ($1, $2, $3, coalesce((SELECT token FROM ${this.S}.fences WHERE flow = $1), 0), $4)
         ON CONFLICT (flow) DO UPDATE SET positions = excluded.positions, state = excluded.state, updated_at = excluded.updated_at`,
        [flow, positions, JSON.stringify(checkpoint.state), now],
      );
      await this.remember(c, flow, now, positions, note);
    });
  }

  async history(flow: string, limit = 50): Promise<PositionHistoryEntry[]> {
    const { rows } = await this.pool.query<{ at: string; positions: string; note: string | null }>(
      `SELECT at, positions, note FROM ${this.S}.position_history WHERE flow = $1 ORDER BY id DESC LIMIT $2`,
      [flow, limit],
    );
    return rows.map((r) => ({ at: num(r.at), positions: JSON.parse(r.positions), ...(r.note === null ? {} : { note: r.note }) }));
  }

  private async remember(c: pg.PoolClient, flow: string, at: number, positions: string, note: string | null): Promise<void> {
    const { rows } = await c.query<{ id: string }>(`INSERT INTO ${this.S}.position_history (flow, at, positions, note) VALUES ($1, $2, $3, $4) RETURNING id`, [flow, at, positions, note]);
    // one made by hand is never overwritten by the commits after it
    if (note === null) this.sampled.set(flow, { id: num(rows[0].id), at });
    else this.sampled.delete(flow);
    await c.query(
      `DELETE FROM ${this.S}.position_history WHERE flow = $1
       AND id <= (SELECT id FROM ${this.S}.position_history WHERE flow = $1 ORDER BY id DESC LIMIT 1 OFFSET ${HISTORY_KEPT})`,
      [flow],
    );
  }

  /** forgets the positions and state; the fence stays, so a former owner still cannot commit */
  async reset(flow: string): Promise<void> {
    await this.pool.query(`DELETE FROM ${this.S}.checkpoints WHERE flow = $1`, [flow]);
  }

  async deadLetter(flow: string, letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    const at = Date.now();
    await this.pool.query(
      `INSERT INTO ${this.S}.dead_letters (flow, node, error, record, at)
       SELECT $1, l.node, l.error, l.record, $2 FROM unnest($3::text[], $4::text[], $5::text[]) WITH ORDINALITY AS l(node, error, record, n) ORDER BY l.n`,
      [flow, at, letters.map((l) => l.node), letters.map((l) => l.error), letters.map((l) => JSON.stringify(l.record))],
    );
  }

  async deadLetters(flow: string, limit = 1000, filter: DeadLetterFilter = {}): Promise<StoredDeadLetter[]> {
    const args: unknown[] = [flow];
    const where = ['flow = $1'];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (filter.node !== undefined) where.push(`node = ${arg(filter.node)}`);
    if (filter.error) where.push(`strpos(lower(error), lower(${arg(filter.error)})) > 0`);
    if (filter.ids) where.push(`id = ANY(${arg(filter.ids)}::bigint[])`);
    const { rows } = await this.pool.query<{ id: string; flow: string; node: string; error: string; record: string; at: string }>(
      `SELECT id, flow, node, error, record, at FROM ${this.S}.dead_letters WHERE ${where.join(' AND ')} ORDER BY id LIMIT ${arg(limit)}`,
      args,
    );
    return rows.map((r) => ({ id: num(r.id), flow: r.flow, node: r.node, error: r.error, record: JSON.parse(r.record), at: num(r.at) }));
  }

  async discardDeadLetters(flow: string, ids: number[]): Promise<number> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.S}.dead_letters WHERE flow = $1 AND id = ANY($2::bigint[])`, [flow, ids]);
    return rowCount ?? 0;
  }

  async recordScheduledRun(flow: string, run: ScheduledRun): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(
        `INSERT INTO ${this.S}.scheduled_runs (flow, started_at, run) VALUES ($1, $2, $3) ON CONFLICT (flow, started_at) DO UPDATE SET run = excluded.run`,
        [flow, run.startedAt, JSON.stringify(run)],
      );
      await c.query(
        `DELETE FROM ${this.S}.scheduled_runs WHERE flow = $1
         AND started_at <= (SELECT started_at FROM ${this.S}.scheduled_runs WHERE flow = $1 ORDER BY started_at DESC LIMIT 1 OFFSET ${SCHEDULED_RUNS_KEPT})`,
        [flow],
      );
    });
  }

  async scheduledRuns(flow: string, limit = 50): Promise<ScheduledRun[]> {
    const { rows } = await this.pool.query<{ run: string }>(`SELECT run FROM ${this.S}.scheduled_runs WHERE flow = $1 ORDER BY started_at DESC LIMIT $2`, [flow, limit]);
    return rows.map((r) => JSON.parse(r.run));
  }

  /** the commit log of a flow (every flow without `flow`), oldest first */
  async commits(flow?: string): Promise<CheckpointCommit[]> {
    const { rows } = await this.pool.query<{ id: string; flow: string; token: string; agent: string; at: Date; positions: string }>(
      `SELECT id, flow, token, agent, at, positions FROM ${this.S}.checkpoint_commits ${flow === undefined ? '' : 'WHERE flow = $1'} ORDER BY id`,
      flow === undefined ? [] : [flow],
    );
    return rows.map((r) => ({ id: num(r.id), flow: r.flow, token: num(r.token), agent: r.agent, at: r.at, positions: JSON.parse(r.positions) }));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }
}
