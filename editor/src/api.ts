/**
 * The server API (server/API.md), typed: one fetch wrapper, one socket.io connection. Nothing here knows
 * about React or the store; failures are ApiError with the server's one-line message and details.
 */
import { io, type Socket } from 'socket.io-client';
import type { FlowDocumentInput } from '../../runtime/flow/schema.js';
import type { FlowIssue } from '../../runtime/errors.js';
import type { Op, SluiceRecord } from '../../runtime/records.js';

import type { Category, PortSpec, TableReport } from '../../runtime/node-api.js';
import type { ConnectorInfo, NodeTypeInfo as RuntimeNodeTypeInfo } from '../../runtime/registry.js';
import type { NodePreview, NodeStats as RunNodeStats, PreviewBatch, PreviewResult } from '../../runtime/executor/run-summary.js';
import type { DeploymentState, DeploymentStatus, SourceStatus } from '../../runtime/deploy/status.js';
import type { LogLine } from '../../runtime/deploy/log-ring.js';
import type { Difference, FlowTest, TestRecord } from '../../runtime/testing/test-wire.js';
import type { ClusterFlowView, ClusterView as RuntimeClusterView, SingleModeView } from '../../runtime/cluster/view.js';
import type { PositionChangeAnswer, PositionChangeRequest, PositionsView, ReplayResult, ScheduleView, StoredDeadLetter } from '../../runtime/state/operations-wire.js';

// the wire types are the runtime's own, from modules free of Node built-ins (type-only imports: nothing
// of the runtime is bundled; test/unit/boundaries.test.ts), narrowed where the runtime types JSON as `unknown`
export type { Category, FlowIssue, NodePreview, Op, SluiceRecord, SourceStatus, PositionChangeAnswer, ScheduleView, TableReport };
/** GET /api/flows/:id/dead-letters */
export type DeadLetter = StoredDeadLetter;
/** POST /api/flows/:id/dead-letters/replay */
export type ReplayAnswer = ReplayResult & { missing: number[] };
/** GET /api/flows/:id/positions */
export type Positions = PositionsView & { status: DeployState };
export type FlowDoc = FlowDocumentInput;
export type PortInfo = PortSpec;

/** a node type (GET /api/node-types): its config as JSON Schema */
export type NodeTypeInfo = Omit<RuntimeNodeTypeInfo, 'configSchema'> & { configSchema: Record<string, unknown> };

/** a connector (GET /api/connection-types): the fields of a connection as JSON Schema */
export type ConnectionType = Omit<ConnectorInfo, 'configSchema'> & {
  configSchema: { properties?: Record<string, { type?: string | string[]; description?: string }>; required?: string[] };
};

export interface FlowResource {
  id: string;
  name: string;
  version: number;
  updatedAt: string;
  /** who saved this version (null: unknown) and the message given with the save */
  author?: string | null;
  message?: string | null;
  document: FlowDoc;
}

export type DeployState = DeploymentState;

export interface FlowSummary {
  id: string;
  name: string;
  version: number;
  updatedAt: string;
  /** who saved the latest version (null: unknown) */
  author?: string | null;
  description?: string;
  nodes: number;
  deployment: { status: DeployState } | null;
}

export interface VersionInfo {
  version: number;
  savedAt: string;
  author: string | null;
  message: string | null;
  nodes: number;
  edges: number;
}

export interface ValidateResult {
  valid: boolean;
  issues: FlowIssue[];
}

export interface Connection {
  id: string;
  name: string;
  type: string;
  /** secret fields never come back: they show as `hasPassword: true`-style flags */
  config: Record<string, unknown>;
  /** imported without these secrets: flows using it cannot be deployed until they are set */
  incomplete?: MissingSecret[];
}

/** a secret an imported connection still lacks: its field, and the `${env:…}` placeholder it holds */
export interface MissingSecret {
  field: string;
  variable: string;
}

/** what an import did with a connection of the file */
export interface ImportedConnection {
  name: string;
  type: string;
  action: 'matched' | 'created';
  missing: MissingSecret[];
}

/** a variable an exported flow needs where it runs */
export interface ExportVariable {
  name: string;
  /** the connection whose secret it is, or the node whose own field holds it */
  connection?: string;
  node?: string;
  field: string;
}

export type ConnectionTest = { ok: true; message?: string } | { ok: false; error: string; hint?: string };

