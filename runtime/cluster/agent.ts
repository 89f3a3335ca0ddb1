/**
 * An agent of the cluster: it announces itself in Redis (heartbeats with its load), takes part in the
 * leader election (the leader computes the assignment, assignment.ts), and runs the flows assigned to
 * it, each under its own Redis lease (redis-lock.ts) through an ordinary DeploymentManager. It reads
 * what should run (flows, versions, paused or not) from the shared store, never from the server, so the
 * agents keep running what they hold when the server is down. Status and log lines go to Redis pub/sub
 * for the server's live views.
 */
import type { Redis } from 'ioredis';
import { errorMessage } from '../errors.js';
import { DeploymentManager, type DeploymentStatus } from '../deploy/manager.js';
import type { CompiledFlow } from '../flow/compile.js';
import type { Lease, LockService } from '../lock/lock.js';
import { LockBusyError } from '../lock/lock.js';
import { RedisLockService, type RedisLease } from '../lock/redis-lock.js';
import type { Logger } from '../node-api.js';
import type { CheckpointStore } from '../state/checkpoint-store.js';
import { assign, liveAgents, moved, type Assignment } from './assignment.js';
import type { AgentInfo } from './view.js';
import { systemClock, type Clock } from './clock.js';
import { K, flowResource, redisTime } from './redis-keys.js';

export interface DesiredFlow {
  flowId: string;
  version: number;
  state: 'running' | 'paused';
  /** settings.weight of that version (default 1) */
  weight?: number;
}

/** where an agent learns what should run and how to build it (the shared control store) */
export interface FlowSource {
  desired(): Promise<DesiredFlow[]>;
  plan(flowId: string, version: number): Promise<CompiledFlow>;
  /** the flow ended on its own (its input ended, or it failed): it is not restarted */
  ended(flowId: string): Promise<void>;
}

export type { AgentInfo } from './view.js';

export interface AgentOptions {
  name: string;
  /** commands and publications; fails fast while Redis is away (redis-keys.ts connectRedis) */
  redis: Redis;
  /** a second connection for pub/sub */
  subscriber: Redis;
  store: CheckpointStore;
  flows: FlowSource;
  address?: string;
  /** where it serves webhooks (http.source), advertised in its membership */
  hooks?: string;
  version?: string;
  capacity?: number;
  /** flow and leader leases, ms (default 10,000); an agent silent this long is dead */
  leaseTtlMs?: number;
  /** heartbeat and reconcile period, ms (default: a fifth of the lease, at most 1 s) */
  tickMs?: number;
  clock?: Clock;
  cwd?: string;
  redact?: (text: string) => string;
  /** the agent's own log (flow lines go there too, prefixed) */
  log: Logger;
  /** a flow that fails to start is started again this many times, with backoff (default 3) */
  startRetries?: number;
  /** the first wait before starting a failed start again, ms, doubled each time (default 1,000) */
  startRetryMs?: number;
}

/** one flow's failed starts on this agent, under one version */
interface StartFailures {
  version: number;
  attempts: number;
  /** Date.now() before which the flow is not started again */
  retryAt: number;
}

/** how a run that ended because its lease went away reads (lease-keeper.ts, the stores' FencedOffError) */
const LEASE_LOST = /lost the lease|lease token \d+ is older than/;

export class Agent {
  readonly manager: DeploymentManager;
  private readonly locks: RedisLockService;
  private readonly clock: Clock;
  private readonly ttl: number;
  private readonly tick: number;
  private readonly since = Date.now();
  /** leases taken by the reconcile loop, handed to the manager's next start of that flow */
  private readonly handoff = new Map<string, Lease>();
  /** flows being started or stopped now: the loop leaves them alone until that is done */
  private readonly busy = new Set<string>();
  /** the version and generation each running flow was started with */
  private readonly started = new Map<string, { version: number; generation: number }>();
  /** plans compiled for a flow whose lease was still held elsewhere: the next round starts with them */
  private readonly plans = new Map<string, { version: number; plan: CompiledFlow }>();
  /** flows that ended on their own under this version: not restarted until deployed again */
  private readonly finished = new Map<string, number>();
  /**
   * flows whose start failed (the plan, the lease's hand-over or the run's opening, before it ever ran):
   * started again after a backoff, a bounded number of times, then failed like an ended flow
   */
  private readonly startFailures = new Map<string, StartFailures>();
  /** flows whose current run reached running (or paused): a failure after that is the flow's own */
  private readonly ran = new Set<string>();
  private leader?: RedisLease;
  private draining = false;
  private timer?: unknown;
  private ticking?: Promise<void>;
  private stopped = false;
  private cpuMark = { at: Date.now(), usage: process.cpuUsage() };
  private lastAssignment: Assignment = {};
  /** the live membership the leader saw last, and since when (Redis time) */
  private membership = { names: '', since: 0 };
  private lastTrouble = '';
  private readonly offStatus: () => void;
  private readonly offLog: () => void;

