/**
 * Runs a compiled flow: one async loop per node, a bounded inbox in front of every node that has
 * inputs (the edges into a node share it), batches fanned out to every edge of a port and fanned in
 * from every edge into a node. A source position is committed only once every batch up to it was
 * acknowledged by every sink downstream (see tracker.ts); flows with stateful nodes commit at aligned
 * checkpoints instead, where sources pause until nothing is in flight, so node state and positions are
 * saved together and agree. Preview mode runs the same loops on a bounded sample without writing.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ConfigError, NodeError, UserError, errorMessage } from '../errors.js';
import { fileAccess, unconfinedFiles } from '../files.js';
import type { CompiledFlow, CompiledNode } from '../flow/compile.js';
import { ERROR_PORT } from '../flow/schema.js';
import { redactText } from '../redact.js';
import type { LockService, Lease } from '../lock/lock.js';
import { LeaseKeeper } from '../lock/lease-keeper.js';
import type { Clock } from '../cluster/clock.js';
import type { EndpointHost, Logger, NodeContext, NodeInstance, PortOutputs, SinkInstance, SinkPreviewTarget, SourceInstance, SourceProgress, TransformInstance } from '../node-api.js';
import type { Op, SluiceRecord } from '../records.js';
import { compileUserFunction, UserCodeError } from '../sandbox/sandbox.js';
import type { CheckpointStore, DeadLetter } from '../state/checkpoint-store.js';
import { BoundedQueue, sleep } from './queue.js';
import { ExternalMemoryWatch } from './memory.js';
import { withRetry } from './retry.js';
import { PositionLedger, Tracker } from './tracker.js';

export type RunStatus = 'starting' | 'running' | 'paused' | 'stopping' | 'completed' | 'stopped' | 'failed';

export interface NodeStats {
  in: number;
  out: number;
  errors: number;
  /** sinks: records written (or, in preview, that would be written) by op */
  ops?: Record<Op, number>;
}

export interface NodePreview {
  input: SluiceRecord[];
  output: Record<string, SluiceRecord[]>;
  errors: SluiceRecord[];
  /** sinks: what would have been written */
  wouldWrite?: { ops: Record<Op, number>; sample: SluiceRecord[] };
  /** sinks: what the first write would do to the target (a table that does not exist yet is created) */
  target?: SinkPreviewTarget;
}

export interface RunSummary {
  flow: string;
  status: 'completed' | 'stopped' | 'failed';
  nodes: Record<string, NodeStats>;
  /** records that crossed each edge, by edge index in the document */
  edges: number[];
  durationMs: number;
  /** the failure, one line; `userError` when the user can fix it (exit code 2) */
  error?: string;
  userError?: boolean;
  failedNode?: string;
  positions: Record<string, unknown>;
  resumedFrom?: Record<string, unknown>;
  deadLetters: number;
  /** sources that report progress: where they ended (tables done / estimated, CDC lag) */
  progress?: Record<string, SourceProgress>;
  preview?: Record<string, NodePreview>;
}

export interface RunOptions {
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
  /** what the lease keeper times renewals and the lease's end with (default: the system clock) */
  leaseClock?: Clock;
  /** masks secrets in what a failed record or the run failed with (default: URL passwords; the server adds its stored secrets) */
  redact?: (text: string) => string;
  /** the host's HTTP endpoints for webhook sources (the server's; none in the CLI) */
  endpoints?: EndpointHost;
  /** a full GC each time external memory (sandbox results) grew by this many MB; 0: leave it to V8 (default 16, see memory.ts) */
  externalMemoryStepMb?: number;
}

type Item = { port: string; records: SluiceRecord[]; tracker: Tracker } | 'end' | 'tick';

interface Runner {
  node: CompiledNode;
  instance?: NodeInstance;
  inbox?: BoundedQueue<Item>;
  stats: NodeStats;
  preview?: NodePreview;
}

const EMPTY_OPS = (): Record<Op, number> => ({ c: 0, u: 0, d: 0, r: 0 });
const silentLog: Logger = { info() {}, warn() {}, error() {} };

