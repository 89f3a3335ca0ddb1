/**
 * Runs a compiled flow. This is the conductor; each job is its own part:
 *   - node-loops.ts: one async loop per node, bounded inboxes, fan-out and fan-in, dead letters;
 *   - checkpointer.ts: when positions (and, for stateful flows, aligned state) are committed;
 *   - run-lease.ts: the lease on the flow (in-process or Redis) and its fencing token;
 *   - node-lifecycle.ts: creating, opening and closing the node instances;
 *   - preview-capture.ts: the live tap and the preview's bounded samples.
 * A source position is committed only once every batch up to it was acknowledged by every sink
 * downstream (see tracker.ts). Time (checkpoint schedule, ticks, the stop timeout) comes from an
 * injected clock (run-clock.ts).
 */
import { ConfigError, NodeError, UserError, errorMessage } from '../errors.js';
import type { CompiledFlow } from '../flow/compile.js';
import { redactText } from '../redact.js';
import type { LockService } from '../lock/lock.js';
import type { Clock } from '../cluster/clock.js';
import type { EndpointHost, Logger, SourceProgress } from '../node-api.js';
import type { SluiceRecord } from '../records.js';
import type { CheckpointStore } from '../state/checkpoint-store.js';
import { Checkpointer } from './checkpointer.js';
import { ExternalMemoryWatch } from './memory.js';
import { NodeLifecycle } from './node-lifecycle.js';
import { NodeLoops } from './node-loops.js';
import { PreviewCapture } from './preview-capture.js';
import { every, sleepOn, wallClock } from './run-clock.js';
import { RunLease } from './run-lease.js';
import { laneStateKey } from './lanes/lane-key.js';
import { Gate, inFlight, makeRunners, type NodePreview, type NodeStats, type Runner } from './runner.js';
import { QueueClosed } from './queue.js';
import { PositionLedger } from './tracker.js';
import type { RunObserver } from './observer.js';

export type { NodePreview, NodeStats } from './runner.js';

import type { RunStatus, RunSummary } from './run-summary.js';
export type { RunStatus, RunSummary } from './run-summary.js';

export interface RunOptions {
  /** starts paused: no source reads before resume() (a deployment restored or changed while paused) */
  startPaused?: boolean;
  store?: CheckpointStore;
  locks?: LockService;
  /** test run: read at most `limit` records per source, write nothing, capture `sample` per node */
  preview?: { limit: number; sample?: number };
  /** forget committed positions and state first */
  fromStart?: boolean;
  cwd?: string;
  log?: Logger;
  /** every batch that crosses a node boundary, for live previews (socket.io) */
  tap?: (event: { node: string; direction: 'in' | 'out'; port: string; records: SluiceRecord[] }) => void;
  /** stateful flows: how often an aligned checkpoint is taken, ms (default: the flow's settings.checkpointIntervalMs) */
  checkpointIntervalMs?: number;
  leaseTtlMs?: number;
  /** what the run times checkpoints, ticks and the stop timeout with (default: the wall clock) */
  clock?: Clock;
  /** what the lease keeper times renewals and the lease's end with (default: `clock`, else the system clock) */
  leaseClock?: Clock;
  /** masks secrets in what a failed record or the run failed with (default: URL passwords; the server adds its stored secrets) */
  redact?: (text: string) => string;
  /** the host's HTTP endpoints for webhook sources (the server's; none in the CLI) */
  endpoints?: EndpointHost;
  /** a full GC each time external memory (sandbox results) grew by this many MB; 0: leave it to V8 (default 16, see memory.ts) */
  externalMemoryStepMb?: number;
  /** batch and checkpoint durations, for metrics (observer.ts) */
  observer?: RunObserver;
  /**
   * settings.lanes > 1: this run is lane `index` of `count` (lanes/coordinator.ts): its sources read
   * their lane's share and its positions are kept under the lane's own key (lanes/lane-key.ts)
   */
  lane?: { index: number; count: number };
}

const silentLog: Logger = { info() {}, warn() {}, error() {} };

