/**
 * The control plane's store on SQLite (`./data/sluice.db`): flows with every saved version, connections
 * (secrets included: this store never leaves the server; redaction happens at the HTTP edge) and the
 * deployments the user asked for, so a restarted server resumes them. Documents are kept as JSON text,
 * so key order survives a save.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AuthStore } from './auth-store.js';

export interface StoredFlow {
  id: string;
  version: number;
  /** ms since the epoch: when this version was saved */
  savedAt: number;
  createdAt: number;
  document: Record<string, unknown>;
}

export interface FlowVersionInfo {
  version: number;
  savedAt: number;
  nodes: number;
  edges: number;
}

export interface StoredConnection {
  id: string;
  type: string;
  /** the whole config, secrets included */
  config: Record<string, unknown>;
  createdAt: number;
  updatedAt: number;
}

export type DesiredState = 'running' | 'paused' | 'stopped';

export interface StoredDeployment {
  flowId: string;
  version: number;
  state: DesiredState;
}

/** a create of a name that exists */
export class DuplicateError extends Error {
  override name = 'DuplicateError';
  constructor(message: string, readonly current?: number) {
    super(message);
  }
}

/** a save whose base version is not the latest */
export class StaleVersionError extends Error {
  override name = 'StaleVersionError';
  constructor(message: string, readonly current: number) {
    super(message);
  }
}

const SCHEMA_VERSION = 1;

