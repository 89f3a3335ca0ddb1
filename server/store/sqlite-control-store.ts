/**
 * The control store on SQLite (`./data/sluice.db`), the embedded default: flows with every saved
 * version, connections and the deployments the user asked for, so a restarted server resumes them.
 * Documents are kept as JSON text, so key order survives a save. With a key, a connection's declared
 * secrets are stored sealed (connection-sealer.ts) and opened on read; redaction for responses happens
 * at the HTTP edge. A store written before encryption is sealed when opened. better-sqlite3 is
 * synchronous; the methods are async only to share the ControlStore interface with PostgreSQL.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { secretValues } from '../../runtime/host.js';
import { SqliteAuthStore } from './sqlite-auth-store.js';
import { ConnectionSealer, KEY_CHECK, KEY_CHECK_SETTING } from './connection-sealer.js';
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

/** 2: the settings table (the key check); connection secrets sealed. 3: a version's author and message. 4: flow tests */
const SCHEMA_VERSION = 4;

export class SqliteControlStore implements ControlStore {
  private readonly db: Database.Database;
  private readonly stmts;
  /** true when the database file was created by this constructor (first start) */
  readonly created: boolean;
  /** users, sessions, API keys and the audit log, in the same database */
  readonly auth: SqliteAuthStore;

  private readonly sealer: ConnectionSealer;

  get location(): string {
    return this.path;
  }
  private knownSecrets: string[] | undefined;