  constructor(private readonly o: AgentOptions) {
    this.clock = o.clock ?? systemClock;
    this.ttl = o.leaseTtlMs ?? 10_000;
    this.tick = o.tickMs ?? Math.min(1000, Math.floor(this.ttl / 5));
    this.locks = new RedisLockService(o.redis, { holder: o.name });
    const handoff = this.handoff;
    const locks = this.locks;
    const ownLocks: LockService = {
      async acquire(resource, ttlMs) {
        const lease = handoff.get(resource);
        if (lease) {
          handoff.delete(resource);
          return lease;
        }
        return locks.acquire(resource, ttlMs);
      },
    };
    this.manager = new DeploymentManager({ store: o.store, locks: ownLocks, leaseTtlMs: this.ttl, cwd: o.cwd, redact: o.redact, log: o.log });
    this.offStatus = this.manager.onStatus((s) => this.published(s));
    this.offLog = this.manager.onLog((l) => {
      this.o.log[l.level === 'error' ? 'error' : l.level === 'warn' ? 'warn' : 'info'](`flow ${l.flowId}: ${l.message}`);
      void this.o.redis.publish(K.log, JSON.stringify({ ...l, agent: this.o.name })).catch(() => undefined);
    });
  }

  get name(): string {
    return this.o.name;
  }

  /** where this agent serves webhooks, advertised from the next heartbeat on */
  advertiseHooks(url: string): void {
    this.o.hooks = url;
  }

  get isLeader(): boolean {
    return Boolean(this.leader);
  }

  /** joins the cluster and starts the loop */
  async start(): Promise<void> {
    await this.o.subscriber.subscribe(K.events);
    this.o.subscriber.on('message', (channel) => {
      if (channel === K.events) this.poke();
    });
    await this.round();
    this.schedule();
  }

  /** SIGTERM: hands every flow over at once (each stops and commits), then leaves the cluster */
  async drain(): Promise<void> {
    this.draining = true;
    this.o.log.info(`${this.o.name}: draining: handing ${this.manager.list().filter((s) => this.manager.isActive(s.flowId)).length} flow(s) over`);
    await this.heartbeat().catch(() => undefined);
    await this.o.redis.publish(K.events, 'draining').catch(() => undefined);
    // the leader (maybe this agent) moves our flows; stop them ourselves anyway, so it is quick
    await this.whileTicking(async () => {
      if (this.leader) await this.lead().catch(() => undefined);
      await Promise.all(this.manager.list().filter((s) => this.manager.isActive(s.flowId)).map((s) => this.stopFlow(s.flowId, 'this agent is stopping')));
    });
    await this.close();
  }

  /** leaves without handing over (tests; a drained agent calls it last) */
  async close(): Promise<void> {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
    await this.ticking;
    await this.manager.stopAll();
    await this.o.redis.hdel(K.members, this.o.name).catch(() => undefined);
    if (this.leader) await this.leader.release().catch(() => undefined);
    this.leader = undefined;
    await this.o.redis.publish(K.events, 'left').catch(() => undefined);
    this.offStatus();
    this.offLog();
  }