export class ControlStore {
  private readonly db: Database.Database;
  private readonly stmts;
  /** true when the database file was created by this constructor (first start) */
  readonly created: boolean;
  /** users, sessions, API keys and the audit log, in the same database */
  readonly auth: AuthStore;

  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    const found = this.db.pragma('user_version', { simple: true }) as number;
    if (found > SCHEMA_VERSION) throw new Error(`${path} was written by a newer Sluice (schema ${found}; this one knows ${SCHEMA_VERSION})`);
    this.created = found === 0;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS flows (
        id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS flow_versions (
        flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        version INTEGER NOT NULL,
        document TEXT NOT NULL,
        saved_at INTEGER NOT NULL,
        PRIMARY KEY (flow_id, version)
      );
      CREATE TABLE IF NOT EXISTS connections (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        config TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS deployments (
        flow_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        state TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.auth = new AuthStore(this.db);
    this.stmts = {
      flows: this.db.prepare(`SELECT f.id, f.version, f.created_at, v.document, v.saved_at FROM flows f
        JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.version ORDER BY f.id`),
      flow: this.db.prepare(`SELECT f.id, v.version, f.created_at, v.document, v.saved_at FROM flows f
        JOIN flow_versions v ON v.flow_id = f.id AND v.version = COALESCE(?, f.version) WHERE f.id = ?`),
      latest: this.db.prepare('SELECT version FROM flows WHERE id = ?'),
      insertFlow: this.db.prepare('INSERT INTO flows (id, version, created_at) VALUES (?, ?, ?)'),
      bump: this.db.prepare('UPDATE flows SET version = ? WHERE id = ?'),
      insertVersion: this.db.prepare('INSERT INTO flow_versions (flow_id, version, document, saved_at) VALUES (?, ?, ?, ?)'),
      versions: this.db.prepare('SELECT version, document, saved_at FROM flow_versions WHERE flow_id = ? ORDER BY version DESC'),
      deleteFlow: this.db.prepare('DELETE FROM flows WHERE id = ?'),
      countFlows: this.db.prepare('SELECT count(*) AS n FROM flows'),
      connections: this.db.prepare('SELECT id, type, config, created_at, updated_at FROM connections ORDER BY id'),
      connection: this.db.prepare('SELECT id, type, config, created_at, updated_at FROM connections WHERE id = ?'),
      insertConnection: this.db.prepare('INSERT INTO connections (id, type, config, created_at, updated_at) VALUES (?, ?, ?, ?, ?)'),
      updateConnection: this.db.prepare('UPDATE connections SET type = ?, config = ?, updated_at = ? WHERE id = ?'),
      deleteConnection: this.db.prepare('DELETE FROM connections WHERE id = ?'),
      deployments: this.db.prepare('SELECT flow_id, version, state FROM deployments ORDER BY flow_id'),
      setDeployment: this.db.prepare(`INSERT INTO deployments (flow_id, version, state, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT(flow_id) DO UPDATE SET version = excluded.version, state = excluded.state, updated_at = excluded.updated_at`),
      setState: this.db.prepare('UPDATE deployments SET state = ?, updated_at = ? WHERE flow_id = ?'),
      deleteDeployment: this.db.prepare('DELETE FROM deployments WHERE flow_id = ?'),
    };
  }

  // ---- flows -----------------------------------------------------------------------------------

  /** the latest version of every flow, by id */
  listFlows(): StoredFlow[] {
    return (this.stmts.flows.all() as FlowRow[]).map(toFlow);
  }

  countFlows(): number {
    return (this.stmts.countFlows.get() as { n: number }).n;
  }

  /** the latest version, or `version` */
  getFlow(id: string, version?: number): StoredFlow | undefined {
    const row = this.stmts.flow.get(version ?? null, id) as FlowRow | undefined;
    return row ? toFlow(row) : undefined;
  }

  /** version 1 of a new flow; `document(version)` builds the document to keep (it holds the version) */
  createFlow(id: string, document: (version: number) => Record<string, unknown>): StoredFlow {
    const now = Date.now();
    this.db.transaction(() => {
      const current = this.stmts.latest.get(id) as { version: number } | undefined;
      if (current) throw new DuplicateError(`a flow named ${id} exists (version ${current.version})`, current.version);
      this.stmts.insertFlow.run(id, 1, now);
      this.stmts.insertVersion.run(id, 1, JSON.stringify(document(1)), now);
    }).immediate();
    return this.getFlow(id)!;
  }

  /**
   * A new version of an existing flow. With `baseVersion`, refused (StaleVersionError) unless it is the
   * latest: someone saved in between. Undefined when there is no such flow.
   */
  saveFlow(id: string, baseVersion: number | undefined, document: (version: number) => Record<string, unknown>): StoredFlow | undefined {
    const now = Date.now();
    const saved = this.db.transaction(() => {
      const current = this.stmts.latest.get(id) as { version: number } | undefined;
      if (!current) return false;
      if (baseVersion !== undefined && baseVersion !== current.version) {
        throw new StaleVersionError(`flow ${id} was saved in between: the latest version is ${current.version}, this save is based on ${baseVersion}`, current.version);
      }
      const version = current.version + 1;
      this.stmts.insertVersion.run(id, version, JSON.stringify(document(version)), now);
      this.stmts.bump.run(version, id);
      return true;
    }).immediate();
    return saved ? this.getFlow(id) : undefined;
  }

  /** newest first; undefined when there is no such flow */
  versions(id: string): FlowVersionInfo[] | undefined {
    if (!this.stmts.latest.get(id)) return undefined;
    return (this.stmts.versions.all(id) as { version: number; document: string; saved_at: number }[]).map((r) => {
      const doc = JSON.parse(r.document) as { nodes?: unknown[]; edges?: unknown[] };
      return { version: r.version, savedAt: r.saved_at, nodes: doc.nodes?.length ?? 0, edges: doc.edges?.length ?? 0 };
    });
  }

  /** the flow, every version of it and its deployment record; false when there was none */
  deleteFlow(id: string): boolean {
    return this.db.transaction(() => {
      this.stmts.deleteDeployment.run(id);
      return this.stmts.deleteFlow.run(id).changes > 0;
    })();
  }

  // ---- connections -----------------------------------------------------------------------------

  listConnections(): StoredConnection[] {
    return (this.stmts.connections.all() as ConnectionRow[]).map(toConnection);
  }

  getConnection(id: string): StoredConnection | undefined {
    const row = this.stmts.connection.get(id) as ConnectionRow | undefined;
    return row ? toConnection(row) : undefined;
  }

  createConnection(id: string, type: string, config: Record<string, unknown>): StoredConnection {
    const now = Date.now();
    try {
      this.stmts.insertConnection.run(id, type, JSON.stringify(config), now, now);
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateError(`a connection named ${id} exists`);
      throw err;
    }
    return this.getConnection(id)!;
  }

  /** undefined when there is no such connection */
  updateConnection(id: string, type: string, config: Record<string, unknown>): StoredConnection | undefined {
    const changed = this.stmts.updateConnection.run(type, JSON.stringify(config), Date.now(), id).changes;
    return changed ? this.getConnection(id) : undefined;
  }

  deleteConnection(id: string): boolean {
    return this.stmts.deleteConnection.run(id).changes > 0;
  }

  // ---- deployments (what the user asked for, restored on start) ----------------------------------

  deployments(): StoredDeployment[] {
    return (this.stmts.deployments.all() as { flow_id: string; version: number; state: DesiredState }[]).map((r) => ({
      flowId: r.flow_id,
      version: r.version,
      state: r.state,
    }));
  }

  setDeployment(flowId: string, version: number, state: DesiredState): void {
    this.stmts.setDeployment.run(flowId, version, state, Date.now());
  }

  setDeploymentState(flowId: string, state: DesiredState): void {
    this.stmts.setState.run(state, Date.now(), flowId);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

interface FlowRow {
  id: string;
  version: number;
  created_at: number;
  document: string;
  saved_at: number;
}

interface ConnectionRow {
  id: string;
  type: string;
  config: string;
  created_at: number;
  updated_at: number;
}

function toFlow(r: FlowRow): StoredFlow {
  return { id: r.id, version: r.version, savedAt: r.saved_at, createdAt: r.created_at, document: JSON.parse(r.document) };
}

function toConnection(r: ConnectionRow): StoredConnection {
  return { id: r.id, type: r.type, config: JSON.parse(r.config), createdAt: r.created_at, updatedAt: r.updated_at };
}
