/**
 * The control store on PostgreSQL, for the cluster (`--store postgres://…`): the same tables and the
 * same behaviour as SqliteControlStore, in one schema (default `sluice`, created on open) that the
 * checkpoint store (runtime/state/pg-checkpoint-store.ts) shares. Documents and configs are kept as
 * JSON text, so key order survives a save; connection secrets are sealed exactly as in SQLite
 * (connection-sealer.ts), under SLUICE_SECRET_KEY (open-stores.ts).
 *
 * `secretValues()` must answer synchronously (log lines are masked with it): it answers from the
 * values read at open and after each change this process made.
 */
import type pg from 'pg';
import { UserError, secretValues } from '../../runtime/host.js';
import { createPool, describeUrl, ensureSchema, inTransaction, num, quoteSchema } from '../../runtime/host-postgres.js';
import { ConnectionSealer, KEY_CHECK, KEY_CHECK_SETTING } from './connection-sealer.js';
import { AUTH_DDL, PgAuthStore } from './pg-auth-store.js';
import type { SecretBox } from './secret-box.js';
import {
  DuplicateError,
  StaleVersionError,
  type ControlStore,
  type ControlStoreOptions,
  type DesiredState,
  type FlowVersionInfo,
  type SaveInfo,
  type StoredConnection,
  type StoredDeployment,
  type StoredFlow,
  type StoredFlowTest,
} from './control-store.js';

export interface PgControlStoreOptions extends ControlStoreOptions {
  /** the schema holding the tables; default `sluice` */
  schema?: string;
  /** refuse (UserError) a schema without a control store instead of creating one (the CLI's user commands) */
  mustExist?: boolean;
}

const DDL = `
  CREATE TABLE IF NOT EXISTS \${S}.flows (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    created_at BIGINT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS \${S}.flow_versions (
    flow_id TEXT NOT NULL REFERENCES \${S}.flows(id) ON DELETE CASCADE,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    saved_at BIGINT NOT NULL,
    author TEXT,
    message TEXT,
    PRIMARY KEY (flow_id, version)
  );
  -- a store written before versions kept their author and message: the columns added, null in old rows
  ALTER TABLE \${S}.flow_versions ADD COLUMN IF NOT EXISTS author TEXT;
  ALTER TABLE \${S}.flow_versions ADD COLUMN IF NOT EXISTS message TEXT;
  CREATE TABLE IF NOT EXISTS \${S}.connections (
    id TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS \${S}.deployments (
    flow_id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    state TEXT NOT NULL,
    updated_at BIGINT NOT NULL
  );
  CREATE TABLE IF NOT EXISTS \${S}.flow_tests (
    flow_id TEXT NOT NULL REFERENCES \${S}.flows(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    test TEXT NOT NULL,
    saved_at BIGINT NOT NULL,
    author TEXT,
    PRIMARY KEY (flow_id, name)
  );
  CREATE TABLE IF NOT EXISTS \${S}.settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  ${AUTH_DDL}
`;

const UNIQUE_VIOLATION = '23505';
const isUnique = (err: unknown) => (err as { code?: string }).code === UNIQUE_VIOLATION;