  // ---- the loop --------------------------------------------------------------------------------

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      void this.whileTicking(() => this.round()).finally(() => this.schedule());
    }, this.tick);
  }

  /** an event from another agent or the server: a round now (one at a time) */
  private poke(): void {
    if (this.stopped || this.ticking) return;
    void this.whileTicking(() => this.round());
  }

  private async whileTicking(fn: () => Promise<void>): Promise<void> {
    while (this.ticking) await this.ticking;
    const p = fn().finally(() => {
      if (this.ticking === p) this.ticking = undefined;
    });
    this.ticking = p;
    return p;
  }

  private async round(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.heartbeat();
      await this.lead();
      await this.reconcile();
      if (this.lastTrouble) this.o.log.info(`${this.o.name}: Redis answers again`);
      this.lastTrouble = '';
    } catch (err) {
      const msg = errorMessage(err);
      if (msg !== this.lastTrouble) this.o.log.warn(`${this.o.name}: ${msg} (running flows keep going while their leases are valid)`);
      this.lastTrouble = msg;
    }
  }

  private async heartbeat(): Promise<void> {
    const now = await redisTime(this.o.redis);
    const info: AgentInfo = {
      name: this.o.name,
      address: this.o.address ?? '',
      ...(this.o.hooks ? { hooks: this.o.hooks } : {}),
      version: this.o.version ?? '',
      capacity: this.o.capacity,
      draining: this.draining,
      heartbeatAt: now,
      aliveSince: this.since,
      ...this.load(),
    };
    await this.o.redis.hset(K.members, this.o.name, JSON.stringify(info));
  }

  private load(): Pick<AgentInfo, 'flows' | 'recordsPerSecond' | 'cpu' | 'memory'> {
    const active = this.manager.list().filter((s) => this.manager.isActive(s.flowId));
    const now = Date.now();
    const usage = process.cpuUsage();
    const spent = usage.user + usage.system - (this.cpuMark.usage.user + this.cpuMark.usage.system);
    const cpu = now > this.cpuMark.at ? Math.round((spent / 1000 / (now - this.cpuMark.at)) * 1000) / 10 : 0;
    this.cpuMark = { at: now, usage };
    const rate = (s: DeploymentStatus) => Math.max(0, ...Object.values(s.nodes).map((n) => n.rate));
    return { flows: active.map((s) => s.flowId).sort(), recordsPerSecond: active.reduce((sum, s) => sum + rate(s), 0), cpu, memory: process.memoryUsage().rss };
  }

  /** holds or takes the leader lease; the leader writes the assignment */
  private async lead(): Promise<void> {
    if (this.leader) {
      try {
        await this.leader.extend(this.ttl);
      } catch (err) {
        this.o.log.warn(`${this.o.name}: no longer the leader: ${errorMessage(err)}`);
        this.leader = undefined;
      }
    }
    if (!this.leader && !this.draining) {
      try {
        this.leader = await this.locks.acquire(K.leader, this.ttl);
        this.o.log.info(`${this.o.name}: leader (lease ${this.leader.token})`);
      } catch (err) {
        if (!(err instanceof LockBusyError)) throw err;
      }
    }
    if (!this.leader) return;
    const [rawMembers, rawAssignment, desired, now] = await Promise.all([
      this.o.redis.hgetall(K.members),
      this.o.redis.hgetall(K.assignment),
      this.o.flows.desired(),
      redisTime(this.o.redis),
    ]);
    const members = Object.values(rawMembers).map((v) => JSON.parse(v) as AgentInfo);
    const live = liveAgents(members, now, this.ttl);
    // members silent for ten leases are forgotten
    const gone = members.filter((m) => now - m.heartbeatAt > 10 * this.ttl).map((m) => m.name);
    if (gone.length) await this.o.redis.hdel(K.members, ...gone);
    // flows without a home are placed at once; moving running flows onto new agents waits until the
    // membership has been still for a lease time, so agents starting together share one rebalance
    const names = live.map((m) => `${m.name}${m.draining ? '(draining)' : ''}`).sort().join(',');
    if (names !== this.membership.names) this.membership = { names, since: now };
    const settled = now - this.membership.since >= this.ttl;
    const next = assign(desired.map((d) => ({ flowId: d.flowId, weight: d.weight })), live, rawAssignment, { rebalance: settled });
    const changed = moved(rawAssignment, next);
    if (changed.length === 0) return;
    const removed = changed.filter((id) => next[id] === undefined);
    const multi = this.o.redis.multi();
    if (removed.length) multi.hdel(K.assignment, ...removed);
    const set = changed.filter((id) => next[id] !== undefined);
    if (set.length) multi.hset(K.assignment, Object.fromEntries(set.map((id) => [id, next[id]])));
    multi.publish(K.events, 'assignment');
    await multi.exec();
    this.o.log.info(`${this.o.name}: assignment: ${changed.map((id) => `${id} ${rawAssignment[id] ?? '-'} → ${next[id] ?? '-'}`).join(', ')}`);
  }

  /** starts what is ours and should run, stops what is not ours any more, applies pause/resume */
  private async reconcile(): Promise<void> {
    const [assignment, desired, generations] = await Promise.all([
      this.o.redis.hgetall(K.assignment),
      this.o.flows.desired(),
      this.o.redis.hgetall(K.generations),
    ]);
    this.lastAssignment = assignment;
    const wanted = new Map(desired.filter((d) => assignment[d.flowId] === this.o.name && !this.draining).map((d) => [d.flowId, d]));
    for (const [id, version] of this.finished) if (wanted.get(id)?.version !== version) this.finished.delete(id);
    for (const [id, f] of this.startFailures) if (wanted.get(id)?.version !== f.version) this.startFailures.delete(id);
    // stop what is no longer ours
    for (const s of this.manager.list()) {
      if (!this.manager.isActive(s.flowId) || this.busy.has(s.flowId)) continue;
      const want = wanted.get(s.flowId);
      const generation = Number(generations[s.flowId] ?? 0);
      const run = this.started.get(s.flowId);
      if (!want) void this.stopFlow(s.flowId, assignment[s.flowId] ? `moved to ${assignment[s.flowId]}` : 'no longer deployed');
      else if (run && (run.version !== want.version || run.generation !== generation)) void this.stopFlow(s.flowId, `version ${want.version} deployed`);
      else if (want.state === 'paused' && s.status === 'running') this.manager.pause(s.flowId);
      else if (want.state === 'running' && s.status === 'paused') this.manager.resume(s.flowId);
    }
    // start what is ours and not running
    for (const want of wanted.values()) {
      if (this.busy.has(want.flowId) || this.manager.isActive(want.flowId) || this.finished.get(want.flowId) === want.version) continue;
      if ((this.startFailures.get(want.flowId)?.retryAt ?? 0) > Date.now()) continue;
      if (this.o.capacity !== undefined && this.manager.list().filter((s) => this.manager.isActive(s.flowId)).length >= this.o.capacity) break;
      void this.startFlow(want, Number(generations[want.flowId] ?? 0));
    }
  }

  private async startFlow(want: DesiredFlow, generation: number): Promise<void> {
    const id = want.flowId;
    this.busy.add(id);
    try {
      // the plan first (reading the store, compiling: slow on a loaded machine), then the lease: the
      // time from taking the lease to the run keeping it must stay well inside the lease
      let plan: CompiledFlow;
      const planned = this.plans.get(id);
      try {
        plan = planned?.version === want.version ? planned.plan : await this.o.flows.plan(id, want.version);
      } catch (err) {
        return this.failedStart(id, want.version, errorMessage(err));
      }
      let lease: RedisLease;
      try {
        lease = await this.locks.acquire(flowResource(id), this.ttl);
      } catch (err) {
        // the former owner's lease has not lapsed yet: next round, with the plan kept
        if (err instanceof LockBusyError) return void this.plans.set(id, { version: want.version, plan });
        throw err;
      }
      this.plans.delete(id);
      const reset = Number((await this.o.redis.hget(K.resets, id)) ?? -1) === generation && generation > 0;
      this.handoff.set(flowResource(id), lease);
      this.started.set(id, { version: want.version, generation });
      this.ran.delete(id);
      await this.manager.deploy(id, plan, { version: want.version, paused: want.state === 'paused', fromStart: reset });
      if (reset) await this.o.redis.hdel(K.resets, id).catch(() => undefined);
      this.o.log.info(`${this.o.name}: runs flow ${id} version ${want.version} (lease ${lease.token})`);
    } catch (err) {
      // a lease the run never took is given back, so the next start need not wait for it to lapse
      await this.handoff.get(flowResource(id))?.release().catch(() => undefined);
      if (!this.manager.isActive(id)) this.failedStart(id, want.version, errorMessage(err));
      else this.o.log.warn(`${this.o.name}: cannot start flow ${id}: ${errorMessage(err)}`);
    } finally {
      this.handoff.delete(flowResource(id));
      this.busy.delete(id);
    }
  }

  /**
   * A start of `flowId` failed: it is started again after 1, 2, 4 … × startRetryMs, startRetries times;
   * then it is failed with the reason, like the in-process mode's "could not be restored", and not
   * started again until deployed again. The count is this agent's: a flow moved elsewhere starts afresh.
   */
  private failedStart(flowId: string, version: number, reason: string): void {
    const retries = this.o.startRetries ?? 3;
    const prior = this.startFailures.get(flowId);
    const attempts = (prior?.version === version ? prior.attempts : 0) + 1;
    if (attempts > retries) {
      this.startFailures.delete(flowId);
      this.finished.set(flowId, version);
      this.manager.recordFailedStart(flowId, version, `could not be started on agent ${this.o.name} (${attempts} attempts): ${reason}`);
      void this.o.flows.ended(flowId).catch(() => undefined);
      return;
    }
    const wait = (this.o.startRetryMs ?? 1000) * 2 ** (attempts - 1);
    this.startFailures.set(flowId, { version, attempts, retryAt: Date.now() + wait });
    const error = `start ${attempts} of ${retries + 1} failed on agent ${this.o.name}: ${reason}; starting again in ${wait} ms`;
    this.o.log.warn(`flow ${flowId}: ${error}`);
    // the server shows it as starting, with the reason: a failed status would record the deployment stopped
    const at = new Date().toISOString();
    this.publish({ flowId, status: 'starting', version, startedAt: at, nodes: {}, edges: [], deadLetters: 0, error, agent: this.o.name });
    this.clock.setTimeout(() => this.poke(), wait + 10);
  }

  private async stopFlow(flowId: string, why: string): Promise<void> {
    if (this.busy.has(flowId)) return;
    this.busy.add(flowId);
    try {
      this.o.log.info(`${this.o.name}: stopping flow ${flowId}: ${why}`);
      await this.manager.stop(flowId);
      // the lease is free now: the new owner may start at once
      await this.o.redis.publish(K.events, 'released').catch(() => undefined);
    } catch (err) {
      this.o.log.warn(`${this.o.name}: stopping flow ${flowId}: ${errorMessage(err)}`);
    } finally {
      this.busy.delete(flowId);
    }
  }

  /** a status of one of our runs, as the server should see it */
  private published(s: DeploymentStatus): void {
    let status: DeploymentStatus & { agent: string } = { ...s, agent: this.o.name };
    if (s.status === 'running' || s.status === 'paused') {
      this.ran.add(s.flowId);
      this.startFailures.delete(s.flowId);
    }
    if ((s.status === 'failed' || s.status === 'completed') && s.endedAt) {
      const run = this.started.get(s.flowId);
      if (s.status === 'failed' && LEASE_LOST.test(s.error ?? '')) {
        // not the flow's failure: it moves (or resumes here once Redis is back); the server must not mark it stopped
        status = { ...status, status: 'stopped' };
      } else if (s.status === 'failed' && run && !this.ran.has(s.flowId) && this.finished.get(s.flowId) !== run.version && this.lastAssignment[s.flowId] === this.o.name) {
        // it failed while opening (a sandbox that timed out, a connection refused): a failed start
        return this.failedStart(s.flowId, run.version, s.error ?? 'failed while starting');
      } else if (this.started.has(s.flowId) && this.lastAssignment[s.flowId] === this.o.name) {
        const v = this.started.get(s.flowId)!.version;
        this.finished.set(s.flowId, v);
        void this.o.flows.ended(s.flowId).catch(() => undefined);
      }
    }
    this.publish(status);
  }

  private publish(status: DeploymentStatus & { agent: string }): void {
    const json = JSON.stringify(status);
    void this.o.redis
      .multi()
      .hset(K.statuses, status.flowId, json)
      .publish(K.status, json)
      .exec()
      .catch(() => undefined);
  }
}
