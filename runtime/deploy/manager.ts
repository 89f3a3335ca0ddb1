/**
 * Deployments in single mode: the flows this process runs continuously, one FlowRun each, with the
 * SQLite checkpoint store and leases (so one flow never runs twice at once), a bounded log per flow,
 * and a live status (counts, records/s per node) pushed to listeners about twice a second while a flow
 * runs and on every change. Plain methods, no HTTP: the server is a thin adapter over this.
 */
import { randomUUID } from 'node:crypto';
import { EndpointRegistry } from './endpoints.js';
import { UserError, errorMessage } from '../errors.js';
import { FlowRun } from '../executor/flow-run.js';
import type { NodeStats, RunStatus, RunSummary } from '../executor/run-summary.js';
import type { CompiledFlow } from '../flow/compile.js';
import { InProcessLockService, type LockService } from '../lock/lock.js';
import type { LogFields, Logger } from '../node-api.js';
import type { CheckpointStore } from '../state/checkpoint-store.js';
import { countingDeadLetters } from '../state/counting-store.js';
import { LogRing, type LogLevel, type LogLine } from './log-ring.js';
import { redactText } from '../redact.js';
import { RateMeter } from './rates.js';
import type { DeploymentStatus, NodeStatus } from './status.js';
import { RunMetrics } from '../metrics/run-metrics.js';

export type { LogLine, LogLevel } from './log-ring.js';

export type { DeploymentState, DeploymentStatus, NodeStatus, SourceStatus } from './status.js';

export interface DeployOptions {
  version?: number;
  /** forget committed positions and state first */
  fromStart?: boolean;
  /** pause as soon as the flow has started (a restored paused deployment) */
  paused?: boolean;
}

export interface DeploymentManagerOptions {
  store: CheckpointStore;
  /** default: leases within this process, tokens that grow across restarts */
  locks?: LockService;
  /** how long a flow's lease lasts unrenewed, ms (default: the executor's, 30 s) */
  leaseTtlMs?: number;
  /** relative paths in flows resolve against it */
  cwd?: string;
  /** masks secrets in flow log lines (default: URL passwords; the server adds its stored secret values) */
  redact?: (text: string) => string;
  /** log lines kept per flow (default 500) */
  logCapacity?: number;
  /** how often listeners get the status of a running flow, ms (default 500) */
  statusIntervalMs?: number;
  /** where the manager reports its own troubles (a listener that threw) */
  log?: Logger;
  /** the Prometheus metrics its runs report to (default: its own) */
  metrics?: RunMetrics;
}

/**
 * What the server asks of the deployments, wherever they run: this process's DeploymentManager in
 * single mode, the cluster's control plane (runtime/cluster/control.ts) with `--cluster`.
 */
export type Deployments = Pick<
  DeploymentManager,
  'onStatus' | 'onLog' | 'deploy' | 'recordFailedStart' | 'stop' | 'pause' | 'resume' | 'stopAll' | 'forget' | 'isActive' | 'status' | 'list' | 'logTail' | 'checkpoints' | 'note'
> & {
  /** the webhook endpoints of the flows this process runs (http.source); none in cluster mode, where agents run them */
  readonly endpoints?: EndpointRegistry;
  /** the metrics of the flows this process runs; none in cluster mode, where agents run them */
  readonly metrics?: RunMetrics;
};

/** pause/resume/stop of a flow that is not deployed, or not in a state that allows it (HTTP 409) */
export class DeploymentStateError extends UserError {
  override name = 'DeploymentStateError';
}

type Listener<T> = (value: T) => void;

interface Deployment {
  flowId: string;
  /** one start of the flow, in its log lines */
  id: string;
  version?: number;
  run: FlowRun;
  done: Promise<void>;
  startedAt: number;
  endedAt?: number;
  summary?: RunSummary;
  meter: RateMeter;
  deadLetters: number;
  pendingPause: boolean;
}

const ACTIVE: ReadonlySet<RunStatus> = new Set(['starting', 'running', 'paused', 'stopping']);

