import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Checkpoint, CheckpointStore, DeadLetter, DeadLetterFilter, PositionHistoryEntry, StoredDeadLetter } from './checkpoint-store.js';
import { FencedOffError, HISTORY_EVERY_MS, HISTORY_KEPT, SCHEDULED_RUNS_KEPT } from './checkpoint-store.js';
import type { ScheduledRun } from './operations-wire.js';

/**
 * The embedded checkpoint store: one SQLite file (WAL), `./data/sluice-state.db` by default. A reset
 * forgets positions and state but keeps the flow's newest fencing token (`fences`), as the PostgreSQL
 * store does, so a former owner still cannot commit after it.
 */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly db: Database.Database;
  private readonly stmts;
  /** each flow's newest history entry written by a commit: updated by commits within HISTORY_EVERY_MS of it */
  private readonly sampled = new Map<string, { id: number; at: number }>();

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS checkpoints (
        flow TEXT PRIMARY KEY,
        positions TEXT NOT NULL,
        state TEXT NOT NULL,
        fence INTEGER NOT NULL DEFAULT 0,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        flow TEXT NOT NULL,
        node TEXT NOT NULL,
        error TEXT NOT NULL,
        record TEXT NOT NULL,
        at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS dead_letters_flow ON dead_letters(flow, id);
      CREATE TABLE IF NOT EXISTS fences (
        flow TEXT PRIMARY KEY,
        token INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS position_history (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        flow TEXT NOT NULL,
        at INTEGER NOT NULL,
        positions TEXT NOT NULL,
        note TEXT
      );
      CREATE INDEX IF NOT EXISTS position_history_flow ON position_history(flow, id);
      CREATE TABLE IF NOT EXISTS scheduled_runs (
        flow TEXT NOT NULL,
        started_at TEXT NOT NULL,
        run TEXT NOT NULL,
        PRIMARY KEY (flow, started_at)
      );
    `);
    this.stmts = {
      load: this.db.prepare('SELECT positions, state, updated_at FROM checkpoints WHERE flow = ?'),
      fence: this.db.prepare(`SELECT max(fence) AS fence FROM (SELECT fence FROM checkpoints WHERE flow = ? UNION ALL SELECT token FROM fences WHERE flow = ?)`),
      keepFence: this.db.prepare(`INSERT INTO fences (flow, token) SELECT flow, fence FROM checkpoints WHERE flow = ?
        ON CONFLICT(flow) DO UPDATE SET token = max(token, excluded.token)`),
      save: this.db.prepare(`
        INSERT INTO checkpoints (flow, positions, state, fence, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(flow) DO UPDATE SET positions = excluded.positions, state = excluded.state,
          fence = excluded.fence, updated_at = excluded.updated_at`),
      reset: this.db.prepare('DELETE FROM checkpoints WHERE flow = ?'),
      remember: this.db.prepare('INSERT INTO position_history (flow, at, positions, note) VALUES (?, ?, ?, ?)'),
      refresh: this.db.prepare('UPDATE position_history SET positions = ? WHERE id = ?'),
      trim: this.db.prepare(`DELETE FROM position_history WHERE flow = ? AND id <= (SELECT id FROM position_history WHERE flow = ? ORDER BY id DESC LIMIT 1 OFFSET ${HISTORY_KEPT})`),
      history: this.db.prepare('SELECT at, positions, note FROM position_history WHERE flow = ? ORDER BY id DESC LIMIT ?'),
      letter: this.db.prepare('INSERT INTO dead_letters (flow, node, error, record, at) VALUES (?, ?, ?, ?, ?)'),
      recordRun: this.db.prepare('INSERT INTO scheduled_runs (flow, started_at, run) VALUES (?, ?, ?) ON CONFLICT(flow, started_at) DO UPDATE SET run = excluded.run'),
      trimRuns: this.db.prepare(`DELETE FROM scheduled_runs WHERE flow = ? AND started_at <= (SELECT started_at FROM scheduled_runs WHERE flow = ? ORDER BY started_at DESC LIMIT 1 OFFSET ${SCHEDULED_RUNS_KEPT})`),
      runs: this.db.prepare('SELECT run FROM scheduled_runs WHERE flow = ? ORDER BY started_at DESC LIMIT ?'),
    };
  }

  async load(flow: string): Promise<Checkpoint | undefined> {
    const row = this.stmts.load.get(flow) as { positions: string; state: string; updated_at: number } | undefined;
    if (!row) return undefined;
    return { positions: JSON.parse(row.positions), state: JSON.parse(row.state), updatedAt: row.updated_at };
  }

  async save(flow: string, checkpoint: Omit<Checkpoint, 'updatedAt'>, fence: number): Promise<void> {
    const positions = JSON.stringify(checkpoint.positions);
    const state = JSON.stringify(checkpoint.state);
    this.db.transaction(() => {
      const current = this.stmts.fence.get(flow, flow) as { fence: number | null };
      if (current.fence !== null && current.fence > fence) {
        throw new FencedOffError(`checkpoint of flow ${flow} refused: lease token ${fence} is older than ${current.fence}`);
      }
      const now = Date.now();
      this.stmts.save.run(flow, positions, state, fence, now);
      const last = this.sampled.get(flow);
      if (last && now - last.at < HISTORY_EVERY_MS) this.stmts.refresh.run(positions, last.id);
      else this.remember(flow, now, positions, null);
    }).immediate();
  }

  async rewrite(flow: string, checkpoint: Omit<Checkpoint, 'updatedAt'>, note: string): Promise<void> {
    const positions = JSON.stringify(checkpoint.positions);
    this.db.transaction(() => {
      const current = this.stmts.fence.get(flow, flow) as { fence: number | null };
      const now = Date.now();
      this.stmts.save.run(flow, positions, JSON.stringify(checkpoint.state), current.fence ?? 0, now);
      this.remember(flow, now, positions, note);
    }).immediate();
  }

  async history(flow: string, limit = 50): Promise<PositionHistoryEntry[]> {
    const rows = this.stmts.history.all(flow, limit) as { at: number; positions: string; note: string | null }[];
    return rows.map((r) => ({ at: r.at, positions: JSON.parse(r.positions), ...(r.note === null ? {} : { note: r.note }) }));
  }

  /** a new history entry; one made by hand is never overwritten by the commits after it */
  private remember(flow: string, at: number, positions: string, note: string | null): void {
    const { lastInsertRowid } = this.stmts.remember.run(flow, at, positions, note);
    if (note === null) this.sampled.set(flow, { id: Number(lastInsertRowid), at });
    else this.sampled.delete(flow);
    this.stmts.trim.run(flow, flow);
  }

  async reset(flow: string): Promise<void> {
    this.db.transaction(() => {
      this.stmts.keepFence.run(flow);
      this.stmts.reset.run(flow);
    })();
  }

  async deadLetter(flow: string, letters: DeadLetter[]): Promise<void> {
    const at = Date.now();
    this.db.transaction(() => {
      for (const l of letters) this.stmts.letter.run(flow, l.node, l.error, JSON.stringify(l.record), at);
    })();
  }

  async deadLetters(flow: string, limit = 1000, filter: DeadLetterFilter = {}): Promise<StoredDeadLetter[]> {
    const where = ['flow = ?'];
    const args: unknown[] = [flow];
    if (filter.node !== undefined) where.push('node = ?'), args.push(filter.node);
    // instr(lower()) rather than LIKE: the text is taken as it is, % and _ included
    if (filter.error) where.push('instr(lower(error), lower(?)) > 0'), args.push(filter.error);
    if (filter.ids) where.push(`id IN (SELECT value FROM json_each(?))`), args.push(JSON.stringify(filter.ids));
    const rows = this.db.prepare(`SELECT id, flow, node, error, record, at FROM dead_letters WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?`).all(...args, limit) as {
      id: number;
      flow: string;
      node: string;
      error: string;
      record: string;
      at: number;
    }[];
    return rows.map((r) => ({ ...r, record: JSON.parse(r.record) }));
  }

  async discardDeadLetters(flow: string, ids: number[]): Promise<number> {
    return this.db.prepare('DELETE FROM dead_letters WHERE flow = ? AND id IN (SELECT value FROM json_each(?))').run(flow, JSON.stringify(ids)).changes;
  }

  async recordScheduledRun(flow: string, run: ScheduledRun): Promise<void> {
    this.db.transaction(() => {
      this.stmts.recordRun.run(flow, run.startedAt, JSON.stringify(run));
      this.stmts.trimRuns.run(flow, flow);
    })();
  }

  async scheduledRuns(flow: string, limit = 50): Promise<ScheduledRun[]> {
    return (this.stmts.runs.all(flow, limit) as { run: string }[]).map((r) => JSON.parse(r.run));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