export class FlowRun {
  private status_: RunStatus = 'starting';
  private readonly runners: Map<string, Runner>;
  private readonly ledgers = new Map<string, PositionLedger>();
  /** work not caused by a source batch (ticks, flushes): waited for like batches, commits nothing */
  private readonly internal = new PositionLedger('internal', undefined, () => undefined);
  private readonly edgeCounts: number[];
  private readonly stopController = new AbortController();
  private readonly capture: PreviewCapture;
  /** a test run: the conversion reports the sinks would give (planReports), set at its end */
  private plannedReports: RunSummary['reports'];
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly memoryWatch?: ExternalMemoryWatch;
  private readonly lifecycle: NodeLifecycle;
  private readonly loops: NodeLoops;
  private checkpointer?: Checkpointer;
  private failure?: { message: string; user: boolean; node?: string };
  private pausedGate?: Gate;
  /** false once a stop abandoned batches in flight: node state is then ahead of the positions */
  private consistent = true;
  private lease?: RunLease;
  private resumedFrom?: Record<string, unknown>;
  private startedAt = 0;
  private wakeStopped!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.wakeStopped = r));
  private settled?: Promise<void>;

  constructor(readonly plan: CompiledFlow, private readonly options: RunOptions = {}) {
    if (!options.preview && !options.store) throw new Error('FlowRun needs a checkpoint store unless it is a preview');
    this.capture = new PreviewCapture(options.tap, options.preview?.sample);
    this.log = options.log ?? silentLog;
    this.clock = options.clock ?? wallClock;
    this.edgeCounts = new Array(plan.flow.edges.length).fill(0);
    this.runners = makeRunners(plan, Boolean(options.preview));
    const stepMb = options.externalMemoryStepMb ?? 16;
    if (stepMb > 0) this.memoryWatch = new ExternalMemoryWatch(stepMb * 1024 * 1024);
    const signal = this.stopController.signal;
    this.lifecycle = new NodeLifecycle(plan, this.runners, { preview: Boolean(options.preview), cwd: options.cwd, endpoints: options.endpoints, signal, log: this.log, lane: options.preview ? undefined : options.lane });
    this.loops = new NodeLoops({
      plan,
      runners: this.runners,
      ledgers: this.ledgers,
      internal: this.internal,
      edgeCounts: this.edgeCounts,
      signal,
      clock: this.clock,
      log: this.log,
      capture: this.capture,
      redact: options.redact ?? redactText,
      preview: options.preview,
      store: options.store,
      memoryWatch: this.memoryWatch,
      observer: options.observer,
      beforeRead: () => (this.pausedGate || this.checkpointer?.gate || this.lease?.held() ? this.gates() : undefined),
      beforeWrite: () => this.lease?.held(),
    });
  }

  /** full GCs the external-memory watch asked for in this run (memory.ts) */
  get memoryCollections(): number {
    return this.memoryWatch?.collections ?? 0;
  }

  get name(): string {
    return this.plan.flow.name;
  }

  get status(): RunStatus {
    return this.status_;
  }

  stats(): Record<string, NodeStats> {
    const out: Record<string, NodeStats> = {};
    for (const [id, r] of this.runners) out[id] = { ...r.stats, ops: r.stats.ops ? { ...r.stats.ops } : undefined };
    return out;
  }

  /** what each source that reports progress says about itself now (tables done / estimated, CDC lag) */
  progress(): Record<string, SourceProgress> {
    const out: Record<string, SourceProgress> = {};
    for (const [id, r] of this.runners) {
      const inst = r.instance;
      if (inst?.kind !== 'source' || !inst.progress) continue;
      try {
        const p = inst.progress();
        if (p) out[id] = p;
      } catch (err) {
        this.log.warn(`node ${id}: progress() failed: ${errorMessage(err)}`);
      }
    }
    return out;
  }

  /** batches waiting in each node's inbox now (nodes with inputs only) */
  queueDepths(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [id, r] of this.runners) if (r.inbox) out[id] = r.inbox.size;
    return out;
  }

  edgeStats(): number[] {
    return [...this.edgeCounts];
  }

  /** asks the flow to stop: sources stop reading, batches in flight finish (or are abandoned after settings.stopTimeoutMs) */
  stop(): void {
    if (this.stopController.signal.aborted) return;
    if (this.status_ === 'running' || this.status_ === 'paused' || this.status_ === 'starting') this.status_ = 'stopping';
    this.stopController.abort();
    this.pausedGate?.open();
    this.wakeStopped();
  }

  pause(): void {
    if (this.status_ !== 'running' || this.pausedGate) return;
    this.pausedGate = new Gate();
    this.status_ = 'paused';
  }

  resume(): void {
    if (!this.pausedGate) return;
    this.pausedGate.open();
    this.pausedGate = undefined;
    if (this.status_ === 'paused') this.status_ = 'running';
  }

  /** Runs the flow until its sources end, it is stopped, or it fails. Never throws for a flow failure. */
  async run(): Promise<RunSummary> {
    this.startedAt = this.clock.now();
    const { store, preview } = this.options;
    const flow = this.plan.flow;
    // a lane keeps its positions apart from the other lanes' (and from a run without lanes)
    const lane = preview ? undefined : this.options.lane;
    const stateKey = lane ? laneStateKey(flow.name, lane) : flow.name;
    if (!preview && !lane && flow.settings.lanes > 1) {
      this.log.warn(`settings.lanes: ${flow.settings.lanes} is used by sluice run only (server deployments not yet): this run reads in one process`);
    }
    const stopTicks: (() => void)[] = [];
    let loops: Promise<unknown>[] = [];
    try {
      if (!preview && store) {
        if (this.options.locks) {
          this.lease = await RunLease.acquire(this.options.locks, stateKey, {
            ttlMs: this.options.leaseTtlMs ?? 30_000,
            clock: this.options.leaseClock ?? this.options.clock,
            onLost: (reason) => this.fail(undefined, new Error(`lost the lease on flow ${stateKey}, stopping it: ${reason}`)),
            onHeld: (held) =>
              held
                ? this.log.warn(`the lease on flow ${stateKey} is in doubt (a renewal is still unanswered at its deadline): reading and writing nothing new until it is answered`)
                : this.log.info(`the lease on flow ${stateKey} is kept: going on`),
          });
        }
        if (this.options.fromStart) await store.reset(stateKey);
      }
      const checkpoint = !preview && store ? await store.load(stateKey) : undefined;
      if (checkpoint && Object.keys(checkpoint.positions).length > 0) this.resumedFrom = checkpoint.positions;

      await this.lifecycle.openAll(checkpoint?.state ?? {});
      const stateful = [...this.runners.values()].some((r) => r.instance?.kind === 'transform' && typeof r.instance.snapshot === 'function');
      if (!preview && store) {
        this.checkpointer = new Checkpointer({
          store,
          flowName: stateKey,
          runners: this.runners,
          ledgers: this.ledgers,
          stateful,
          token: () => this.lease?.token ?? 0,
          inFlight: () => this.inFlight(),
          signal: this.stopController.signal,
          clock: this.clock,
          log: this.log,
          fail: (err) => this.fail(undefined, err),
          observer: this.options.observer,
        });
      }
      const checkpointer = this.checkpointer;
      for (const r of this.runners.values()) {
        if (r.instance?.kind === 'source') {
          this.ledgers.set(r.node.id, new PositionLedger(r.node.id, checkpoint?.positions[r.node.id], () => checkpointer?.onAdvance()));
        }
      }
      checkpointer?.start(this.options.checkpointIntervalMs ?? flow.settings.checkpointIntervalMs);
      for (const r of this.runners.values()) {
        const inst = r.instance;
        if (inst?.kind !== 'transform' || !inst.tick) continue;
        let pending = false;
        stopTicks.push(
          every(this.clock, inst.tickIntervalMs ?? 100, () => {
            if (pending || this.stopController.signal.aborted) return;
            pending = true;
            void r.inbox!.push('tick').catch(() => undefined).finally(() => (pending = false));
          }),
        );
      }
      if (this.status_ === 'starting') {
        this.status_ = 'running';
        // before the loops start: not one batch is read
        if (this.options.startPaused) this.pause();
      }

      loops = [...this.runners.values()].map((r) => this.loops.loop(r).catch((err) => (err instanceof QueueClosed ? undefined : this.fail(r.node.id, err))));
      await Promise.race([Promise.all(loops), this.stopped]);
      if (this.stopController.signal.aborted && !this.failure) await this.drain();
      await this.settle(loops);
    } catch (err) {
      this.fail(undefined, err);
    } finally {
      if (loops.length) await this.settle(loops);
      this.checkpointer?.stop();
      this.lease?.stopKeeping();
      for (const stop of stopTicks) stop();
    }
    // Acknowledged positions are always safe to commit. Node state only when it matches them: after a
    // clean end or drain, never after a failure or an abandoned batch (the last checkpoint stands).
    const stateOk = !this.checkpointer?.stateful || (!this.failure && this.consistent);
    if (this.checkpointer && this.ledgers.size > 0 && stateOk) {
      try {
        await this.checkpointer.commit(true);
      } catch (err) {
        this.fail(undefined, err);
      }
    }
    await this.lifecycle.closeAll();
    await this.lease?.release();
    if (this.options.preview) this.plannedReports = await this.planReports();
    const status = this.failure ? 'failed' : this.stopController.signal.aborted ? 'stopped' : 'completed';
    this.status_ = status;
    return this.summary(status);
  }

  private async gates(): Promise<void> {
    if (this.pausedGate) await this.pausedGate.promise;
    if (this.checkpointer?.gate) await this.checkpointer.gate.promise;
    await this.lease?.held();
  }

  /** a test run: the conversion reports the sinks would give for what reached them (none fails the run) */
  private async planReports(): Promise<RunSummary['reports']> {
    const out: NonNullable<RunSummary['reports']> = {};
    for (const [id, r] of this.runners) {
      const inst = r.instance;
      if (inst?.kind !== 'sink' || !inst.previewReport) continue;
      const records = this.capture.firstOfEachTable(r);
      if (records.length === 0) continue;
      const tables = await inst.previewReport(records).catch((err: unknown) => {
        this.log.warn(`${id}: the conversion report could not be planned: ${errorMessage(err)}`);
        return [];
      });
      if (tables.length > 0) out[id] = tables;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  /** the conversion reports of sinks that created tables under `schema: full` (a test run: that they would create) */
  reports(): RunSummary['reports'] {
    if (this.options.preview) return this.plannedReports;
    const out: NonNullable<RunSummary['reports']> = {};
    for (const [id, r] of this.runners) {
      const inst = r.instance;
      if (inst?.kind !== 'sink' || !inst.report) continue;
      const tables = inst.report();
      if (tables.length > 0) out[id] = tables;
    }
    return Object.keys(out).length > 0 ? out : undefined;
  }

  private summary(status: RunSummary['status']): RunSummary {
    const positions: Record<string, unknown> = {};
    for (const [id, l] of this.ledgers) positions[id] = l.committable;
    const summary: RunSummary = {
      flow: this.name,
      status,
      nodes: this.stats(),
      edges: this.edgeStats(),
      durationMs: this.clock.now() - this.startedAt,
      positions,
      deadLetters: this.loops.deadLetters,
    };
    const progress = this.progress();
    if (Object.keys(progress).length > 0) summary.progress = progress;
    if (this.resumedFrom) summary.resumedFrom = this.resumedFrom;
    if (this.failure) {
      summary.error = this.failure.message;
      summary.userError = this.failure.user;
      summary.failedNode = this.failure.node;
    }
    if (this.options.preview) summary.preview = PreviewCapture.result(this.runners);
    const reports = this.reports();
    if (reports) summary.reports = reports;
    return summary;
  }

  private fail(nodeId: string | undefined, err: unknown): void {
    if (!this.failure) {
      const user = err instanceof UserError;
      let message = (this.options.redact ?? redactText)(errorMessage(err));
      if (nodeId && !(err instanceof NodeError) && !(err instanceof ConfigError)) message = `node ${nodeId}: ${message}`;
      this.failure = { message, user, node: nodeId ?? (err as { nodeId?: string }).nodeId };
      this.log.error(message, this.failure.node ? { node: this.failure.node } : undefined);
    }
    this.stop();
  }

  /** waits until every batch in flight is acknowledged, or settings.stopTimeoutMs passed */
  private async drain(): Promise<void> {
    const { stopTimeoutMs } = this.plan.flow.settings;
    const deadline = this.clock.now() + stopTimeoutMs;
    while (this.inFlight() > 0 && !this.failure) {
      if (this.clock.now() > deadline) {
        this.consistent = false;
        this.log.warn(`stop: abandoned ${this.inFlight()} batch(es) in flight after ${stopTimeoutMs} ms; they will be read again on the next run`);
        return;
      }
      await sleepOn(this.clock, 5);
    }
  }

  /**
   * The run is done with its batches (they ended, drained, were abandoned, or it failed): the inboxes
   * close, so no loop takes another batch, and every loop ends — a sink write or source read in flight
   * finishes — before the nodes are closed and run() returns. A node that ignores the stop is waited for
   * settings.stopTimeoutMs at most, and said so.
   */
  private async settle(loops: Promise<unknown>[]): Promise<void> {
    if (this.settled) return this.settled;
    for (const r of this.runners.values()) r.inbox?.close();
    const { stopTimeoutMs } = this.plan.flow.settings;
    this.settled = (async () => {
      let timer: unknown;
      const late = await Promise.race([
        Promise.all(loops).then(() => false),
        new Promise<boolean>((r) => (timer = this.clock.setTimeout(() => r(true), stopTimeoutMs))),
      ]);
      this.clock.clearTimeout(timer);
      if (late) this.log.warn(`stop: a node still reads or writes ${stopTimeoutMs} ms after the run ended; closing the nodes anyway`);
    })();
    return this.settled;
  }

  private inFlight(): number {
    return inFlight([this.internal, ...this.ledgers.values()]);
  }
}