export class PgControlStore implements ControlStore {
  readonly auth: PgAuthStore;
  private readonly sealer: ConnectionSealer;
  private knownSecrets: string[] = [];
  private closed = false;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool: boolean,
    private readonly S: string,
    readonly schema: string,
    readonly location: string,
    readonly created: boolean,
    options: ControlStoreOptions,
  ) {
    this.auth = new PgAuthStore(pool, S);
    this.sealer = new ConnectionSealer(options.secretFields ?? (() => ({ paths: [], urlPaths: [] })), undefined);
  }

  /** opens (and creates, if missing) the store in its schema of the database at `url`, or on a pool the caller owns */
  static async open(target: string | pg.Pool, options: PgControlStoreOptions = {}): Promise<PgControlStore> {
    const schema = options.schema ?? 'sluice';
    const S = quoteSchema(schema);
    const owns = typeof target === 'string';
    const pool = owns ? createPool(target) : target;
    const location = owns ? describeUrl(target, schema) : `schema ${schema}`;
    try {
      if (options.mustExist) {
        const { rows } = await pool.query<{ t: string | null }>('SELECT to_regclass($1) AS t', [`${S}.flows`]);
        if (rows[0].t === null) throw new UserError(`no Sluice store at ${location}: start the server on it once, or check --store`);
      }
      const created = await ensureSchema(pool, schema, 'flows', DDL);
      const store = new PgControlStore(pool, owns, S, schema, location, created, options);
      if (options.secretBox) await store.openSecrets(options.secretBox);
      await store.refreshSecretValues();
      return store;
    } catch (err) {
      if (owns) await pool.end();
      throw err;
    }
  }

  // ---- secrets ----------------------------------------------------------------------------------

  /** checks the key against the sealed key check (or seals one), and seals secrets stored in clear */
  private async openSecrets(makeBox: (hasSecrets: boolean) => SecretBox): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      // one opener at a time: the first seals the key check, the others check their key against it
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sluice-secrets:${this.schema}`]);
      const check = (await c.query<{ value: string }>(`SELECT value FROM ${this.S}.settings WHERE name = $1`, [KEY_CHECK_SETTING])).rows[0]?.value;
      const box = makeBox(check !== undefined);
      if (check !== undefined) box.open(check, `${this.location}'s secrets`);
      this.sealer.box = box;
      const rows = (await c.query<ConnectionRow>(`SELECT id, type, config, created_at, updated_at FROM ${this.S}.connections FOR UPDATE`)).rows;
      for (const r of rows.filter((r) => this.sealer.hasPlainSecret(r.type, JSON.parse(r.config)))) {
        await c.query(`UPDATE ${this.S}.connections SET config = $1 WHERE id = $2`, [JSON.stringify(this.sealer.seal(r.type, JSON.parse(r.config), false)), r.id]);
      }
      if (check === undefined) await this.setSetting(c, KEY_CHECK_SETTING, box.seal(KEY_CHECK));
    });
  }

  private async setSetting(c: Pick<pg.PoolClient, 'query'>, name: string, value: string): Promise<void> {
    await c.query(`INSERT INTO ${this.S}.settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = excluded.value`, [name, value]);
  }

  async rotateKey(next: SecretBox): Promise<number> {
    const current = this.sealer.box;
    if (!current) throw new Error('rotateKey: this store was opened without a key');
    const n = await inTransaction(this.pool, async (c) => {
      let changed = 0;
      const rows = (await c.query<ConnectionRow>(`SELECT id, type, config, created_at, updated_at FROM ${this.S}.connections FOR UPDATE`)).rows;
      for (const r of rows) {
        const sealed = JSON.stringify(this.sealer.seal(r.type, this.sealer.open(r.id, r.type, JSON.parse(r.config), current), true, next));
        if (sealed !== r.config) changed++;
        await c.query(`UPDATE ${this.S}.connections SET config = $1 WHERE id = $2`, [sealed, r.id]);
      }
      await this.setSetting(c, KEY_CHECK_SETTING, next.seal(KEY_CHECK));
      return changed;
    });
    this.sealer.box = next;
    return n;
  }

  secretValues(): string[] {
    return this.knownSecrets;
  }

  /** re-reads the secret values that messages are masked with; never throws (logging must not fail) */
  async refreshSecretValues(): Promise<void> {
    try {
      this.knownSecrets = (await this.listConnections()).flatMap((c) => secretValues(c.config, this.sealer.fieldsOf(c.type)));
    } catch {
      // an unreadable store keeps the values it had
    }
  }

  // ---- flows -----------------------------------------------------------------------------------

  async listFlows(): Promise<StoredFlow[]> {
    const { rows } = await this.pool.query<FlowRow>(
      `SELECT f.id, f.version, f.created_at, v.document, v.saved_at, v.author, v.message FROM ${this.S}.flows f
       JOIN ${this.S}.flow_versions v ON v.flow_id = f.id AND v.version = f.version ORDER BY f.id COLLATE "C"`,
    );
    return rows.map(toFlow);
  }

  async countFlows(): Promise<number> {
    return num((await this.pool.query<{ n: string }>(`SELECT count(*) AS n FROM ${this.S}.flows`)).rows[0].n);
  }

  async getFlow(id: string, version?: number): Promise<StoredFlow | undefined> {
    const { rows } = await this.pool.query<FlowRow>(
      `SELECT f.id, v.version, f.created_at, v.document, v.saved_at, v.author, v.message FROM ${this.S}.flows f
       JOIN ${this.S}.flow_versions v ON v.flow_id = f.id AND v.version = COALESCE($1::integer, f.version) WHERE f.id = $2`,
      [version ?? null, id],
    );
    return rows[0] ? toFlow(rows[0]) : undefined;
  }

  async createFlow(id: string, document: (version: number) => Record<string, unknown>, info: SaveInfo = {}): Promise<StoredFlow> {
    const now = Date.now();
    const text = JSON.stringify(document(1));
    await inTransaction(this.pool, async (c) => {
      const inserted = await c.query(`INSERT INTO ${this.S}.flows (id, version, created_at) VALUES ($1, 1, $2) ON CONFLICT (id) DO NOTHING`, [id, now]);
      if (inserted.rowCount === 0) {
        const current = (await c.query<{ version: number }>(`SELECT version FROM ${this.S}.flows WHERE id = $1`, [id])).rows[0]?.version;
        throw new DuplicateError(`a flow named ${id} exists (version ${current})`, current);
      }
      await c.query(`INSERT INTO ${this.S}.flow_versions (flow_id, version, document, saved_at, author, message) VALUES ($1, 1, $2, $3, $4, $5)`, [
        id,
        text,
        now,
        info.author ?? null,
        info.message ?? null,
      ]);
    });
    return (await this.getFlow(id))!;
  }

  async saveFlow(id: string, baseVersion: number | undefined, document: (version: number) => Record<string, unknown>, info: SaveInfo = {}): Promise<StoredFlow | undefined> {
    const now = Date.now();
    const saved = await inTransaction(this.pool, async (c) => {
      // the flow's row locked: concurrent saves of one flow take their turns
      const current = (await c.query<{ version: number }>(`SELECT version FROM ${this.S}.flows WHERE id = $1 FOR UPDATE`, [id])).rows[0];
      if (!current) return false;
      if (baseVersion !== undefined && baseVersion !== current.version) {
        throw new StaleVersionError(`flow ${id} was saved in between: the latest version is ${current.version}, this save is based on ${baseVersion}`, current.version);
      }
      const version = current.version + 1;
      await c.query(`INSERT INTO ${this.S}.flow_versions (flow_id, version, document, saved_at, author, message) VALUES ($1, $2, $3, $4, $5, $6)`, [
        id,
        version,
        JSON.stringify(document(version)),
        now,
        info.author ?? null,
        info.message ?? null,
      ]);
      await c.query(`UPDATE ${this.S}.flows SET version = $1 WHERE id = $2`, [version, id]);
      return true;
    });
    return saved ? this.getFlow(id) : undefined;
  }

  async versions(id: string): Promise<FlowVersionInfo[] | undefined> {
    const { rows } = await this.pool.query<{ version: number; document: string | null; saved_at: string | null; author: string | null; message: string | null }>(
      `SELECT v.version, v.document, v.saved_at, v.author, v.message FROM ${this.S}.flows f LEFT JOIN ${this.S}.flow_versions v ON v.flow_id = f.id
       WHERE f.id = $1 ORDER BY v.version DESC`,
      [id],
    );
    if (rows.length === 0) return undefined;
    return rows
      .filter((r) => r.document !== null)
      .map((r) => {
        const doc = JSON.parse(r.document!) as { nodes?: unknown[]; edges?: unknown[] };
        return { version: r.version, savedAt: num(r.saved_at!), author: r.author, message: r.message, nodes: doc.nodes?.length ?? 0, edges: doc.edges?.length ?? 0 };
      });
  }

  async deleteFlow(id: string): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      await c.query(`DELETE FROM ${this.S}.deployments WHERE flow_id = $1`, [id]);
      return ((await c.query(`DELETE FROM ${this.S}.flows WHERE id = $1`, [id])).rowCount ?? 0) > 0;
    });
  }

  // ---- flow tests ------------------------------------------------------------------------------

  async listFlowTests(flowId: string): Promise<StoredFlowTest[]> {
    const { rows } = await this.pool.query<{ name: string; test: string; saved_at: string; author: string | null }>(
      `SELECT name, test, saved_at, author FROM ${this.S}.flow_tests WHERE flow_id = $1 ORDER BY name COLLATE "C"`,
      [flowId],
    );
    return rows.map((r) => ({ name: r.name, test: JSON.parse(r.test), savedAt: num(r.saved_at), author: r.author }));
  }

  async saveFlowTest(flowId: string, test: { name: string } & Record<string, unknown>, author: string | null): Promise<boolean> {
    // xmax = 0 only on a row this statement inserted (an update leaves the old row's transaction id)
    const { rows } = await this.pool.query<{ inserted: boolean }>(
      `INSERT INTO ${this.S}.flow_tests (flow_id, name, test, saved_at, author) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (flow_id, name) DO UPDATE SET test = excluded.test, saved_at = excluded.saved_at, author = excluded.author
       RETURNING (xmax = 0) AS inserted`,
      [flowId, test.name, JSON.stringify(test), Date.now(), author],
    );
    return rows[0].inserted;
  }

  async deleteFlowTest(flowId: string, name: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.S}.flow_tests WHERE flow_id = $1 AND name = $2`, [flowId, name]);
    return (rowCount ?? 0) > 0;
  }

  // ---- connections -----------------------------------------------------------------------------

  async listConnections(): Promise<StoredConnection[]> {
    const { rows } = await this.pool.query<ConnectionRow>(`SELECT id, type, config, created_at, updated_at FROM ${this.S}.connections ORDER BY id COLLATE "C"`);
    return rows.map((r) => this.toConnection(r));
  }

  async getConnection(id: string): Promise<StoredConnection | undefined> {
    const { rows } = await this.pool.query<ConnectionRow>(`SELECT id, type, config, created_at, updated_at FROM ${this.S}.connections WHERE id = $1`, [id]);
    return rows[0] ? this.toConnection(rows[0]) : undefined;
  }

  private toConnection(r: ConnectionRow): StoredConnection {
    const config = this.sealer.open(r.id, r.type, JSON.parse(r.config));
    return { id: r.id, type: r.type, config, createdAt: num(r.created_at), updatedAt: num(r.updated_at) };
  }

  async createConnection(id: string, type: string, config: Record<string, unknown>): Promise<StoredConnection> {
    const now = Date.now();
    try {
      await this.pool.query(`INSERT INTO ${this.S}.connections (id, type, config, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)`, [
        id,
        type,
        JSON.stringify(this.sealer.seal(type, config, true)),
        now,
      ]);
    } catch (err) {
      if (isUnique(err)) throw new DuplicateError(`a connection named ${id} exists`);
      throw err;
    }
    await this.refreshSecretValues();
    return (await this.getConnection(id))!;
  }

  async updateConnection(id: string, type: string, config: Record<string, unknown>): Promise<StoredConnection | undefined> {
    const { rowCount } = await this.pool.query(`UPDATE ${this.S}.connections SET type = $1, config = $2, updated_at = $3 WHERE id = $4`, [
      type,
      JSON.stringify(this.sealer.seal(type, config, true)),
      Date.now(),
      id,
    ]);
    await this.refreshSecretValues();
    return rowCount ? this.getConnection(id) : undefined;
  }

  async deleteConnection(id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(`DELETE FROM ${this.S}.connections WHERE id = $1`, [id]);
    await this.refreshSecretValues();
    return (rowCount ?? 0) > 0;
  }

  // ---- deployments -----------------------------------------------------------------------------

  async deployments(): Promise<StoredDeployment[]> {
    const { rows } = await this.pool.query<{ flow_id: string; version: number; state: DesiredState }>(
      `SELECT flow_id, version, state FROM ${this.S}.deployments ORDER BY flow_id COLLATE "C"`,
    );
    return rows.map((r) => ({ flowId: r.flow_id, version: r.version, state: r.state }));
  }

  async setDeployment(flowId: string, version: number, state: DesiredState): Promise<void> {
    await this.pool.query(
      `INSERT INTO ${this.S}.deployments (flow_id, version, state, updated_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (flow_id) DO UPDATE SET version = excluded.version, state = excluded.state, updated_at = excluded.updated_at`,
      [flowId, version, state, Date.now()],
    );
  }

  async setDeploymentState(flowId: string, state: DesiredState): Promise<void> {
    await this.pool.query(`UPDATE ${this.S}.deployments SET state = $1, updated_at = $2 WHERE flow_id = $3`, [state, Date.now(), flowId]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownsPool) await this.pool.end();
  }
}

interface FlowRow {
  id: string;
  version: number;
  created_at: string;
  document: string;
  saved_at: string;
  author: string | null;
  message: string | null;
}

interface ConnectionRow {
  id: string;
  type: string;
  config: string;
  created_at: string;
  updated_at: string;
}

function toFlow(r: FlowRow): StoredFlow {
  return { id: r.id, version: r.version, savedAt: num(r.saved_at), createdAt: num(r.created_at), author: r.author, message: r.message, document: JSON.parse(r.document) };
}