export class DeploymentManager {
  private readonly deployments = new Map<string, Deployment>();
  /** flows that could not even be started (a restore at server start that failed), by flow id */
  private readonly failedStarts = new Map<string, DeploymentStatus>();
  private readonly logs = new Map<string, LogRing>();
  private readonly statusListeners = new Set<Listener<DeploymentStatus>>();
  private readonly logListeners = new Set<Listener<LogLine>>();
  /** deploy/stop of one flow run one at a time */
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly locks: LockService;
  private ticker?: NodeJS.Timeout;

  /** the webhook endpoints of the flows it runs (http.source), served by the server at /hooks/FLOW/NODE */
  readonly endpoints = new EndpointRegistry();

  /** counts, states, queues and durations of its deployments, for GET /metrics */
  readonly metrics: RunMetrics;

  constructor(private readonly options: DeploymentManagerOptions) {
    this.locks = options.locks ?? new InProcessLockService();
    this.metrics = options.metrics ?? new RunMetrics();
    this.metrics.readFrom(() => this.list());
  }

  // ---- listeners -------------------------------------------------------------------------------

  /** every status change, and the status of each running flow every statusIntervalMs; returns an unsubscribe */
  onStatus(listener: Listener<DeploymentStatus>): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** every log line of every flow; returns an unsubscribe */
  onLog(listener: Listener<LogLine>): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  // ---- commands --------------------------------------------------------------------------------

  /**
   * Starts `plan` as the deployment of `flowId` (which must be the flow's name: positions and leases
   * are kept under it). An active deployment of another version, or any with `fromStart`, is stopped
   * first (so it commits); the same version already active is left alone.
   */
  deploy(flowId: string, plan: CompiledFlow, opts: DeployOptions = {}): Promise<DeploymentStatus> {
    if (plan.flow.name !== flowId) throw new Error(`deploy: flow id ${flowId} differs from the flow's name ${plan.flow.name}`);
    return this.exclusive(flowId, async () => {
      const current = this.deployments.get(flowId);
      if (current && isActive(current)) {
        if (current.version === opts.version && !opts.fromStart) return this.status(flowId);
        this.logLine(flowId, 'info', `stopping version ${current.version ?? '?'} to deploy version ${opts.version ?? '?'}`);
        await this.halt(current);
      }
      this.start(flowId, plan, opts);
      return this.status(flowId);
    });
  }

  /**
   * Records that `flowId` could not be started (its saved version no longer compiles, say, when a
   * restarted server restores it): its status is failed with `error` until it is deployed again.
   */
  recordFailedStart(flowId: string, version: number | undefined, error: string): DeploymentStatus {
    const at = new Date().toISOString();
    const status: DeploymentStatus = { flowId, status: 'failed', version, startedAt: at, endedAt: at, nodes: {}, edges: [], deadLetters: 0, error };
    this.failedStarts.set(flowId, status);
    this.logLine(flowId, 'error', error);
    for (const l of this.statusListeners) this.safely(() => l(status));
    return status;
  }

  /** stops the flow (batches in flight finish and commit) and answers once it has ended */
  stop(flowId: string): Promise<DeploymentStatus> {
    return this.exclusive(flowId, async () => {
      const d = this.deployments.get(flowId);
      if (!d) throw notDeployed(flowId);
      if (isActive(d)) await this.halt(d);
      return this.status(flowId);
    });
  }

  pause(flowId: string): DeploymentStatus {
    const d = this.active(flowId, 'pause');
    const status = d.run.status;
    if (status === 'starting') {
      d.pendingPause = true;
      void this.pauseOnceRunning(d);
    } else if (status === 'running') {
      d.run.pause();
      this.logLine(flowId, 'info', 'paused');
      this.emit(d);
    } else if (status !== 'paused') throw new DeploymentStateError(`flow ${flowId} is ${status}: it cannot be paused`);
    return this.status(flowId);
  }

  resume(flowId: string): DeploymentStatus {
    const d = this.active(flowId, 'resume');
    d.pendingPause = false;
    const status = d.run.status;
    if (status === 'paused') {
      d.run.resume();
      this.logLine(flowId, 'info', 'resumed');
      this.emit(d);
    } else if (status === 'stopping') throw new DeploymentStateError(`flow ${flowId} is stopping: it cannot be resumed`);
    return this.status(flowId);
  }

