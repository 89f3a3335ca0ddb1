/**
 * One Sluice server: the express app and socket.io on one HTTP server, over the store and the
 * deployment manager it is handed (main.ts builds those from the data directory; tests build their own).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { Server as SocketServer } from 'socket.io';
import { DEFAULT_ENV_PREFIX, type Deployments, FileRoots, type HostPolicy, type NodeRegistry, redactText, RunMetrics } from '../runtime/host.js';
import { createApp } from './app.js';
import { isLoopbackAddress, siteOf } from './auth/site.js';
import { AuthService, DEFAULT_LIMITS, type AuthLimits } from './auth/service.js';
import type { AppContext } from './context.js';
import { DeployService } from './deployments.js';
import { answerClientError } from './http-errors.js';
import { redactingLog, silentLog, type ServerLog } from './log.js';
import { PreviewService } from './previews.js';
import { attachSockets, handshakeCheck } from './sockets.js';
import type { ControlStore } from './store/control-store.js';

export interface ServerDeps {
  registry: NodeRegistry;
  store: ControlStore;
  manager: Deployments;
  /** default: process.env */
  env?: Record<string, string | undefined>;
  /** default: process.cwd() */
  cwd?: string;
  /** what flows may reach (server/policy.ts builds it from the flags); default: files in `cwd` only, SLUICE_FLOW_* env names */
  policy?: HostPolicy;
  log?: ServerLog;
  version?: string;
  editorDir?: string;
  /** test runs at once (default 4) */
  maxPreviews?: number;
  /** sign-in failures and requests per principal allowed (defaults: auth/service.ts DEFAULT_LIMITS) */
  authLimits?: Partial<AuthLimits>;
  /** express's `trust proxy`, for a server behind a reverse proxy */
  trustProxy?: boolean | string;
  /** the URLs a reverse proxy serves it at (https://sluice.example.com): accepted as Host and Origin */
  publicUrls?: string[];
  /** how often open sockets are checked for an ended session or a revoked key (default 30 s) */
  socketRecheckMs?: number;
  /** cluster mode: what GET /api/cluster answers */
  cluster?: () => Promise<unknown>;
}

export interface SluiceServer {
  app: Express;
  http: HttpServer;
  io: SocketServer;
  context: AppContext;
  listen(port: number, host: string): Promise<AddressInfo>;
  /** stops accepting, stops test runs and deployments (they commit), closes sockets; stores stay open */
  close(): Promise<void>;
}

export function createSluiceServer(deps: ServerDeps): SluiceServer {
  // every line the server logs, and every error it answers, has the stored secrets (and URL passwords) masked
  const known = () => deps.store.secretValues();
  const log = redactingLog(deps.log ?? silentLog, known);
  const cwd = deps.cwd ?? process.cwd();
  const env = deps.env ?? process.env;
  const policy = deps.policy ?? { files: new FileRoots({ roots: [cwd] }), env: { prefixes: [DEFAULT_ENV_PREFIX], allow: [] }, inlineSecrets: 'refuse' };
  const context: AppContext = {
    registry: deps.registry,
    store: deps.store,
    auth: new AuthService(deps.store.auth, { ...DEFAULT_LIMITS, ...deps.authLimits }),
    manager: deps.manager,
    deployments: new DeployService({ store: deps.store, manager: deps.manager, registry: deps.registry, env, policy, log }),
    previews: new PreviewService({ cwd, maxConcurrent: deps.maxPreviews, redact: (text) => redactText(text, known()) }),
    env,
    policy,
    cwd,
    log,
    redact: (text) => redactText(text, known()),
    version: deps.version ?? '0.0.0',
    startedAt: Date.now(),
    editorDir: deps.editorDir,
    cluster: deps.cluster,
    // the manager's own in single mode (with queues and durations); in cluster mode the states and counts the control plane sees
    metrics: deps.manager.metrics ?? new RunMetrics(() => deps.manager.list()),
  };
  context.metrics.collectProcessMetrics();
  let loopbackOnly = false;
  const site = siteOf(deps.publicUrls ?? [], () => loopbackOnly);
  const app = createApp(context, { site, trustProxy: deps.trustProxy });
  const http = createServer(app);
  http.on('clientError', answerClientError);
  const io = new SocketServer(http, { serveClient: false, allowRequest: handshakeCheck(site) });
  const detach = attachSockets(io, context, deps.socketRecheckMs);
  // flows' log lines go to the server's log too, for whoever runs it
  const offLog = deps.manager.onLog((l) => log[l.level](`flow ${l.flowId}: ${l.message}`, { flow: l.flowId, node: l.node, deployment: l.deployment }));

  return {
    app,
    http,
    io,
    context,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
        loopbackOnly = isLoopbackAddress(host);
        http.listen(port, host, () => {
          http.off('error', reject);
          resolve(http.address() as AddressInfo);
        });
      });
    },
    async close() {
      const closed = new Promise<void>((r) => http.close(() => r()));
      await context.previews.stopAll();
      await context.manager.stopAll();
      await context.deployments.close();
      offLog();
      detach();
      await new Promise<void>((r) => io.close(() => r()));
      http.closeAllConnections();
      await closed;
    },
  };
}