export class FlowRun {
  private status_: RunStatus = 'starting';
  private readonly runners = new Map<string, Runner>();
  private readonly ledgers = new Map<string, PositionLedger>();
  /** work not caused by a source batch (ticks, flushes): waited for like batches, commits nothing */
  private readonly internal = new PositionLedger('internal', undefined, () => undefined);
  private readonly tickTimers: NodeJS.Timeout[] = [];
  private readonly edgeCounts: number[];
  private readonly stopController = new AbortController();
  private readonly log: Logger;
  private readonly memoryWatch?: ExternalMemoryWatch;
  private stateful = false;
  private failure?: { message: string; user: boolean; node?: string };
  private pausedGate?: { promise: Promise<void>; open: () => void };
  private checkpointGate?: { promise: Promise<void>; open: () => void };
  private commitChain: Promise<void> = Promise.resolve();
  private commitQueued = false;
  /** false once a stop abandoned batches in flight: node state is then ahead of the positions */
  private consistent = true;
  private lease?: Lease;
  private deadLetterCount = 0;
  private resumedFrom?: Record<string, unknown>;
  private startedAt = 0;
  private wakeStopped!: () => void;
  private readonly stopped = new Promise<void>((r) => (this.wakeStopped = r));

  constructor(readonly plan: CompiledFlow, private readonly options: RunOptions = {}) {
    this.log = options.log ?? silentLog;
    this.edgeCounts = new Array(plan.flow.edges.length).fill(0);
    for (const node of plan.nodes) {
      const runner: Runner = { node, stats: { in: 0, out: 0, errors: 0 } };
      if (node.type.outputs.length === 0) runner.stats.ops = EMPTY_OPS();
      if (node.inputs.length > 0) runner.inbox = new BoundedQueue(plan.flow.settings.queueSize);
      if (options.preview) runner.preview = { input: [], output: {}, errors: [] };
      this.runners.set(node.id, runner);
    }
    if (!options.preview && !options.store) throw new Error('FlowRun needs a checkpoint store unless it is a preview');
    const stepMb = options.externalMemoryStepMb ?? 16;
    if (stepMb > 0) this.memoryWatch = new ExternalMemoryWatch(stepMb * 1024 * 1024);
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
    let open!: () => void;
    const promise = new Promise<void>((r) => (open = r));
    this.pausedGate = { promise, open };
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
    this.startedAt = Date.now();
    const { store, preview } = this.options;
    const flow = this.plan.flow;
    let checkpointTimer: NodeJS.Timeout | undefined;
    let loopsEnded = false;
    let keeper: LeaseKeeper | undefined;
    try {
      if (!preview && store) {
        if (this.options.locks) {
          const ttl = this.options.leaseTtlMs ?? 30_000;
          this.lease = await this.options.locks.acquire(`flow:${flow.name}`, ttl).catch((err) => {
            throw new UserError(`flow ${flow.name} cannot start: ${errorMessage(err)}`);
          });
          // a lease that cannot be kept stops the flow before it lapses: never run unlocked
          keeper = new LeaseKeeper(this.lease, {
            ttlMs: ttl,
            clock: this.options.leaseClock,
            onLost: (reason) => this.fail(undefined, new Error(`lost the lease on flow ${flow.name}, stopping it: ${reason}`)),
          });
          keeper.start();
        }
        if (this.options.fromStart) await store.reset(flow.name);
      }
      const checkpoint = !preview && store ? await store.load(flow.name) : undefined;
      if (checkpoint && Object.keys(checkpoint.positions).length > 0) this.resumedFrom = checkpoint.positions;

      await this.openAll(checkpoint?.state ?? {});
      for (const r of this.runners.values()) {
        if (r.instance?.kind === 'source') {
          this.ledgers.set(r.node.id, new PositionLedger(r.node.id, checkpoint?.positions[r.node.id], () => this.onAdvance()));
        }
      }
      this.stateful = [...this.runners.values()].some(
        (r) => r.instance?.kind === 'transform' && typeof r.instance.snapshot === 'function',
      );
      if (this.stateful && !preview) {
        // Self-scheduling: the next checkpoint waits at least ten times as long as the last one took, so a
        // large state (a nest of a million children) costs at most ~10 % of the run, not the whole run.
        const interval = this.options.checkpointIntervalMs ?? flow.settings.checkpointIntervalMs;
        const schedule = (delay: number) => {
          checkpointTimer = setTimeout(() => {
            const began = Date.now();
            void this.alignedCheckpoint().finally(() => {
              if (!loopsEnded && !this.stopController.signal.aborted) schedule(Math.max(interval, 10 * (Date.now() - began)));
            });
          }, delay);
        };
        schedule(interval);
      }
      for (const r of this.runners.values()) {
        const inst = r.instance;
        if (inst?.kind !== 'transform' || !inst.tick) continue;
        let pending = false;
        this.tickTimers.push(
          setInterval(() => {
            if (pending || this.stopController.signal.aborted) return;
            pending = true;
            void r.inbox!.push('tick').finally(() => (pending = false));
          }, inst.tickIntervalMs ?? 100),
        );
      }
      if (this.status_ === 'starting') this.status_ = 'running';

      const loops = [...this.runners.values()].map((r) => this.loop(r).catch((err) => this.fail(r.node.id, err)));
      await Promise.race([Promise.all(loops), this.stopped]);
      if (this.stopController.signal.aborted && !this.failure) await this.drain();
    } catch (err) {
      this.fail(undefined, err);
    } finally {
      loopsEnded = true;
      clearTimeout(checkpointTimer);
      keeper?.stop();
      for (const t of this.tickTimers) clearInterval(t);
    }
    // Acknowledged positions are always safe to commit. Node state only when it matches them: after a
    // clean end or drain, never after a failure or an abandoned batch (the last checkpoint stands).
    const stateOk = !this.stateful || (!this.failure && this.consistent);
    if (!preview && store && this.ledgers.size > 0 && stateOk) {
      try {
        await this.commit(true);
      } catch (err) {
        this.fail(undefined, err);
      }
    }
    await this.closeAll();
    await this.lease?.release().catch(() => undefined);
    const status = this.failure ? 'failed' : this.stopController.signal.aborted ? 'stopped' : 'completed';
    this.status_ = status;
    return this.summary(status);
  }