  /** stops every active deployment (each commits); used on shutdown */
  async stopAll(): Promise<void> {
    await Promise.all([...this.deployments.values()].filter(isActive).map((d) => this.stop(d.flowId)));
  }

  /** drops what is kept about a flow that is deleted: its last status, its log and its committed positions */
  async forget(flowId: string): Promise<void> {
    const d = this.deployments.get(flowId);
    if (d && isActive(d)) throw new DeploymentStateError(`flow ${flowId} is ${d.run.status}: stop it first`);
    this.deployments.delete(flowId);
    this.failedStarts.delete(flowId);
    this.logs.delete(flowId);
    this.metrics.forget(flowId);
    await this.options.store.reset(flowId);
  }

  // ---- queries ---------------------------------------------------------------------------------

  isActive(flowId: string): boolean {
    const d = this.deployments.get(flowId);
    return Boolean(d && isActive(d));
  }

  status(flowId: string): DeploymentStatus {
    const d = this.deployments.get(flowId);
    if (!d) return this.failedStarts.get(flowId) ?? { flowId, status: 'not-deployed', nodes: {}, edges: [], deadLetters: 0 };
    const s = d.summary;
    const stats = s ? s.nodes : d.run.stats();
    const rates = d.meter.sample(stats, Date.now());
    const nodes: Record<string, NodeStatus> = {};
    for (const [id, n] of Object.entries(stats)) {
      nodes[id] = { in: n.in, out: n.out, errors: n.errors, rate: Math.round(rates[id] ?? 0) };
      if (n.ops) nodes[id].ops = n.ops;
    }
    const out: DeploymentStatus = {
      flowId,
      status: s ? s.status : d.run.status,
      version: d.version,
      startedAt: new Date(d.startedAt).toISOString(),
      nodes,
      edges: s ? s.edges : d.run.edgeStats(),
      deadLetters: d.deadLetters,
    };
    const reports = s ? s.reports : d.run.reports();
    if (reports) out.reports = reports;
    const progress = s ? s.progress : d.run.progress();
    if (progress && Object.keys(progress).length > 0) out.progress = d.meter.tableRates(progress, Date.now());
    if (d.endedAt) out.endedAt = new Date(d.endedAt).toISOString();
    if (s?.error) out.error = s.error;
    if (s?.failedNode) out.failedNode = s.failedNode;
    return out;
  }

  /** the status of every flow deployed since this process started */
  list(): DeploymentStatus[] {
    return [...new Set([...this.deployments.keys(), ...this.failedStarts.keys()])].map((id) => this.status(id));
  }

  /** the newest `limit` log lines of a flow, oldest first */
  logTail(flowId: string, limit?: number): LogLine[] {
    return this.logs.get(flowId)?.tail(limit) ?? [];
  }

  /** a line in the flow's log from outside its runs (a skipped scheduled run, say) */
  note(flowId: string, level: LogLevel, message: string): void {
    this.logLine(flowId, level, message);
  }

  /** where the flows' positions and state are committed (read, and rewritten by hand while a flow is stopped) */
  get checkpoints(): CheckpointStore {
    return this.options.store;
  }

  // ---- internals -------------------------------------------------------------------------------

  private start(flowId: string, plan: CompiledFlow, opts: DeployOptions): void {
    const store = this.options.store;
    const sources = new Set(plan.nodes.filter((n) => n.inputs.length === 0).map((n) => n.id));
    const log: Logger = {
      info: (m, f) => this.logLine(flowId, 'info', m, f),
      warn: (m, f) => this.logLine(flowId, 'warn', m, f),
      error: (m, f) => this.logLine(flowId, 'error', m, f),
    };
    const d = { flowId, id: randomUUID(), version: opts.version, startedAt: Date.now(), meter: new RateMeter(sources), deadLetters: 0, pendingPause: Boolean(opts.paused) } as Deployment;
    // the manager owns the store; the run sees it through this view, which counts dead letters live
    const view = countingDeadLetters(store, (n) => (d.deadLetters += n));
    this.failedStarts.delete(flowId);
    const observer = this.metrics.watch(flowId, { queueDepths: () => d.run.queueDepths() });
    d.run = new FlowRun(plan, { startPaused: d.pendingPause, observer, store: view, locks: this.locks, leaseTtlMs: this.options.leaseTtlMs, fromStart: opts.fromStart, cwd: this.options.cwd, log, redact: this.options.redact, endpoints: this.endpoints });
    this.deployments.set(flowId, d);
    this.logLine(flowId, 'info', `deploying version ${opts.version ?? '?'}${opts.fromStart ? ' from the start' : ''}`);
    d.done = d.run.run().then(
      (summary) => this.ended(d, summary),
      (err) => this.ended(d, { flow: flowId, status: 'failed', nodes: d.run.stats(), edges: d.run.edgeStats(), durationMs: Date.now() - d.startedAt, error: errorMessage(err), positions: {}, deadLetters: d.deadLetters }),
    );
    if (d.pendingPause) void this.pauseOnceRunning(d);
    this.emit(d);
    this.startTicker();
  }

