/**
 * The server's side of the cluster (`sluice serve --cluster`): the same surface as the single-mode
 * DeploymentManager, but it runs nothing. Deploy, pause, resume and stop write the desired state (the
 * control store, through `desired`) and wake the agents; the status and log lines the agents publish
 * in Redis come back here and go to the same listeners (socket.io), so the live views work wherever a
 * flow runs. `view()` is GET /api/cluster: the agents, the leader, each flow's agent and lease.
 */
import type { Redis } from 'ioredis';
import { UserError } from '../errors.js';
import { DeploymentStateError, type DeployOptions, type Deployments, type DeploymentStatus, type LogLine } from '../deploy/manager.js';
import { LogRing } from '../deploy/log-ring.js';
import type { CompiledFlow } from '../flow/compile.js';
import { RedisLockService } from '../lock/redis-lock.js';
import type { Logger } from '../node-api.js';
import type { CheckpointStore } from '../state/checkpoint-store.js';
import type { AgentInfo, ClusterView } from './view.js';
import { K, flowResource, redisTime } from './redis-keys.js';

export interface ClusterControlOptions {
  redis: Redis;
  subscriber: Redis;
  /** positions and dead letters (shared with the agents) */
  store: CheckpointStore;
  /** records what the user asked for (the control store's deployments) */
  desired(flowId: string, state: 'running' | 'paused' | 'stopped'): void | Promise<void>;
  /** the agents' lease time, ms: an agent silent this long is dead (default 10,000) */
  leaseTtlMs?: number;
  /** how long stop waits for the agent to report the flow stopped, ms (default 30,000) */
  stopWaitMs?: number;
  logCapacity?: number;
  log?: Logger;
}

export type { ClusterView } from './view.js';

type Listener<T> = (value: T) => void;
const ACTIVE = new Set(['starting', 'running', 'paused', 'stopping']);

export class ClusterControl implements Deployments {
  private readonly statuses = new Map<string, DeploymentStatus>();
  private readonly failedStarts = new Map<string, DeploymentStatus>();
  private readonly logs = new Map<string, LogRing>();
  private readonly statusListeners = new Set<Listener<DeploymentStatus>>();
  private readonly logListeners = new Set<Listener<LogLine>>();
  private readonly locks: RedisLockService;
  private readonly ttl: number;
  /**
   * No webhook endpoints: an http.source registers its handler in the agent process that runs the
   * flow, which serves no HTTP; /hooks answers 503 in cluster mode (server/routes/hooks.ts).
   */
  readonly endpoints = undefined;

  constructor(private readonly o: ClusterControlOptions) {
    this.ttl = o.leaseTtlMs ?? 10_000;
    this.locks = new RedisLockService(o.redis);
  }

  /** subscribes to the agents' events and loads the last status of every flow */
  async start(): Promise<void> {
    this.o.subscriber.on('message', (channel: string, message: string) => {
      try {
        if (channel === K.status) this.received(JSON.parse(message) as DeploymentStatus);
        else if (channel === K.log) this.logged(JSON.parse(message) as LogLine & { agent?: string });
      } catch (err) {
        this.o.log?.warn(`cluster: unreadable ${channel} message: ${(err as Error).message}`);
      }
    });
    await this.o.subscriber.subscribe(K.status, K.log);
    const all = await this.o.redis.hgetall(K.statuses);
    for (const json of Object.values(all)) {
      const s = JSON.parse(json) as DeploymentStatus;
      if (!this.statuses.has(s.flowId)) this.statuses.set(s.flowId, s);
    }
  }

  onStatus(listener: Listener<DeploymentStatus>): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  onLog(listener: Listener<LogLine>): () => void {
    this.logListeners.add(listener);
    return () => this.logListeners.delete(listener);
  }

  /** the desired state is recorded by the caller (server/deployments.ts); this wakes the agents */
  async deploy(flowId: string, _plan: CompiledFlow, opts: DeployOptions = {}): Promise<DeploymentStatus> {
    if (opts.fromStart) {
      // agents restart a flow whose generation changed; the first start of this generation forgets positions
      const generation = await this.o.redis.hincrby(K.generations, flowId, 1);
      await this.o.redis.hset(K.resets, flowId, String(generation));
    }
    this.failedStarts.delete(flowId);
    await this.wake();
    const current = this.statuses.get(flowId);
    if (current && ACTIVE.has(current.status) && current.version === opts.version && !opts.fromStart) return current;
    return { flowId, status: 'starting', version: opts.version, nodes: {}, edges: [], deadLetters: 0 };
  }

  recordFailedStart(flowId: string, version: number | undefined, error: string): DeploymentStatus {
    const at = new Date().toISOString();
    const status: DeploymentStatus = { flowId, status: 'failed', version, startedAt: at, endedAt: at, nodes: {}, edges: [], deadLetters: 0, error };
    this.failedStarts.set(flowId, status);
    for (const l of this.statusListeners) l(status);
    return status;
  }