  private summary(status: RunSummary['status']): RunSummary {
    const positions: Record<string, unknown> = {};
    for (const [id, l] of this.ledgers) positions[id] = l.committable;
    const summary: RunSummary = {
      flow: this.name,
      status,
      nodes: this.stats(),
      edges: this.edgeStats(),
      durationMs: Date.now() - this.startedAt,
      positions,
      deadLetters: this.deadLetterCount,
    };
    const progress = this.progress();
    if (Object.keys(progress).length > 0) summary.progress = progress;
    if (this.resumedFrom) summary.resumedFrom = this.resumedFrom;
    if (this.failure) {
      summary.error = this.failure.message;
      summary.userError = this.failure.user;
      summary.failedNode = this.failure.node;
    }
    if (this.options.preview) {
      summary.preview = {};
      for (const [id, r] of this.runners) summary.preview[id] = r.preview!;
    }
    return summary;
  }

  private fail(nodeId: string | undefined, err: unknown): void {
    if (!this.failure) {
      const user = err instanceof UserError;
      let message = (this.options.redact ?? redactText)(errorMessage(err));
      if (nodeId && !(err instanceof NodeError) && !(err instanceof ConfigError)) message = `node ${nodeId}: ${message}`;
      this.failure = { message, user, node: nodeId ?? (err as { nodeId?: string }).nodeId };
      this.log.error(message);
    }
    this.stop();
  }

  // ---- lifecycle -------------------------------------------------------------------------------

  private context(node: CompiledNode): NodeContext<unknown> {
    const flow = this.plan.flow;
    const cwd = this.options.cwd ?? process.cwd();
    const log = this.log;
    return {
      nodeId: node.id,
      flowName: flow.name,
      config: node.config,
      settings: flow.settings,
      preview: Boolean(this.options.preview),
      signal: this.stopController.signal,
      log: {
        info: (m) => log.info(`${node.id}: ${m}`),
        warn: (m) => log.warn(`${node.id}: ${m}`),
        error: (m) => log.error(`${node.id}: ${m}`),
      },
      files: fileAccess(this.plan.policy?.files ?? unconfinedFiles(cwd), node.id),
      connection: (name) => flow.connections?.[name] as Record<string, unknown> | undefined,
      ...(this.options.endpoints && !this.options.preview ? { endpoints: this.options.endpoints } : {}),
      compile: async (code, field, options) => {
        try {
          return await compileUserFunction(code, { ...flow.settings.sandbox, label: `${node.id}.config.${field}`, ...options });
        } catch (err) {
          if (err instanceof UserCodeError) throw new ConfigError(node.id, `config.${field}`, err.message);
          throw err;
        }
      },
    };
  }