/** a test run's summary (`preview:done`) */
export type RunSummary = PreviewResult;

/** a node's counts in a run's summary, or live with records/s (the runtime's NodeStatus) */
export type NodeStats = RunNodeStats & { rate?: number };

/** a deployment's status; the editor holds one without flowId and deadLetters between a deploy and the first status */
export type DeployStatus = Omit<DeploymentStatus, 'flowId' | 'deadLetters'> & Partial<Pick<DeploymentStatus, 'flowId' | 'deadLetters'>>;

/** GET /api/cluster: the cluster's agents and flows, or a single server's flows */
export type ClusterView = RuntimeClusterView | SingleModeView;
export type ClusterAgent = RuntimeClusterView['agents'][number];
export type ClusterFlow = ClusterFlowView;

/** a batch of a test run's records (`preview:records`) */
export type PreviewRecordsEvent = PreviewBatch & { previewId: string };

export interface PreviewDoneEvent {
  previewId: string;
  summary: RunSummary;
  /** what the nodes logged during the test run */
  logs?: Omit<LogEvent, 'flowId'>[];
}

export type LogEvent = LogLine;

/** POST /api/flows/:id/tests: a test as `FLOW.tests.yaml` holds it */
export type FlowTestBody = FlowTest;
export type { TestRecord };

/** GET /api/flows/:id/tests: a test, its records counted per source and sink */
export interface FlowTestInfo {
  name: string;
  ordered: boolean;
  savedAt: string;
  author: string | null;
  inputs: Record<string, number>;
  expect: Record<string, number>;
}

/** one difference of a sink's output: the record, the field (absent: the whole record), in words */
export type TestDifference = Difference;

/** POST /api/flows/:id/tests/run */
export interface TestRunAnswer {
  flow: string;
  version: number;
  passed: number;
  failed: number;
  results: { name: string; passed: boolean; error?: string; diffs: { sink: string; differences: TestDifference[] }[]; nodes: string[] }[];
}

export interface ServerEvents {
  status: (e: DeployStatus) => void;
  log: (e: LogEvent) => void;
  'preview:records': (e: PreviewRecordsEvent) => void;
  'preview:done': (e: PreviewDoneEvent) => void;
}

interface ClientEvents {
  subscribe: (e: { flowId: string }) => void;
  unsubscribe: (e: { flowId: string }) => void;
}

export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    message: string,
    readonly status: number,
    readonly body: { error?: string; details?: { path?: string; message: string }[]; current?: number; [k: string]: unknown },
  ) {
    super(message);
  }
}

type Json = Record<string, unknown> | unknown[];

