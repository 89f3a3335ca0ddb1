/**
 * The Prometheus metrics of the flows a process runs (prom-client, one Registry per instance, no
 * global one). Counts, states and source lag are read when scraped from what the deployments report
 * (the same numbers as their status and run summary); batch and checkpoint durations arrive through
 * each run's observer (executor/observer.ts); queue depths are read from the runs this process holds.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { NodeStats, RunStatus } from '../executor/flow-run.js';
import type { RunObserver } from '../executor/observer.js';
import type { SourceProgress } from '../node-api.js';
import { sandboxActivity } from '../sandbox/sandbox.js';

/** what a deployment reports of itself; DeploymentStatus is one */
export interface FlowSnapshot {
  flowId: string;
  status: RunStatus | 'not-deployed';
  nodes: Record<string, NodeStats>;
  deadLetters: number;
  progress?: Record<string, Pick<SourceProgress, 'lag'>>;
}

/** a run this process holds: its inboxes can be looked at */
export interface QueueView {
  queueDepths(): Record<string, number>;
}

export const DEPLOYMENT_STATES = ['starting', 'running', 'paused', 'stopping', 'completed', 'stopped', 'failed'] as const;

const BATCH_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const CHECKPOINT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

export class RunMetrics {
  readonly registry = new Registry();
  private readonly runs = new Map<string, QueueView>();
  private readonly batchSeconds: Histogram<'flow' | 'node'>;
  private readonly checkpointSeconds: Histogram<'flow'>;
  private processMetrics = false;

  /** `flows`: every deployment this process knows, read at each scrape */
  constructor(private flows: () => FlowSnapshot[] = () => []) {
    const registers = [this.registry];
    const self = this;
    /** a counter whose value is the deployments' own count, set at each scrape (a new run starts at 0: a counter reset) */
    const countOf = (name: string, help: string, pick: (n: NodeStats) => number) =>
      new Counter({
        name,
        help,
        labelNames: ['flow', 'node'],
        registers,
        collect() {
          this.reset();
          for (const f of self.flows()) for (const [node, n] of Object.entries(f.nodes)) this.inc({ flow: f.flowId, node }, pick(n));
        },
      });
    countOf('sluice_node_records_in_total', 'records a node took in', (n) => n.in);
    countOf('sluice_node_records_out_total', 'records a node put out (sinks: written)', (n) => n.out);
    countOf('sluice_node_errors_total', 'records that failed in a node (to its error port or the dead-letter store)', (n) => n.errors);
    new Counter({
      name: 'sluice_flow_dead_letters_total',
      help: 'records a deployment sent to the dead-letter store',
      labelNames: ['flow'],
      registers,
      collect() {
        this.reset();
        for (const f of self.flows()) this.inc({ flow: f.flowId }, f.deadLetters);
      },
    });
    new Gauge({
      name: 'sluice_deployment_state',
      help: 'a deployment\'s state: 1 for the state it is in, 0 for the others',
      labelNames: ['flow', 'state'],
      registers,
      collect() {
        this.reset();
        for (const f of self.flows()) {
          if (f.status === 'not-deployed') continue;
          for (const state of DEPLOYMENT_STATES) this.set({ flow: f.flowId, state }, f.status === state ? 1 : 0);
        }
      },
    });
    new Gauge({
      name: 'sluice_node_queue_depth',
      help: 'batches waiting in front of a node',
      labelNames: ['flow', 'node'],
      registers,
      collect() {
        this.reset();
        for (const [flow, run] of self.runs) for (const [node, depth] of Object.entries(run.queueDepths())) this.set({ flow, node }, depth);
      },
    });
    const lag = (name: string, help: string, unit: 'bytes' | 'ms') =>
      new Gauge({
        name,
        help,
        labelNames: ['flow', 'node'],
        registers,
        collect() {
          this.reset();
          for (const f of self.flows()) {
            for (const [node, p] of Object.entries(f.progress ?? {})) {
              const v = p.lag?.[unit];
              if (typeof v === 'number') this.set({ flow: f.flowId, node }, unit === 'ms' ? v / 1000 : v);
            }
          }
        },
      });
    lag('sluice_source_lag_bytes', 'how far a CDC source is behind its server (PostgreSQL: WAL bytes behind the slot)', 'bytes');
    lag('sluice_source_lag_seconds', 'how old the last change a CDC source read was when it read it (MySQL/MariaDB binlog)', 'ms');
    this.batchSeconds = new Histogram({
      name: 'sluice_node_batch_duration_seconds',
      help: "time a transform's process() or a sink's write() took for one batch (sink retries included)",
      labelNames: ['flow', 'node'],
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.checkpointSeconds = new Histogram({
      name: 'sluice_checkpoint_duration_seconds',
      help: 'time one checkpoint (positions, and node state in stateful flows) took to write',
      labelNames: ['flow'],
      buckets: CHECKPOINT_BUCKETS,
      registers,
    });
    new Counter({
      name: 'sluice_sandbox_calls_total',
      help: 'batch calls of user code (map, filter, ...) sent to the sandbox workers of this process',
      registers,
      collect() {
        this.reset();
        this.inc(sandboxActivity.calls);
      },
    });
    new Counter({
      name: 'sluice_sandbox_worker_restarts_total',
      help: 'sandbox worker processes started again after one ended (a crash, a memory or time limit)',
      registers,
      collect() {
        this.reset();
        this.inc(sandboxActivity.workerRestarts);
      },
    });
  }

  /** where the deployments are read from at each scrape (the server's, in cluster mode the control plane's) */
  readFrom(flows: () => FlowSnapshot[]): void {
    this.flows = flows;
  }

  /** the observer to hand the run of `flowId` (FlowRun's `observer` option); the run's queues are watched from now on */
  watch(flowId: string, run: QueueView): RunObserver {
    this.runs.set(flowId, run);
    return {
      batch: (node, seconds) => this.batchSeconds.observe({ flow: flowId, node }, seconds),
      checkpoint: (seconds) => this.checkpointSeconds.observe({ flow: flowId }, seconds),
    };
  }

  /** stops watching the queues of a flow that is deleted (its histograms stay until the process restarts) */
  forget(flowId: string): void {
    this.runs.delete(flowId);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /**
   * adds the process's metrics (CPU, memory, event loop, handles); the host calls it when it starts
   * serving them, as prom-client counts CPU from then on
   */
  collectProcessMetrics(): void {
    if (this.processMetrics) return;
    this.processMetrics = true;
    collectDefaultMetrics({ register: this.registry });
  }

  /** the scrape: the flows' metrics and the process's */
  async text(): Promise<string> {
    this.collectProcessMetrics();
    return this.registry.metrics();
  }
}