  private async openAll(state: Record<string, unknown>): Promise<void> {
    // sinks first, then transforms, then sources: a misconfigured sink fails before anything is read
    const order = { sink: 0, transform: 1, source: 2 } as const;
    const runners = [...this.runners.values()];
    for (const r of runners) {
      try {
        r.instance = await r.node.type.create(this.context(r.node));
      } catch (err) {
        throw err instanceof UserError || err instanceof NodeError ? err : new NodeError(r.node.id, errorMessage(err), { cause: err });
      }
    }
    runners.sort((a, b) => order[a.instance!.kind] - order[b.instance!.kind]);
    for (const r of runners) {
      const inst = r.instance!;
      try {
        // a preview never opens a sink: opening may create files, tables or topics
        if (inst.kind === 'sink') {
          if (!this.options.preview) await inst.open();
          else if (inst.previewTarget) r.preview!.target = await inst.previewTarget().catch(() => undefined);
        }
        else if (inst.kind === 'transform') await inst.open(state[r.node.id]);
        // sources open in their loop, once their ledger exists
      } catch (err) {
        throw err instanceof UserError || err instanceof NodeError ? err : new NodeError(r.node.id, `cannot open: ${errorMessage(err)}`, { cause: err });
      }
    }
  }

  private async closeAll(): Promise<void> {
    const order = { source: 0, transform: 1, sink: 2 } as const;
    const runners = [...this.runners.values()]
      .filter((r) => r.instance && !(this.options.preview && r.instance.kind === 'sink'))
      .sort((a, b) => order[a.instance!.kind] - order[b.instance!.kind]);
    for (const r of runners) {
      try {
        await r.instance!.close();
      } catch (err) {
        this.log.warn(`${r.node.id}: close failed: ${errorMessage(err)}`);
      }
    }
  }

  /** waits until every batch in flight is acknowledged, or settings.stopTimeoutMs passed */
  private async drain(): Promise<void> {
    const deadline = Date.now() + this.plan.flow.settings.stopTimeoutMs;
    while (this.inFlight() > 0 && !this.failure) {
      if (Date.now() > deadline) {
        this.consistent = false;
        this.log.warn(`stop: abandoned ${this.inFlight()} batch(es) in flight after ${this.plan.flow.settings.stopTimeoutMs} ms; they will be read again on the next run`);
        return;
      }
      await sleep(5);
    }
  }

  private inFlight(): number {
    let n = this.internal.inFlight;
    for (const l of this.ledgers.values()) n += l.inFlight;
    return n;
  }

  // ---- node loops ------------------------------------------------------------------------------

  private async loop(r: Runner): Promise<void> {
    const inst = r.instance!;
    if (inst.kind === 'source') return this.sourceLoop(r, inst);
    if (inst.kind === 'transform') return this.transformLoop(r, inst);
    return this.sinkLoop(r, inst);
  }

  private async sourceLoop(r: Runner, source: SourceInstance): Promise<void> {
    const ledger = this.ledgers.get(r.node.id)!;
    const { retry } = this.plan.flow.settings;
    const signal = this.stopController.signal;
    await source.open(this.options.preview ? undefined : ledger.committable);
    let remaining = this.options.preview ? this.options.preview.limit : Infinity;
    while (!signal.aborted && remaining > 0) {
      if (this.pausedGate) await this.pausedGate.promise;
      if (this.checkpointGate) await this.checkpointGate.promise;
      if (signal.aborted) return;
      const batch = await withRetry(() => source.read(), retry, `${r.node.id}: read`, this.log, signal);
      if (signal.aborted) return; // a batch read while stopping is dropped: its position is not committed
      if (!batch) break;
      let records = batch.records;
      if (records.length > remaining) records = records.slice(0, remaining);
      remaining -= records.length;
      const tracker = ledger.track(batch.position);
      r.stats.out += records.length;
      this.capture(r, 'out', 'out', records);
      await this.emit(r, 'out', records, tracker);
      if (batch.errors?.length) await this.emit(r, ERROR_PORT, batch.errors, tracker);
      tracker.release();
      // Nodes that never wait on I/O (generate, SQLite) would otherwise keep the loop in microtasks:
      // let timers, signals and sockets in between batches.
      await yieldToEventLoop();
    }
    await this.endDownstream(r);
  }