/** a GET that index.html started before this code loaded, used once */
function takePrefetched(method: string, path: string): Promise<Response> | undefined {
  const store = (globalThis as { __sluicePrefetch?: Record<string, Promise<Response>> }).__sluicePrefetch;
  const key = path.replace(/^\//, '');
  if (method !== 'GET' || !store?.[key]) return undefined;
  const res = store[key];
  delete store[key];
  return res;
}
const enc = encodeURIComponent;

/** who is signed in (GET /api/auth/session) */
export interface Session {
  user: string;
  role: 'viewer' | 'editor' | 'admin';
  via: 'session' | 'key';
  csrfToken?: string;
}

export type Role = Session['role'];

/** a user (GET /api/users, admins) */
export interface User {
  name: string;
  role: Role;
  createdAt: string;
  updatedAt: string;
  lastSignInAt?: string | null;
}

/** an API key (GET /api/api-keys): never the key itself, except in the answer that created it */
export interface ApiKeyInfo {
  id: string;
  user: string;
  role: Role;
  label: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
  key?: string;
}

/** an audit entry (GET /api/audit, admins) */
export interface AuditEntry {
  id: number | string;
  at: string;
  user: string;
  action: string;
  target: string | null;
  address: string | null;
  details?: unknown;
}

export interface AuditQuery {
  user?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: number;
}

export class Api {
  private socketPromise?: Promise<Socket<ServerEvents, ClientEvents>>;
  /** set once signed in; its CSRF token goes with every write */
  me?: Session;
  /** called when a signed-in request is answered 401 (the session ended) */
  onSignedOut?: () => void;

  constructor(readonly base = '') {}

  private async call<T>(method: string, path: string, body?: Json | string, contentType?: string): Promise<T> {
    let res: Response;
    const headers: Record<string, string> = {};
    // the server refuses a browser's write without a JSON body and the session's CSRF token
    if (method !== 'GET') headers['content-type'] = contentType ?? 'application/json';
    if (method !== 'GET' && this.me?.csrfToken) headers['x-csrf-token'] = this.me.csrfToken;
    try {
      res = await (takePrefetched(method, path) ??
        fetch(`${this.base}/api${path}`, {
          method,
          headers,
          credentials: 'same-origin',
          body: body === undefined ? (method === 'POST' ? '{}' : undefined) : typeof body === 'string' ? body : JSON.stringify(body),
        }));
    } catch (err) {
      throw new ApiError(`cannot reach the Sluice server (${(err as Error).message})`, 0, {});
    }
    const text = await res.text();
    let data: unknown = undefined;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    if (res.status === 401 && this.me) this.onSignedOut?.();
    if (!res.ok) {
      const b = (data && typeof data === 'object' ? data : { error: typeof data === 'string' ? data : undefined }) as ApiError['body'];
      throw new ApiError(b.error ?? `${method} ${path}: HTTP ${res.status}`, res.status, b);
    }
    return data as T;
  }

  session = () => this.call<Session>('GET', '/auth/session');
  signIn = (user: string, password: string) => this.call<Session>('POST', '/auth/signin', { user, password });
  setup = (token: string, user: string, password: string) => this.call<Session>('POST', '/auth/setup', { token, user, password });
  signOut = () => this.call<void>('POST', '/auth/signout', {});
  /** the server ends every session of the user and answers a new one: its CSRF token replaces ours */
  changePassword = async (current: string, password: string) => {
    const s = await this.call<Session>('POST', '/auth/password', { current, password });
    if (this.me && s?.csrfToken) this.me = { ...this.me, csrfToken: s.csrfToken };
  };

  users = () => this.call<User[]>('GET', '/users');
  createUser = (u: { name: string; role: Role; password: string }) => this.call<User>('POST', '/users', u);
  updateUser = (name: string, patch: { role?: Role; password?: string }) => this.call<User>('PUT', `/users/${enc(name)}`, patch);
  deleteUser = (name: string) => this.call<void>('DELETE', `/users/${enc(name)}`);
  apiKeys = () => this.call<ApiKeyInfo[]>('GET', '/api-keys');
  createApiKey = (body: { user?: string; role?: Role; label?: string }) => this.call<ApiKeyInfo & { key: string }>('POST', '/api-keys', body);
  revokeApiKey = (id: string) => this.call<void>('DELETE', `/api-keys/${enc(id)}`);
  audit = (q: AuditQuery) => {
    const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)]));
    return this.call<AuditEntry[]>('GET', `/audit${params.size ? `?${params}` : ''}`);
  };

  nodeTypes = () => this.call<NodeTypeInfo[]>('GET', '/node-types');
  /** the JSON Schema of a flow's settings */
  flowSettings = () => this.call<Record<string, unknown>>('GET', '/flow-settings');

  listFlows = () => this.call<FlowSummary[]>('GET', '/flows');
  getFlow = (id: string, version?: number) =>
    this.call<FlowResource>('GET', version === undefined ? `/flows/${enc(id)}` : `/flows/${enc(id)}/versions/${version}`);
  createFlow = (document: FlowDoc, message?: string) =>
    this.call<FlowResource>('POST', message ? `/flows?message=${encodeURIComponent(message)}` : '/flows', document as Json);
  saveFlow = (id: string, baseVersion: number, document: FlowDoc, message?: string) =>
    this.call<FlowResource>('PUT', `/flows/${enc(id)}`, message ? { baseVersion, document, message } : { baseVersion, document });
  deleteFlow = (id: string) => this.call<void>('DELETE', `/flows/${enc(id)}`);
  versions = (id: string) => this.call<VersionInfo[]>('GET', `/flows/${enc(id)}/versions`);
  validate = (document: FlowDoc) => this.call<ValidateResult>('POST', '/flows/validate', document as Json);
  exportUrl = (id: string, format: 'yaml' | 'json', version?: number) =>
    `${this.base}/api/flows/${enc(id)}/export?format=${format}${version === undefined ? '' : `&version=${version}`}`;
  /** the export with the variables it needs (`?variables=true`) */
  exportInfo = (id: string, format: 'yaml' | 'json') =>
    this.call<{ text: string; variables: ExportVariable[] }>('GET', `/flows/${enc(id)}/export?format=${format}&variables=true`);
  /** `tests`: the text of a FLOW.tests.yaml, stored with the flow (the answer names them) */
  importFlow = (text: string, format?: 'yaml' | 'json', overwrite = false, tests?: string) =>
    this.call<FlowResource & { connections?: ImportedConnection[]; tests?: string[] }>('POST', `/flows/import${overwrite ? '?overwrite=true' : ''}`, {
      text,
      ...(format ? { format } : {}),
      ...(tests ? { tests } : {}),
    });

  preview = (id: string, body: { document?: FlowDoc; limit?: number; sample?: number; socketId?: string }) =>
    this.call<{ previewId: string }>('POST', `/flows/${enc(id)}/preview`, body as Json);
  deploy = (id: string, body: { version?: number; fromStart?: boolean } = {}) =>
    this.call<{ status: DeployState }>('POST', `/flows/${enc(id)}/deploy`, body);
  control = (id: string, action: 'stop' | 'pause' | 'resume') => this.call<{ status: DeployState }>('POST', `/flows/${enc(id)}/${action}`, {});
  status = (id: string) => this.call<DeployStatus>('GET', `/flows/${enc(id)}/status`);
  deployments = () => this.call<DeployStatus[]>('GET', '/deployments');
  deadLetters = (id: string, q: { node?: string; error?: string; limit?: number } = {}) => {
    const params = new URLSearchParams(Object.entries(q).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => [k, String(v)]));
    return this.call<DeadLetter[]>('GET', `/flows/${enc(id)}/dead-letters${params.size ? `?${params}` : ''}`);
  };
  replayDeadLetters = (id: string, ids: number[]) => this.call<ReplayAnswer>('POST', `/flows/${enc(id)}/dead-letters/replay`, { ids });
  discardDeadLetters = (id: string, ids: number[]) => this.call<{ discarded: number }>('POST', `/flows/${enc(id)}/dead-letters/discard`, { ids });
  flowTests = (id: string) => this.call<FlowTestInfo[]>('GET', `/flows/${enc(id)}/tests`);
  saveFlowTest = (id: string, test: FlowTestBody) => this.call<{ name: string; created: boolean }>('POST', `/flows/${enc(id)}/tests`, test as unknown as Json);
  deleteFlowTest = (id: string, name: string) => this.call<void>('DELETE', `/flows/${enc(id)}/tests/${enc(name)}`);
  runFlowTests = (id: string, names?: string[]) => this.call<TestRunAnswer>('POST', `/flows/${enc(id)}/tests/run`, names ? { names } : {});
  schedule = (id: string) => this.call<ScheduleView>('GET', `/flows/${enc(id)}/schedule`);
  positions = (id: string) => this.call<Positions>('GET', `/flows/${enc(id)}/positions`);
  setPositions = (id: string, body: PositionChangeRequest & { dryRun?: boolean }) =>
    this.call<PositionChangeAnswer>('PUT', `/flows/${enc(id)}/positions`, body as unknown as Json);
  cluster = () => this.call<ClusterView>('GET', '/cluster');

  connections = () => this.call<Connection[]>('GET', '/connections');
  connectionTypes = () => this.call<ConnectionType[]>('GET', '/connection-types');
  createConnection = (c: Omit<Connection, 'id'>) => this.call<Connection>('POST', '/connections', c);
  updateConnection = (id: string, c: Omit<Connection, 'id'>) => this.call<Connection>('PUT', `/connections/${enc(id)}`, c);
  deleteConnection = (id: string) => this.call<void>('DELETE', `/connections/${enc(id)}`);
  testConnection = (id: string) => this.call<ConnectionTest>('POST', `/connections/${enc(id)}/test`, {});

  /** the one socket.io connection, opened on first use; resolves once connected (its id is needed) */
  socket(): Promise<Socket<ServerEvents, ClientEvents>> {
    this.socketPromise ??= new Promise((resolve) => {
      const s: Socket<ServerEvents, ClientEvents> = io(this.base || undefined, { transports: ['websocket', 'polling'], withCredentials: true });
      if (s.connected) resolve(s);
      else s.once('connect', () => resolve(s));
    });
    return this.socketPromise;
  }
}
