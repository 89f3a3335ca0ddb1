/**
 * One Sluice server: the express app and socket.io on one HTTP server, over the store and the
 * deployment manager it is handed (main.ts builds those from the data directory; tests build their own).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import { Server as SocketServer } from 'socket.io';
import type { DeploymentManager } from '../runtime/deploy/manager.js';
import type { NodeRegistry } from '../runtime/registry.js';
import { createApp } from './app.js';
import type { SecretFieldsByType } from './connections.js';
import type { AppContext } from './context.js';
import { DeployService } from './deployments.js';
import { answerClientError } from './http-errors.js';
import { silentLog, type ServerLog } from './log.js';
import { PreviewService } from './previews.js';
import { attachSockets } from './sockets.js';
import type { ControlStore } from './store/control-store.js';

export interface ServerDeps {
  registry: NodeRegistry;
  store: ControlStore;
  manager: DeploymentManager;
  secretFields?: SecretFieldsByType;
  /** default: process.env */
  env?: Record<string, string | undefined>;
  /** default: process.cwd() */
  cwd?: string;
  log?: ServerLog;
  version?: string;
  editorDir?: string;
  /** test runs at once (default 4) */
  maxPreviews?: number;
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
  const log = deps.log ?? silentLog;
  const cwd = deps.cwd ?? process.cwd();
  const env = deps.env ?? process.env;
  const context: AppContext = {
    registry: deps.registry,
    store: deps.store,
    manager: deps.manager,
    deployments: new DeployService({ store: deps.store, manager: deps.manager, registry: deps.registry, env, log }),
    previews: new PreviewService({ cwd, maxConcurrent: deps.maxPreviews }),
    secretFields: deps.secretFields ?? {},
    env,
    cwd,
    log,
    version: deps.version ?? '0.0.0',
    startedAt: Date.now(),
    editorDir: deps.editorDir,
  };
  const app = createApp(context);
  const http = createServer(app);
  http.on('clientError', answerClientError);
  const io = new SocketServer(http, { serveClient: false });
  const detach = attachSockets(io, context);
  // flows' log lines go to the server's log too, for whoever runs it
  const offLog = deps.manager.onLog((l) => log[l.level](`flow ${l.flowId}: ${l.message}`));

  return {
    app,
    http,
    io,
    context,
    listen(port, host) {
      return new Promise((resolve, reject) => {
        http.once('error', reject);
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
      context.deployments.close();
      offLog();
      detach();
      await new Promise<void>((r) => io.close(() => r()));
      http.closeAllConnections();
      await closed;
    },
  };
}
