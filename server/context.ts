/** What the HTTP and socket.io layers are built from: every dependency handed in, no module singletons. */
import type { Deployments, HostPolicy, NodeRegistry, RunMetrics } from '../runtime/host.js';
import type { AuthService } from './auth/service.js';
import type { DeployService } from './deployments.js';
import type { ServerLog } from './log.js';
import type { PreviewService } from './previews.js';
import type { ControlStore } from './store/control-store.js';

export interface AppContext {
  registry: NodeRegistry;
  store: ControlStore;
  /** sessions, keys, sign-in and its limits, the setup link (over store.auth) */
  auth: AuthService;
  manager: Deployments;
  deployments: DeployService;
  previews: PreviewService;
  /** what `${env:NAME}` in flows resolves against */
  env: Record<string, string | undefined>;
  /** what flows may reach: files inside the roots only, allowed env names only (server/policy.ts) */
  policy: HostPolicy;
  /** relative paths in flows and connections resolve against it */
  cwd: string;
  log: ServerLog;
  /** masks URL passwords and the stored secret values in a message (runtime/redact.ts) */
  redact(text: string): string;
  /** Sluice's version, for /api/health */
  version: string;
  startedAt: number;
  /** the built editor (index.html and assets); served when it exists */
  editorDir?: string;
  /** GET /metrics: the deployments' counts, states and durations, and the process's */
  metrics: RunMetrics;
  /** cluster mode: the agents, the leader, each flow's agent and lease (GET /api/cluster) */
  cluster?: () => Promise<unknown>;
}

export const iso = (ms: number) => new Date(ms).toISOString();
