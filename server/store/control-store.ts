/**
 * The control plane's store: flows with every saved version, connections (their declared secrets
 * sealed at rest, connection-sealer.ts), the deployments the user asked for, and (as `auth`) users,
 * sessions, API keys and the audit log. Two implementations behind this one interface:
 * SqliteControlStore (embedded, `./data/sluice.db`) and PgControlStore (cluster, `--store postgres://…`);
 * open-stores.ts picks one from a location. Every method is async so that both fit.
 */
import type { SecretFields } from '../../runtime/host.js';
import type { AuthStore } from './auth-store.js';
import type { SecretBox } from './secret-box.js';

export interface ControlStoreOptions {
  /** the secret fields of a connection type (its connector's declaration) */
  secretFields?: (type: string) => SecretFields;
  /**
   * The key to seal secrets with; `hasSecrets`: the store already holds sealed ones (so a key must not
   * be made anew). Without it, secrets are stored as they are (in-memory stores of tests).
   */
  secretBox?: (hasSecrets: boolean) => SecretBox;
}

export interface StoredFlow {
  id: string;
  version: number;
  /** ms since the epoch: when this version was saved */
  savedAt: number;
  createdAt: number;
  /** who saved this version (null: no signed-in user, or saved before authors were kept) */
  author: string | null;
  /** the message given with the save (null: none) */
  message: string | null;
  document: Record<string, unknown>;
}

export interface FlowVersionInfo {
  version: number;
  savedAt: number;
  author: string | null;
  message: string | null;
  nodes: number;
  edges: number;
}

/** who saves a version and why; both optional */
export interface SaveInfo {
  author?: string | null;
  message?: string | null;
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

/**
 * One of a flow's tests (runtime/testing/flow-tests.ts), kept as the entry it is in `FLOW.tests.yaml`:
 * `{ name, ordered?, inputs, expect }`, so a flow's tests export as that file unchanged.
 */
export interface StoredFlowTest {
  name: string;
  test: Record<string, unknown>;
  savedAt: number;
  author: string | null;
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

export interface ControlStore {
  /** true when this open created the store (first start: the demo flow is added) */
  readonly created: boolean;
  /** users, sessions, API keys and the audit log, in the same database */
  readonly auth: AuthStore;
  /** where it lives, for messages (a file path, or a URL with its password masked) */
  readonly location: string;

  // flows
  /** the latest version of every flow, by id */
  listFlows(): Promise<StoredFlow[]>;
  countFlows(): Promise<number>;
  /** the latest version, or `version` */
  getFlow(id: string, version?: number): Promise<StoredFlow | undefined>;
  /** version 1 of a new flow (DuplicateError when the name exists); `document(version)` builds the document to keep */
  createFlow(id: string, document: (version: number) => Record<string, unknown>, info?: SaveInfo): Promise<StoredFlow>;
  /**
   * A new version of an existing flow. With `baseVersion`, refused (StaleVersionError) unless it is the
   * latest: someone saved in between. Undefined when there is no such flow.
   */
  saveFlow(id: string, baseVersion: number | undefined, document: (version: number) => Record<string, unknown>, info?: SaveInfo): Promise<StoredFlow | undefined>;
  /** newest first; undefined when there is no such flow */
  versions(id: string): Promise<FlowVersionInfo[] | undefined>;
  /** the flow, every version of it and its deployment record; false when there was none */
  deleteFlow(id: string): Promise<boolean>;

  // flow tests (deleted with their flow)
  /** by name; an empty list for a flow without tests */
  listFlowTests(flowId: string): Promise<StoredFlowTest[]>;
  /** adds or replaces the test named `test.name`; true when it was new */
  saveFlowTest(flowId: string, test: { name: string } & Record<string, unknown>, author: string | null): Promise<boolean>;
  deleteFlowTest(flowId: string, name: string): Promise<boolean>;

  // connections (configs in clear here; sealed at rest)
  listConnections(): Promise<StoredConnection[]>;
  getConnection(id: string): Promise<StoredConnection | undefined>;
  /** DuplicateError when the name exists */
  createConnection(id: string, type: string, config: Record<string, unknown>): Promise<StoredConnection>;
  /** undefined when there is no such connection */
  updateConnection(id: string, type: string, config: Record<string, unknown>): Promise<StoredConnection | undefined>;
  deleteConnection(id: string): Promise<boolean>;
  /**
   * The secret values of every stored connection, for masking them in messages: synchronous (a log
   * line cannot wait), so it answers from what the store last read; never throws.
   */
  secretValues(): string[];
  /** every secret sealed again under `next`; returns how many connections hold secrets */
  rotateKey(next: SecretBox): Promise<number>;

  // deployments (what the user asked for, restored on start)
  deployments(): Promise<StoredDeployment[]>;
  setDeployment(flowId: string, version: number, state: DesiredState): Promise<void>;
  setDeploymentState(flowId: string, state: DesiredState): Promise<void>;

  close(): Promise<void>;
}