  private ended(d: Deployment, summary: RunSummary): void {
    d.summary = summary;
    d.endedAt = Date.now();
    d.meter.zero();
    const secs = ((d.endedAt - d.startedAt) / 1000).toFixed(1);
    if (summary.status === 'failed') this.logLine(d.flowId, 'error', `failed after ${secs}s${summary.failedNode ? ` in node ${summary.failedNode}` : ''}`);
    else this.logLine(d.flowId, 'info', `${summary.status} after ${secs}s`);
    this.emit(d);
  }

  private async halt(d: Deployment): Promise<void> {
    d.pendingPause = false;
    d.run.stop();
    this.emit(d); // stopping
    await d.done;
  }

  /** a pause asked while the flow was still opening its nodes takes effect once it runs */
  private async pauseOnceRunning(d: Deployment): Promise<void> {
    while (d.pendingPause && d.run.status === 'starting') await new Promise((r) => setTimeout(r, 5));
    if (!d.pendingPause || (d.run.status !== 'running' && d.run.status !== 'paused')) return;
    d.pendingPause = false;
    d.run.pause(); // a run started paused already is
    this.logLine(d.flowId, 'info', 'paused');
    this.emit(d);
  }

  private active(flowId: string, verb: string): Deployment {
    const d = this.deployments.get(flowId);
    if (!d) throw notDeployed(flowId);
    if (!isActive(d)) throw new DeploymentStateError(`flow ${flowId} is ${d.summary!.status}: there is nothing to ${verb}; deploy it again`);
    return d;
  }

  private exclusive<T>(flowId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(flowId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(fn);
    const tail = next.catch(() => undefined);
    this.chains.set(flowId, tail);
    void tail.then(() => {
      if (this.chains.get(flowId) === tail) this.chains.delete(flowId);
    });
    return next;
  }

  private logLine(flowId: string, level: LogLevel, message: string, fields?: LogFields): void {
    let ring = this.logs.get(flowId);
    if (!ring) this.logs.set(flowId, (ring = new LogRing(this.options.logCapacity ?? 500)));
    const line: LogLine = { flowId, at: new Date().toISOString(), level, message: (this.options.redact ?? redactText)(message) };
    if (fields?.node) line.node = fields.node;
    const deployment = this.deployments.get(flowId)?.id;
    if (deployment) line.deployment = deployment;
    ring.push(line);
    for (const l of this.logListeners) this.safely(() => l(line));
  }

  private emit(d: Deployment): void {
    if (this.deployments.get(d.flowId) !== d) return;
    const status = this.status(d.flowId);
    for (const l of this.statusListeners) this.safely(() => l(status));
  }

  /** a listener that throws must break neither the run nor the other listeners */
  private safely(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.options.log?.error(`deployment listener failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    }
  }

  private startTicker(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      const active = [...this.deployments.values()].filter(isActive);
      if (active.length === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
        return;
      }
      for (const d of active) this.emit(d);
    }, this.options.statusIntervalMs ?? 500);
    this.ticker.unref();
  }
}

function isActive(d: Deployment): boolean {
  return !d.summary && ACTIVE.has(d.run.status);
}

function notDeployed(flowId: string): DeploymentStateError {
  return new DeploymentStateError(`flow ${flowId} is not deployed`);
}