  async stop(flowId: string): Promise<DeploymentStatus> {
    if (this.status(flowId).status === 'not-deployed') throw new DeploymentStateError(`flow ${flowId} is not deployed`);
    await this.o.desired(flowId, 'stopped');
    await this.wake();
    // answers once the agent says it stopped (it commits first), or with what is known after stopWaitMs
    const deadline = Date.now() + (this.o.stopWaitMs ?? 30_000);
    while (ACTIVE.has(this.status(flowId).status) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.status(flowId);
  }

  pause(flowId: string): DeploymentStatus {
    return this.command(flowId, 'pause', 'paused');
  }

  resume(flowId: string): DeploymentStatus {
    return this.command(flowId, 'resume', 'running');
  }

  /** the server stopping leaves the cluster's flows running: the agents hold them */
  async stopAll(): Promise<void> {}

  async forget(flowId: string): Promise<void> {
    if (this.isActive(flowId)) throw new DeploymentStateError(`flow ${flowId} is ${this.status(flowId).status}: stop it first`);
    this.statuses.delete(flowId);
    this.failedStarts.delete(flowId);
    this.logs.delete(flowId);
    await this.o.redis.hdel(K.statuses, flowId).catch(() => undefined);
    await this.o.store.reset(flowId);
  }

  isActive(flowId: string): boolean {
    return ACTIVE.has(this.status(flowId).status);
  }

  status(flowId: string): DeploymentStatus {
    return this.failedStarts.get(flowId) ?? this.statuses.get(flowId) ?? { flowId, status: 'not-deployed', nodes: {}, edges: [], deadLetters: 0 };
  }

  list(): DeploymentStatus[] {
    return [...new Set([...this.statuses.keys(), ...this.failedStarts.keys()])].sort().map((id) => this.status(id));
  }

  logTail(flowId: string, limit?: number): LogLine[] {
    return this.logs.get(flowId)?.tail(limit) ?? [];
  }

  /** a line in the flow's log from the control plane (a skipped scheduled run, say) */
  note(flowId: string, level: LogLine['level'], message: string): void {
    this.logged({ flowId, at: new Date().toISOString(), level, message });
  }

  /** the shared checkpoint store the agents commit to */
  get checkpoints(): CheckpointStore {
    return this.o.store;
  }

  /** the agents, the leader and where each flow runs, as Redis knows it now */
  async view(): Promise<ClusterView> {
    const [members, assignment, now] = await Promise.all([this.o.redis.hgetall(K.members), this.o.redis.hgetall(K.assignment), redisTime(this.o.redis)]);
    const agents = Object.values(members)
      .map((v) => JSON.parse(v) as AgentInfo)
      .map((a) => ({ ...a, alive: now - a.heartbeatAt <= this.ttl }))
      .sort((a, b) => a.name.localeCompare(b.name));
    const leader = await this.locks.holder(K.leader);
    const ids = [...new Set([...Object.keys(assignment), ...this.list().map((s) => s.flowId)])].sort();
    const flows = await Promise.all(
      ids.map(async (flowId) => ({ flowId, agent: assignment[flowId], status: this.status(flowId).status, lease: await this.locks.holder(flowResource(flowId)) })),
    );
    return { mode: 'cluster', leader: leader?.agent, agents, flows };
  }

  async close(): Promise<void> {
    await this.o.subscriber.unsubscribe(K.status, K.log).catch(() => undefined);
  }

  // ---- internals -------------------------------------------------------------------------------

  private command(flowId: string, verb: 'pause' | 'resume', state: 'paused' | 'running'): DeploymentStatus {
    const s = this.status(flowId);
    if (s.status === 'not-deployed') throw new DeploymentStateError(`flow ${flowId} is not deployed`);
    if (!ACTIVE.has(s.status)) throw new DeploymentStateError(`flow ${flowId} is ${s.status}: there is nothing to ${verb}; deploy it again`);
    if (s.status === 'stopping') throw new DeploymentStateError(`flow ${flowId} is stopping: it cannot be ${verb}d`);
    void Promise.resolve(this.o.desired(flowId, state))
      .then(() => this.wake())
      .catch((err) => this.o.log?.error(`cluster: ${verb} of ${flowId}: ${(err as Error).message}`));
    return s;
  }

  private async wake(): Promise<void> {
    await this.o.redis.publish(K.events, 'desired').catch(() => {
      throw new UserError('the cluster cannot be reached (Redis): the change is recorded and the agents apply it when Redis is back');
    });
  }

  private received(s: DeploymentStatus): void {
    const current = this.statuses.get(s.flowId);
    // a former owner's late word (it lost the lease, it was stopped) does not hide the new owner's run
    if (current && current.agent !== s.agent && ACTIVE.has(current.status) && !ACTIVE.has(s.status)) return;
    this.failedStarts.delete(s.flowId);
    this.statuses.set(s.flowId, s);
    for (const l of this.statusListeners) l(s);
  }

  private logged(line: LogLine & { agent?: string }): void {
    let ring = this.logs.get(line.flowId);
    if (!ring) this.logs.set(line.flowId, (ring = new LogRing(this.o.logCapacity ?? 500)));
    const out: LogLine = { flowId: line.flowId, at: line.at, level: line.level, message: line.agent ? `[${line.agent}] ${line.message}` : line.message };
    ring.push(out);
    for (const l of this.logListeners) l(out);
  }
}
