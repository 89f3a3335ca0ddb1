/**
 * The per-node state a run keeps (its instance, inbox, counts and preview sample) and what travels
 * through the inboxes, shared by the parts of the executor.
 */
import type { CompiledFlow, CompiledNode } from '../flow/compile.js';
import type { NodeInstance } from '../node-api.js';
import type { Op, SluiceRecord } from '../records.js';
import type { NodePreview, NodeStats } from './run-summary.js';
import { BoundedQueue } from './queue.js';
import type { PositionLedger, Tracker } from './tracker.js';

export type { NodePreview, NodeStats } from './run-summary.js';

export type Item = { port: string; records: SluiceRecord[]; tracker: Tracker } | 'end' | 'tick';

export interface Runner {
  node: CompiledNode;
  instance?: NodeInstance;
  inbox?: BoundedQueue<Item>;
  stats: NodeStats;
  preview?: NodePreview;
}

export const EMPTY_OPS = (): Record<Op, number> => ({ c: 0, u: 0, d: 0, r: 0 });

/** one runner per node: a bounded inbox in front of every node with inputs (its edges share it) */
export function makeRunners(plan: CompiledFlow, preview: boolean): Map<string, Runner> {
  const runners = new Map<string, Runner>();
  for (const node of plan.nodes) {
    const runner: Runner = { node, stats: { in: 0, out: 0, errors: 0 } };
    if (node.type.outputs.length === 0) runner.stats.ops = EMPTY_OPS();
    if (node.inputs.length > 0) runner.inbox = new BoundedQueue(plan.flow.settings.queueSize);
    if (preview) runner.preview = { input: [], output: {}, errors: [] };
    runners.set(node.id, runner);
  }
  return runners;
}

/** batches read but not yet acknowledged, over every source and the run's internal work */
export function inFlight(ledgers: Iterable<PositionLedger>): number {
  let n = 0;
  for (const l of ledgers) n += l.inFlight;
  return n;
}

/** a promise that is open or closed: sources wait on it while a run is paused or checkpointing */
export class Gate {
  readonly promise: Promise<void>;
  readonly open: () => void;
  constructor() {
    let open!: () => void;
    this.promise = new Promise<void>((r) => (open = r));
    this.open = open;
  }
}