  private async transformLoop(r: Runner, t: TransformInstance): Promise<void> {
    const width = Math.floor(t.concurrency ?? 1);
    if (width > 1 && !t.tick && !t.snapshot) return this.overlappingTransformLoop(r, t, width);
    let ends = 0;
    for (;;) {
      const item = await r.inbox!.shift();
      if (item === 'tick') {
        if (t.tick && !this.stopController.signal.aborted) {
          const tracker = this.internal.track(undefined);
          await this.emitAll(r, await t.tick(Date.now()), tracker);
          tracker.release();
        }
        continue;
      }
      if (item === 'end') {
        if (++ends < r.node.inputs.length) continue;
        if (t.flush) {
          const tracker = this.internal.track(undefined);
          await this.emitAll(r, await t.flush(), tracker);
          tracker.release();
        }
        return this.endDownstream(r);
      }
      r.stats.in += item.records.length;
      this.capture(r, 'in', item.port, item.records);
      const outputs = await t.process(item.records, item.port);
      await this.emitAll(r, outputs, item.tracker);
      item.tracker.release();
    }
  }

  /**
   * A stateless transform with up to `width` batches in process() at once: one loop starts them in
   * input order, the other emits their outputs in that same order, so downstream sees what the serial
   * loop would emit, while batch n+1 is in the sandbox as batch n is written.
   */
  private async overlappingTransformLoop(r: Runner, t: TransformInstance, width: number): Promise<void> {
    type Started = { item: Exclude<Item, 'end' | 'tick'>; outputs: Promise<PortOutputs> } | 'end';
    const started = new BoundedQueue<Started>(width);
    const slots = new BoundedQueue<true>(width);
    const starter = async () => {
      let ends = 0;
      for (;;) {
        const item = await r.inbox!.shift();
        if (item === 'tick') continue;
        if (item === 'end') {
          if (++ends < r.node.inputs.length) continue;
          await started.push('end');
          return;
        }
        await slots.push(true);
        r.stats.in += item.records.length;
        this.capture(r, 'in', item.port, item.records);
        const outputs = t.process(item.records, item.port);
        outputs.catch(() => undefined); // the emitter below sees the rejection, in order
        await started.push({ item, outputs });
      }
    };
    const emitter = async () => {
      for (;;) {
        const s = await started.shift();
        if (s === 'end') {
          if (t.flush) {
            const tracker = this.internal.track(undefined);
            await this.emitAll(r, await t.flush(), tracker);
            tracker.release();
          }
          return this.endDownstream(r);
        }
        await this.emitAll(r, await s.outputs, s.item.tracker);
        s.item.tracker.release();
        await slots.shift();
      }
    };
    await Promise.all([starter(), emitter()]);
  }

  private async sinkLoop(r: Runner, sink: SinkInstance): Promise<void> {
    const { retry } = this.plan.flow.settings;
    let ends = 0;
    for (;;) {
      const item = await r.inbox!.shift();
      if (item === 'tick') continue;
      if (item === 'end') {
        if (++ends < r.node.inputs.length) continue;
        return;
      }
      const records = item.records;
      r.stats.in += records.length;
      this.capture(r, 'in', item.port, records);
      if (this.options.preview) {
        const would = (r.preview!.wouldWrite ??= { ops: EMPTY_OPS(), sample: [] });
        for (const rec of records) would.ops[rec.op]++;
        const room = (this.options.preview.sample ?? 100) - would.sample.length;
        if (room > 0) would.sample.push(...records.slice(0, room));
      } else if (records.length > 0) {
        const result = await withRetry(() => sink.write(records), retry, `${r.node.id}: write`, this.log);
        // records the sink refused for good (a 4xx answer, a broker's rejection): dead letters, with why
        if (result?.rejected?.length) await this.emit(r, ERROR_PORT, result.rejected, item.tracker);
      }
      r.stats.out += records.length;
      for (const rec of records) r.stats.ops![rec.op]++;
      item.tracker.release();
    }
  }

  private async emitAll(r: Runner, outputs: PortOutputs, tracker: Tracker): Promise<void> {
    for (const [port, records] of Object.entries(outputs)) {
      if (!records || records.length === 0) continue;
      if (port !== ERROR_PORT) {
        r.stats.out += records.length;
        this.capture(r, 'out', port, records);
      }
      await this.emit(r, port, records, tracker);
    }
  }