  constructor(readonly path: string, options: ControlStoreOptions = {}) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path);
    // what is deleted or overwritten (a secret before it was sealed) is zeroed, not left in free pages
    this.db.pragma('secure_delete = ON');
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
        author TEXT,
        message TEXT,
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
      CREATE TABLE IF NOT EXISTS flow_tests (
        flow_id TEXT NOT NULL REFERENCES flows(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        test TEXT NOT NULL,
        saved_at INTEGER NOT NULL,
        author TEXT,
        PRIMARY KEY (flow_id, name)
      );
      CREATE TABLE IF NOT EXISTS settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
    `);
    // a store written before schema 3: its versions get the columns, null (author and message unknown)
    const columns = (this.db.prepare('PRAGMA table_info(flow_versions)').all() as { name: string }[]).map((c) => c.name);
    if (!columns.includes('author')) this.db.exec('ALTER TABLE flow_versions ADD COLUMN author TEXT');
    if (!columns.includes('message')) this.db.exec('ALTER TABLE flow_versions ADD COLUMN message TEXT');
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    this.auth = new SqliteAuthStore(this.db);
    this.stmts = {
      flows: this.db.prepare(`SELECT f.id, f.version, f.created_at, v.document, v.saved_at, v.author, v.message FROM flows f
        JOIN flow_versions v ON v.flow_id = f.id AND v.version = f.version ORDER BY f.id`),
      flow: this.db.prepare(`SELECT f.id, v.version, f.created_at, v.document, v.saved_at, v.author, v.message FROM flows f
        JOIN flow_versions v ON v.flow_id = f.id AND v.version = COALESCE(?, f.version) WHERE f.id = ?`),
      latest: this.db.prepare('SELECT version FROM flows WHERE id = ?'),
      insertFlow: this.db.prepare('INSERT INTO flows (id, version, created_at) VALUES (?, ?, ?)'),
      bump: this.db.prepare('UPDATE flows SET version = ? WHERE id = ?'),
      insertVersion: this.db.prepare('INSERT INTO flow_versions (flow_id, version, document, saved_at, author, message) VALUES (?, ?, ?, ?, ?, ?)'),
      versions: this.db.prepare('SELECT version, document, saved_at, author, message FROM flow_versions WHERE flow_id = ? ORDER BY version DESC'),
      deleteFlow: this.db.prepare('DELETE FROM flows WHERE id = ?'),
      flowTests: this.db.prepare('SELECT name, test, saved_at, author FROM flow_tests WHERE flow_id = ? ORDER BY name'),
      hasFlowTest: this.db.prepare('SELECT 1 FROM flow_tests WHERE flow_id = ? AND name = ?'),
      saveFlowTest: this.db.prepare(`INSERT INTO flow_tests (flow_id, name, test, saved_at, author) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(flow_id, name) DO UPDATE SET test = excluded.test, saved_at = excluded.saved_at, author = excluded.author`),
      deleteFlowTest: this.db.prepare('DELETE FROM flow_tests WHERE flow_id = ? AND name = ?'),
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
      setting: this.db.prepare('SELECT value FROM settings WHERE name = ?'),
      setSetting: this.db.prepare('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
    };
    this.sealer = new ConnectionSealer(options.secretFields ?? (() => ({ paths: [], urlPaths: [] })), undefined);
    if (options.secretBox) {
      try {
        const check = this.setting(KEY_CHECK_SETTING);
        const box = options.secretBox(check !== undefined);
        if (check !== undefined) box.open(check, `${path}'s secrets`);
        this.sealer.box = box;
        this.sealPlainSecrets();
      } catch (err) {
        this.db.close(); // no key, no store: nothing half-open is left behind
        throw err;
      }
    }
  }

  // ---- secrets ----------------------------------------------------------------------------------

  private setting(name: string): string | undefined {
    return (this.stmts.setting.get(name) as { value: string } | undefined)?.value;
  }

  /** a store written before encryption (or a type that has since declared a secret): sealed in place, old pages wiped */
  private sealPlainSecrets(): void {
    const rows = this.stmts.connections.all() as ConnectionRow[];
    const plain = rows.filter((r) => this.sealer.hasPlainSecret(r.type, JSON.parse(r.config)));
    const firstKey = this.setting(KEY_CHECK_SETTING) === undefined;
    if (plain.length === 0 && !firstKey) return;
    this.db.transaction(() => {
      for (const r of plain) this.stmts.updateConnection.run(r.type, JSON.stringify(this.sealer.seal(r.type, JSON.parse(r.config), false)), r.updated_at, r.id);
      this.stmts.setSetting.run(KEY_CHECK_SETTING, this.sealer.box!.seal(KEY_CHECK));
    })();
    if (plain.length > 0) this.compact();
  }

  /** rewrites the file without free pages and empties the WAL: nothing old stays on disk */
  private compact(): void {
    if (this.path === ':memory:') return;
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    this.db.exec('VACUUM');
    this.db.pragma('wal_checkpoint(TRUNCATE)');
  }

  /** every secret is sealed again under `next` (and the key check with it); returns how many connections hold secrets */
  async rotateKey(next: SecretBox): Promise<number> {
    if (!this.sealer.box) throw new Error('rotateKey: this store was opened without a key');
    const current = this.sealer.box;
    let n = 0;
    this.db.transaction(() => {
      for (const r of this.stmts.connections.all() as ConnectionRow[]) {
        const stored = JSON.parse(r.config) as Record<string, unknown>;
        const sealed = this.sealer.seal(r.type, this.sealer.open(r.id, r.type, stored, current), true, next);
        if (JSON.stringify(sealed) !== r.config) n++;
        this.stmts.updateConnection.run(r.type, JSON.stringify(sealed), r.updated_at, r.id);
      }
      this.stmts.setSetting.run(KEY_CHECK_SETTING, next.seal(KEY_CHECK));
    })();
    this.sealer.box = next;
    this.compact();
    return n;
  }

  /**
   * The secret values of every stored connection (by each type's declaration), for masking them in
   * messages. Never throws (a closed or unreadable store has none to give): logging must not fail.
   */
  secretValues(): string[] {
    try {
      this.knownSecrets ??= this.readConnections().flatMap((c) => secretValues(c.config, this.sealer.fieldsOf(c.type)));
      return this.knownSecrets;
    } catch {
      return [];
    }
  }

  // ---- flows -----------------------------------------------------------------------------------

  /** the latest version of every flow, by id */
  async listFlows(): Promise<StoredFlow[]> {
    return (this.stmts.flows.all() as FlowRow[]).map(toFlow);
  }

  async countFlows(): Promise<number> {
    return (this.stmts.countFlows.get() as { n: number }).n;
  }

  /** the latest version, or `version` */
  async getFlow(id: string, version?: number): Promise<StoredFlow | undefined> {
    const row = this.stmts.flow.get(version ?? null, id) as FlowRow | undefined;
    return row ? toFlow(row) : undefined;
  }

  /** version 1 of a new flow; `document(version)` builds the document to keep (it holds the version) */
  async createFlow(id: string, document: (version: number) => Record<string, unknown>, info: SaveInfo = {}): Promise<StoredFlow> {
    const now = Date.now();
    this.db.transaction(() => {
      const current = this.stmts.latest.get(id) as { version: number } | undefined;
      if (current) throw new DuplicateError(`a flow named ${id} exists (version ${current.version})`, current.version);
      this.stmts.insertFlow.run(id, 1, now);
      this.stmts.insertVersion.run(id, 1, JSON.stringify(document(1)), now, info.author ?? null, info.message ?? null);
    }).immediate();
    return (await this.getFlow(id))!;
  }

  /**
   * A new version of an existing flow. With `baseVersion`, refused (StaleVersionError) unless it is the
   * latest: someone saved in between. Undefined when there is no such flow.
   */
  async saveFlow(id: string, baseVersion: number | undefined, document: (version: number) => Record<string, unknown>, info: SaveInfo = {}): Promise<StoredFlow | undefined> {
    const now = Date.now();
    const saved = this.db.transaction(() => {
      const current = this.stmts.latest.get(id) as { version: number } | undefined;
      if (!current) return false;
      if (baseVersion !== undefined && baseVersion !== current.version) {
        throw new StaleVersionError(`flow ${id} was saved in between: the latest version is ${current.version}, this save is based on ${baseVersion}`, current.version);
      }
      const version = current.version + 1;
      this.stmts.insertVersion.run(id, version, JSON.stringify(document(version)), now, info.author ?? null, info.message ?? null);
      this.stmts.bump.run(version, id);
      return true;
    }).immediate();
    return saved ? this.getFlow(id) : undefined;
  }

  /** newest first; undefined when there is no such flow */
  async versions(id: string): Promise<FlowVersionInfo[] | undefined> {
    if (!this.stmts.latest.get(id)) return undefined;
    return (this.stmts.versions.all(id) as { version: number; document: string; saved_at: number; author: string | null; message: string | null }[]).map((r) => {
      const doc = JSON.parse(r.document) as { nodes?: unknown[]; edges?: unknown[] };
      return { version: r.version, savedAt: r.saved_at, author: r.author, message: r.message, nodes: doc.nodes?.length ?? 0, edges: doc.edges?.length ?? 0 };
    });
  }

  /** the flow, every version of it and its deployment record; false when there was none */
  async deleteFlow(id: string): Promise<boolean> {
    return this.db.transaction(() => {
      this.stmts.deleteDeployment.run(id);
      return this.stmts.deleteFlow.run(id).changes > 0;
    })();
  }

  // ---- flow tests ------------------------------------------------------------------------------

  async listFlowTests(flowId: string): Promise<StoredFlowTest[]> {
    const rows = this.stmts.flowTests.all(flowId) as { name: string; test: string; saved_at: number; author: string | null }[];
    return rows.map((r) => ({ name: r.name, test: JSON.parse(r.test), savedAt: r.saved_at, author: r.author }));
  }

  async saveFlowTest(flowId: string, test: { name: string } & Record<string, unknown>, author: string | null): Promise<boolean> {
    return this.db.transaction(() => {
      const existed = this.stmts.hasFlowTest.get(flowId, test.name) !== undefined;
      this.stmts.saveFlowTest.run(flowId, test.name, JSON.stringify(test), Date.now(), author);
      return !existed;
    })();
  }

  async deleteFlowTest(flowId: string, name: string): Promise<boolean> {
    return this.stmts.deleteFlowTest.run(flowId, name).changes > 0;
  }

  // ---- connections -----------------------------------------------------------------------------

  async listConnections(): Promise<StoredConnection[]> {
    return this.readConnections();
  }

  private readConnections(): StoredConnection[] {
    return (this.stmts.connections.all() as ConnectionRow[]).map((r) => this.toConnection(r));
  }

  async getConnection(id: string): Promise<StoredConnection | undefined> {
    const row = this.stmts.connection.get(id) as ConnectionRow | undefined;
    return row ? this.toConnection(row) : undefined;
  }

  private toConnection(r: ConnectionRow): StoredConnection {
    const config = this.sealer.open(r.id, r.type, JSON.parse(r.config));
    return { id: r.id, type: r.type, config, createdAt: r.created_at, updatedAt: r.updated_at };
  }

  async createConnection(id: string, type: string, config: Record<string, unknown>): Promise<StoredConnection> {
    const now = Date.now();
    try {
      this.stmts.insertConnection.run(id, type, JSON.stringify(this.sealer.seal(type, config, true)), now, now);
      this.knownSecrets = undefined;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new DuplicateError(`a connection named ${id} exists`);
      throw err;
    }
    return (await this.getConnection(id))!;
  }

  /** undefined when there is no such connection */
  async updateConnection(id: string, type: string, config: Record<string, unknown>): Promise<StoredConnection | undefined> {
    const changed = this.stmts.updateConnection.run(type, JSON.stringify(this.sealer.seal(type, config, true)), Date.now(), id).changes;
    this.knownSecrets = undefined;
    return changed ? this.getConnection(id) : undefined;
  }

  async deleteConnection(id: string): Promise<boolean> {
    this.knownSecrets = undefined;
    return this.stmts.deleteConnection.run(id).changes > 0;
  }

  // ---- deployments (what the user asked for, restored on start) ----------------------------------

  async deployments(): Promise<StoredDeployment[]> {
    return (this.stmts.deployments.all() as { flow_id: string; version: number; state: DesiredState }[]).map((r) => ({
      flowId: r.flow_id,
      version: r.version,
      state: r.state,
    }));
  }

  async setDeployment(flowId: string, version: number, state: DesiredState): Promise<void> {
    this.stmts.setDeployment.run(flowId, version, state, Date.now());
  }

  async setDeploymentState(flowId: string, state: DesiredState): Promise<void> {
    this.stmts.setState.run(state, Date.now(), flowId);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

interface FlowRow {
  id: string;
  version: number;
  created_at: number;
  document: string;
  saved_at: number;
  author: string | null;
  message: string | null;
}

interface ConnectionRow {
  id: string;
  type: string;
  config: string;
  created_at: number;
  updated_at: number;
}

function toFlow(r: FlowRow): StoredFlow {
  return { id: r.id, version: r.version, savedAt: r.saved_at, createdAt: r.created_at, author: r.author, message: r.message, document: JSON.parse(r.document) };
}

