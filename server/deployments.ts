/**
 * Deploy, pause, resume and stop as the HTTP API means them: a saved flow version is compiled and
 * handed to the runtime's DeploymentManager, and what the user asked for is recorded in the store so
 * a restarted server resumes the flows that were running (and keeps paused ones paused).
 */
import {
  changeNote,
  compileFlow,
  type CompiledFlow,
  type Deployments,
  type DeploymentStatus,
  errorMessage,
  type HostPolicy,
  type NodeRegistry,
  planPositionChange,
  type PositionChangeRequest,
  type PositionNode,
  positionsView,
  type PositionsView,
  quoteShort,
  replayDeadLetters,
  type ReplayResult,
  ScheduledFlow,
  type ScheduleView,
} from '../runtime/host.js';
import { withStoredSecrets } from './policy.js';
import { describeMissing, incompleteConnections, withStoredConnections } from './connections.js';
import { conflict, notFound } from './http-errors.js';
import type { ServerLog } from './log.js';
import type { ControlStore, StoredConnection } from './store/control-store.js';

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
  /** the store's deployment records are written one after the other, in the order they were asked */
  private writes: Promise<unknown> = Promise.resolve();
  /** deployed flows with `settings.schedule`: they run at its times, not once */
  private readonly schedules = new Map<string, ScheduledFlow>();

  constructor(private readonly deps: DeployServiceDeps) {
    // a flow that ended on its own (its input ended, or it failed) is not restarted with the server,
    // unless it runs on a schedule: then the run ended, not the deployment
    this.unwatch = deps.manager.onStatus((s) => {
      const scheduled = this.schedules.get(s.flowId);
      if (scheduled) return scheduled.observe(s);
      if (s.status === 'completed' || s.status === 'failed') {
        this.record((store) => store.setDeploymentState(s.flowId, 'stopped')).catch((err: unknown) =>
          deps.log.error(`could not record that ${s.flowId} ${s.status === 'failed' ? 'failed' : 'completed'}: ${errorMessage(err)} (it may be started again with the server)`),
        );
      }
    });
  }

  private record(write: (store: ControlStore) => Promise<void>): Promise<void> {
    const done = this.writes.then(() => write(this.deps.store));
    this.writes = done.catch(() => undefined);
    return done;
  }

  /** the saved version (latest by default), compiled; 404 / 400 (FlowValidationError) otherwise */
  private async compile(flowId: string, version?: number) {
    const flow = await this.deps.store.getFlow(flowId, version);
    if (!flow) {
      const latest = await this.deps.store.getFlow(flowId);
      throw notFound(latest ? `flow ${quoteShort(flowId)} has no version ${version} (the latest is ${latest.version})` : `no flow named ${quoteShort(flowId)}`);
    }
    const connections = await this.deps.store.listConnections();
    this.refuseIncomplete(flowId, flow.document, connections);
    const doc = withStoredConnections(flow.document, connections);
    return { version: flow.version, plan: compileFlow(doc, this.deps.registry, { env: this.deps.env, policy: withStoredSecrets(this.deps.policy) }) };
  }

  /** 409 when a stored connection the flow uses still lacks a secret (imported without it: server/flow-import.ts) */
  private refuseIncomplete(flowId: string, doc: Record<string, unknown>, connections: StoredConnection[]): void {
    const { registry, env, policy } = this.deps;
    const incomplete = incompleteConnections(doc, (name) => connections.find((c) => c.id === name), registry, env, policy.env).map(({ name, missing }) => ({ name, missing }));
    if (incomplete.length === 0) return;
    const one = incomplete.length === 1;
    throw conflict(
      `flow ${flowId} uses ${one ? 'an incomplete connection' : 'incomplete connections'}: ${incomplete.map((c) => describeMissing(c.name, c.missing)).join('; ')}: complete ${one ? 'it' : 'them'} with the secret (the editor's Connections, or PUT /api/connections/NAME), or set the variable where the server starts`,
      { connections: incomplete },
    );
  }

  async deploy(flowId: string, opts: { version?: number; fromStart?: boolean } = {}): Promise<DeploymentStatus> {
    const { version, plan } = await this.compile(flowId, opts.version);
    // recorded first: a flow that fails at once must end up recorded as stopped by the watcher, not running
    await this.record((store) => store.setDeployment(flowId, version, 'running'));
    this.unschedule(flowId);
    if (plan.flow.settings.schedule) {
      if (this.deps.manager.isActive(flowId)) await this.deps.manager.stop(flowId);
      if (opts.fromStart) await this.deps.manager.checkpoints.reset(flowId);
      this.schedule(flowId, version, plan);
      return this.deps.manager.status(flowId);
    }
    return this.deps.manager.deploy(flowId, plan, { version, fromStart: opts.fromStart });
  }

  /** the schedule of a flow deployed on one: next start times and the newest runs */
  scheduleOf(flowId: string): ScheduleView {
    const s = this.schedules.get(flowId);
    if (!s) throw notFound(`flow ${quoteShort(flowId)} is not deployed on a schedule (settings.schedule, then deploy)`);
    return s.view();
  }

  private schedule(flowId: string, version: number, plan: CompiledFlow, paused = false): void {
    const schedule = plan.flow.settings.schedule!;
    const manager = this.deps.manager;
    const scheduled = new ScheduledFlow({
      flowId,
      schedule,
      paused,
      sinks: plan.nodes.filter((n) => n.type.outputs.length === 0).map((n) => n.id),
      busy: () => manager.isActive(flowId),
      start: async () => {
        // compiled at each run: a stored connection changed since is taken
        const { plan: now } = await this.compile(flowId, version);
        await manager.deploy(flowId, now, { version, fromStart: schedule.from === 'start' });
      },
      // in the flow's own log, which the editor shows
      log: { info: (m) => manager.note(flowId, 'info', m), warn: (m) => manager.note(flowId, 'warn', m), error: (m) => manager.note(flowId, 'error', m) },
      history: { record: (run) => manager.checkpoints.recordScheduledRun(flowId, run), load: (limit) => manager.checkpoints.scheduledRuns(flowId, limit) },
    });
    this.schedules.set(flowId, scheduled);
    void scheduled.restore();
    manager.note(flowId, 'info', `version ${version} runs on the schedule ${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : ''}; next at ${scheduled.view(1).next[0] ?? 'never'}`);
  }

  private unschedule(flowId: string): boolean {
    const s = this.schedules.get(flowId);
    s?.stop();
    return this.schedules.delete(flowId);
  }

  async stop(flowId: string): Promise<DeploymentStatus> {
    // a scheduled flow between runs has nothing running to stop
    const status = this.unschedule(flowId) && !this.deps.manager.isActive(flowId) ? this.deps.manager.status(flowId) : await this.deps.manager.stop(flowId);
    await this.record((store) => store.setDeploymentState(flowId, 'stopped'));
    return status;
  }

  async pause(flowId: string): Promise<DeploymentStatus> {
    const scheduled = this.schedules.get(flowId);
    scheduled?.pause();
    const status = scheduled && !this.deps.manager.isActive(flowId) ? this.deps.manager.status(flowId) : this.deps.manager.pause(flowId);
    await this.record((store) => store.setDeploymentState(flowId, 'paused'));
    return status;
  }

  async resume(flowId: string): Promise<DeploymentStatus> {
    const scheduled = this.schedules.get(flowId);
    scheduled?.resume();
    const status = scheduled && !this.deps.manager.isActive(flowId) ? this.deps.manager.status(flowId) : this.deps.manager.resume(flowId);
    await this.record((store) => store.setDeploymentState(flowId, 'running'));
    return status;
  }

  /** the committed position of each source of the flow, in words, and their history */
  async positions(flowId: string, historyLimit = 20): Promise<PositionsView & { status: string }> {
    const status = this.deps.manager.status(flowId);
    const nodes = await this.nodesOf(flowId, status.version);
    const store = this.deps.manager.checkpoints;
    const [checkpoint, history] = await Promise.all([store.load(flowId), store.history(flowId, historyLimit)]);
    return { ...positionsView(flowId, nodes, checkpoint, history), status: status.status };
  }

  /**
   * Sets positions by hand: on a flow that does not run, or a paused one (stopped so that it commits, then
   * started again paused from the new positions). `dryRun` only says what the change would replay or skip.
   */
  async setPositions(flowId: string, request: PositionChangeRequest & { dryRun?: boolean }, by: string) {
    const status = this.deps.manager.status(flowId);
    if (status.status === 'starting' || status.status === 'running' || status.status === 'stopping') {
      throw conflict(`flow ${flowId} is ${status.status}: pause or stop it before changing its positions`);
    }
    const nodes = await this.nodesOf(flowId, status.version);
    const store = this.deps.manager.checkpoints;
    const preview = planPositionChange(nodes, await store.load(flowId), request);
    if (request.dryRun) return { applied: false, changes: preview.changes, warnings: preview.warnings };
    const paused = status.status === 'paused';
    if (paused) await this.deps.manager.stop(flowId);
    // planned again on what the stop committed, which is what the change now replaces
    const plan = planPositionChange(nodes, await store.load(flowId), request);
    await store.rewrite(flowId, plan.checkpoint, changeNote(by, plan, request.resetState));
    if (paused) {
      const { version, plan: compiled } = await this.compile(flowId, status.version);
      await this.deps.manager.deploy(flowId, compiled, { version, paused: true });
    }
    this.deps.log.info(`positions of ${flowId} ${changeNote(by, plan, request.resetState)}`);
    return { applied: true, changes: plan.changes, warnings: plan.warnings };
  }

  /**
   * Replays the dead letters `ids` of the flow through the version deployed (else the latest saved),
   * each from the node it failed in; the replayed letters are removed, records that fail again are new
   * dead letters. Ids that are not (or no longer) there are answered in `missing`.
   */
  async replayDeadLetters(flowId: string, ids: number[]): Promise<ReplayResult & { missing: number[] }> {
    const store = this.deps.manager.checkpoints;
    const letters = await store.deadLetters(flowId, ids.length, { ids });
    const missing = ids.filter((id) => !letters.some((l) => l.id === id));
    if (letters.length === 0) return { replayed: 0, failedAgain: 0, status: 'completed', missing };
    const { plan } = await this.compile(flowId, this.deps.manager.status(flowId).version);
    const result = await replayDeadLetters(plan, letters, store, { cwd: process.cwd() });
    this.deps.log.info(`replayed ${result.replayed} dead letters of ${flowId}: ${result.failedAgain} failed again`);
    return { ...result, missing };
  }

  /** removes the dead letters `ids` of the flow without replaying them */
  async discardDeadLetters(flowId: string, ids: number[]): Promise<{ discarded: number }> {
    return { discarded: await this.deps.manager.checkpoints.discardDeadLetters(flowId, ids) };
  }

  /** the nodes of the version deployed (else the latest saved), with their types */
  private async nodesOf(flowId: string, version: number | undefined): Promise<PositionNode[]> {
    const flow = (version !== undefined ? await this.deps.store.getFlow(flowId, version) : undefined) ?? (await this.deps.store.getFlow(flowId));
    if (!flow) throw notFound(`no flow named ${quoteShort(flowId)}`);
    const listed = Array.isArray(flow.document.nodes) ? (flow.document.nodes as { id?: unknown; type?: unknown }[]) : [];
    const out: PositionNode[] = [];
    for (const n of listed) {
      const type = typeof n.type === 'string' ? this.deps.registry.get(n.type) : undefined;
      if (typeof n.id === 'string' && type) out.push({ id: n.id, type });
    }
    return out;
  }

  /**
   * On start: deploys again what was running (or paused) when the server last stopped. A deployment
   * that cannot be restored is marked failed with the reason and recorded as stopped, so it is not
   * tried again at every start; the server comes up whatever its flows do.
   */
  async restore(): Promise<void> {
    for (const d of await this.deps.store.deployments()) {
      if (d.state === 'stopped') continue;
      try {
        const { plan } = await this.compile(d.flowId, d.version);
        if (plan.flow.settings.schedule) this.schedule(d.flowId, d.version, plan, d.state === 'paused');
        else await this.deps.manager.deploy(d.flowId, plan, { version: d.version, paused: d.state === 'paused' });
        this.deps.log.info(`restored deployment of ${d.flowId} version ${d.version} (${d.state})`);
      } catch (err) {
        const reason = `could not be restored at server start: ${errorMessage(err)}`;
        this.deps.log.error(`deployment of ${d.flowId} version ${d.version} ${reason}`);
        await this.record((store) => store.setDeploymentState(d.flowId, 'stopped'));
        this.deps.manager.recordFailedStart(d.flowId, d.version, reason);
      }
    }
  }

  /** stops watching; resolves when the records asked for so far are written */
  async close(): Promise<void> {
    for (const id of [...this.schedules.keys()]) this.unschedule(id);
    this.unwatch();
    await this.writes;
  }
}