  /** sends records to every edge of `port`; error records without a wired error port are dead-lettered */
  private async emit(r: Runner, port: string, records: SluiceRecord[], tracker: Tracker): Promise<void> {
    if (records.length === 0) return;
    this.memoryWatch?.check();
    const edges = r.node.outputs.get(port) ?? [];
    if (port === ERROR_PORT) {
      for (const rec of records) {
        rec.meta.error ??= { node: r.node.id, message: 'failed' };
        // what a record failed with may echo a URL with its password: masked before it is shown or stored
        rec.meta.error.message = (this.options.redact ?? redactText)(rec.meta.error.message);
      }
      r.stats.errors += records.length;
      if (r.preview) r.preview.errors.push(...records.slice(0, Math.max(0, (this.options.preview?.sample ?? 100) - r.preview.errors.length)));
      if (edges.length === 0) return this.deadLetter(r, records);
    }
    for (const edge of edges) {
      tracker.hold();
      this.edgeCounts[edge.index] += records.length;
      await this.runners.get(edge.to)!.inbox!.push({ port: edge.toPort, records, tracker });
    }
  }

  private async endDownstream(r: Runner): Promise<void> {
    for (const edges of r.node.outputs.values()) {
      for (const edge of edges) await this.runners.get(edge.to)!.inbox!.push('end');
    }
  }

  private async deadLetter(r: Runner, records: SluiceRecord[]): Promise<void> {
    const first = records[0];
    if (this.plan.flow.settings.onError === 'stop') {
      throw new NodeError(r.node.id, `${first.meta.error?.message} (record key ${JSON.stringify(first.key)}; settings.onError is "stop")`);
    }
    if (this.options.preview || !this.options.store) return;
    const letters: DeadLetter[] = records.map((rec) => ({ node: r.node.id, error: rec.meta.error?.message ?? 'failed', record: rec }));
    await this.options.store.deadLetter(this.name, letters);
    this.deadLetterCount += letters.length;
  }

  private capture(r: Runner, direction: 'in' | 'out', port: string, records: SluiceRecord[]): void {
    if (records.length === 0) return;
    this.options.tap?.({ node: r.node.id, direction, port, records });
    if (!r.preview) return;
    const max = this.options.preview?.sample ?? 100;
    const list = direction === 'in' ? r.preview.input : (r.preview.output[port] ??= []);
    if (list.length < max) list.push(...records.slice(0, max - list.length));
  }

  // ---- commits ---------------------------------------------------------------------------------

  private onAdvance(): void {
    if (this.stateful || this.options.preview) return; // stateful flows commit at aligned checkpoints
    void this.commit(false).catch((err) => this.fail(undefined, err));
  }

  /** saves every source's committable position (and node state when `withState`); serialised, coalesced */
  private commit(withState: boolean): Promise<void> {
    if (this.commitQueued && !withState) return this.commitChain;
    this.commitQueued = true;
    this.commitChain = this.commitChain
      .catch(() => undefined)
      .then(() => {
        this.commitQueued = false;
        return this.saveCheckpoint(withState);
      });
    return this.commitChain;
  }

  private async saveCheckpoint(withState: boolean): Promise<void> {
    if (this.stateful && !withState) return;
    const positions: Record<string, unknown> = {};
    for (const [id, l] of this.ledgers) if (l.committable !== undefined) positions[id] = l.committable;
    const state: Record<string, unknown> = {};
    for (const [id, r] of this.runners) {
      if (r.instance?.kind === 'transform' && r.instance.snapshot) state[id] = r.instance.snapshot();
    }
    await this.options.store!.save(this.name, { positions, state }, this.lease?.token ?? 0);
    for (const [id, position] of Object.entries(positions)) {
      const inst = this.runners.get(id)?.instance;
      if (inst?.kind === 'source' && inst.committed) {
        try {
          await inst.committed(position);
        } catch (err) {
          this.log.warn(`${id}: could not confirm committed position upstream: ${errorMessage(err)}`);
        }
      }
    }
  }

  /** pauses the sources, waits until nothing is in flight, saves state and positions together */
  private async alignedCheckpoint(): Promise<void> {
    if (this.checkpointGate || this.stopController.signal.aborted) return;
    let open!: () => void;
    this.checkpointGate = { promise: new Promise<void>((r) => (open = r)), open };
    try {
      while (this.inFlight() > 0 && !this.stopController.signal.aborted) await sleep(1);
      if (!this.stopController.signal.aborted) await this.commit(true);
    } catch (err) {
      this.fail(undefined, err);
    } finally {
      this.checkpointGate = undefined;
      open();
    }
  }
}
