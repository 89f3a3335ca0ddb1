/**
 * Deploy, pause, resume and stop as the HTTP API means them: a saved flow version is compiled and
 * handed to the runtime's DeploymentManager, and what the user asked for is recorded in the store so
 * a restarted server resumes the flows that were running (and keeps paused ones paused).
 */
import { compileFlow } from '../runtime/flow/compile.js';
import { quoteShort } from '../runtime/flow/limits.js';
import type { Deployments, DeploymentStatus } from '../runtime/deploy/manager.js';
import type { HostPolicy } from '../runtime/host-policy.js';
import type { NodeRegistry } from '../runtime/registry.js';
import { errorMessage } from '../runtime/errors.js';
import { withStoredSecrets } from './policy.js';
import { describeMissing, incompleteConnections, withStoredConnections } from './connections.js';
import { conflict, notFound } from './http-errors.js';
import type { ServerLog } from './log.js';
import type { ControlStore } from './store/control-store.js';

export interface DeployServiceDeps {
  store: ControlStore;
  manager: Deployments;
  registry: NodeRegistry;
  env: Record<string, string | undefined>;
  /** what the flows may reach (server/policy.ts); `{}` only where everything may be reached (tests) */
  policy: HostPolicy;
  log: ServerLog;
}

export class DeployService {
  private readonly unwatch: () => void;

  constructor(private readonly deps: DeployServiceDeps) {
    // a flow that ended on its own (its input ended, or it failed) is not restarted with the server
    this.unwatch = deps.manager.onStatus((s) => {
      if (s.status === 'completed' || s.status === 'failed') deps.store.setDeploymentState(s.flowId, 'stopped');
    });
  }

  /** the saved version (latest by default), compiled; 404 / 400 (FlowValidationError) otherwise */
  private compile(flowId: string, version?: number) {
    const flow = this.deps.store.getFlow(flowId, version);
    if (!flow) {
      const latest = this.deps.store.getFlow(flowId);
      throw notFound(latest ? `flow ${quoteShort(flowId)} has no version ${version} (the latest is ${latest.version})` : `no flow named ${quoteShort(flowId)}`);
    }
    this.refuseIncomplete(flowId, flow.document);
    const doc = withStoredConnections(flow.document, this.deps.store.listConnections());
    return { version: flow.version, plan: compileFlow(doc, this.deps.registry, { env: this.deps.env, policy: withStoredSecrets(this.deps.policy) }) };
  }

  /** 409 when a stored connection the flow uses still lacks a secret (imported without it: server/flow-import.ts) */
  private refuseIncomplete(flowId: string, doc: Record<string, unknown>): void {
    const { store, registry, env, policy } = this.deps;
    const incomplete = incompleteConnections(doc, (name) => store.getConnection(name), registry, env, policy.env).map(({ name, missing }) => ({ name, missing }));
    if (incomplete.length === 0) return;
    const one = incomplete.length === 1;
    throw conflict(
      `flow ${flowId} uses ${one ? 'an incomplete connection' : 'incomplete connections'}: ${incomplete.map((c) => describeMissing(c.name, c.missing)).join('; ')}: complete ${one ? 'it' : 'them'} with the secret (the editor's Connections, or PUT /api/connections/NAME), or set the variable where the server starts`,
      { connections: incomplete },
    );
  }

  async deploy(flowId: string, opts: { version?: number; fromStart?: boolean } = {}): Promise<DeploymentStatus> {
    const { version, plan } = this.compile(flowId, opts.version);
    // recorded first: a flow that fails at once must end up recorded as stopped by the watcher, not running
    this.deps.store.setDeployment(flowId, version, 'running');
    return this.deps.manager.deploy(flowId, plan, { version, fromStart: opts.fromStart });
  }

  async stop(flowId: string): Promise<DeploymentStatus> {
    const status = await this.deps.manager.stop(flowId);
    this.deps.store.setDeploymentState(flowId, 'stopped');
    return status;
  }

  pause(flowId: string): DeploymentStatus {
    const status = this.deps.manager.pause(flowId);
    this.deps.store.setDeploymentState(flowId, 'paused');
    return status;
  }

  resume(flowId: string): DeploymentStatus {
    const status = this.deps.manager.resume(flowId);
    this.deps.store.setDeploymentState(flowId, 'running');
    return status;
  }

  /**
   * On start: deploys again what was running (or paused) when the server last stopped. A deployment
   * that cannot be restored is marked failed with the reason and recorded as stopped, so it is not
   * tried again at every start; the server comes up whatever its flows do.
   */
  async restore(): Promise<void> {
    for (const d of this.deps.store.deployments()) {
      if (d.state === 'stopped') continue;
      try {
        const { plan } = this.compile(d.flowId, d.version);
        await this.deps.manager.deploy(d.flowId, plan, { version: d.version, paused: d.state === 'paused' });
        this.deps.log.info(`restored deployment of ${d.flowId} version ${d.version} (${d.state})`);
      } catch (err) {
        const reason = `could not be restored at server start: ${errorMessage(err)}`;
        this.deps.log.error(`deployment of ${d.flowId} version ${d.version} ${reason}`);
        this.deps.store.setDeploymentState(d.flowId, 'stopped');
        this.deps.manager.recordFailedStart(d.flowId, d.version, reason);
      }
    }
  }

  close(): void {
    this.unwatch();
  }
}
