/**
 * Dead letters replayed: the records that failed in a node go through that node again, and on through
 * the flow to its sinks, in a run of their own beside the deployment (after the code was fixed and the
 * flow deployed again, say). The run is the part of the flow from that node on, fed by a source that
 * gives the records once; it commits no position. A record that fails again becomes a new dead letter
 * with its new error; the replayed letters are then removed. Nodes that keep state (an aggregate, a
 * nest) cannot be replayed through apart from the running flow, so a replay that would reach one is
 * refused, as is a node with several inputs (a letter does not say which input it came on).
 */
import { UserError } from '../errors.js';
import { FlowRun } from '../executor/flow-run.js';
import type { CompiledFlow, CompiledNode } from '../flow/compile.js';
import { fixedSource } from '../flow/fixed-source.js';
import type { ResolvedEdge } from '../flow/validate.js';
import { InProcessLockService } from '../lock/lock.js';
import type { Logger } from '../node-api.js';
import type { SluiceRecord } from '../records.js';
import type { CheckpointStore, StoredDeadLetter } from '../state/checkpoint-store.js';
import { countingDeadLetters } from '../state/counting-store.js';
import type { ReplayResult } from '../state/operations-wire.js';

export type { ReplayResult };

/** the id of the source that feeds the replayed records in */
const FEED = '__replay';

/**
 * The part of `plan` from `nodeId` on, fed by `records`: when the node is a source, it gives them itself;
 * otherwise a source added in front of it does. A UserError when the replay cannot be made.
 */
export function replayPlan(plan: CompiledFlow, nodeId: string, records: () => SluiceRecord[]): CompiledFlow {
  const byId = new Map(plan.nodes.map((n) => [n.id, n]));
  const start = byId.get(nodeId);
  if (!start) throw new UserError(`node ${nodeId} is not in the flow's deployed version: the letters cannot be replayed through it (discard them, or deploy a version that has it)`);
  const ports = new Set(start.inputs.map((e) => e.toPort));
  if (ports.size > 1) throw new UserError(`node ${nodeId} has ${ports.size} inputs (${[...ports].join(', ')}): a dead letter does not say which one it came on, so it cannot be replayed`);
  // every node downstream of the start, the start included
  const reach = new Set<string>([nodeId]);
  for (const queue = [start]; queue.length > 0; ) {
    const n = queue.shift()!;
    for (const edges of n.outputs.values()) {
      for (const e of edges) {
        if (reach.has(e.to)) continue;
        reach.add(e.to);
        queue.push(byId.get(e.to)!);
      }
    }
  }
  for (const id of reach) {
    const n = byId.get(id)!;
    if (n.type.stateful?.(n.config as never)) {
      throw new UserError(`replaying through ${nodeId} would reach ${id} (${n.type.type}), which keeps state: records replayed apart from the running flow would be counted in a state of their own. Not supported yet`);
    }
  }
  const edges: ResolvedEdge[] = [];
  const renumber = (e: ResolvedEdge): ResolvedEdge => {
    const out = { ...e, index: edges.length };
    edges.push(out);
    return out;
  };
  const kept = plan.nodes.filter((n) => reach.has(n.id));
  const feedEdge = start.inputs.length > 0 ? renumber({ ...start.inputs[0], from: FEED, fromPort: 'out' }) : undefined;
  const outputsOf = new Map<string, Map<string, ResolvedEdge[]>>();
  for (const n of kept) {
    const outputs = new Map<string, ResolvedEdge[]>();
    for (const [port, es] of n.outputs) outputs.set(port, es.map(renumber));
    outputsOf.set(n.id, outputs);
  }
  const nodes: CompiledNode[] = kept.map((n) => ({
    ...n,
    outputs: outputsOf.get(n.id)!,
    inputs: n.id === nodeId ? (feedEdge ? [feedEdge] : []) : edges.filter((e) => e.to === n.id),
  }));
  if (feedEdge) {
    const feed: CompiledNode = { id: FEED, type: { ...start.type, type: 'replay', inputs: [], outputs: [{ name: 'out' }] }, config: {}, inputs: [], outputs: new Map([['out', [feedEdge]]]) };
    nodes.unshift(fixedSource(feed, records));
  } else {
    nodes[nodes.findIndex((n) => n.id === nodeId)] = fixedSource(nodes.find((n) => n.id === nodeId)!, records);
  }
  const flow = { ...plan.flow, nodes: plan.flow.nodes.filter((n) => reach.has(n.id)), edges: edges.map(({ from, to }) => ({ from, to })) };
  return { ...plan, flow, nodes, edges };
}

/**
 * Replays `letters` (all failed in one flow) through `plan` from each letter's node, one run per node,
 * and removes them from `store`. Records that fail again are written to `store` as new dead letters.
 */
export async function replayDeadLetters(plan: CompiledFlow, letters: StoredDeadLetter[], store: CheckpointStore, options: { cwd?: string; log?: Logger; redact?: (t: string) => string } = {}): Promise<ReplayResult> {
  const flowName = plan.flow.name;
  const byNode = new Map<string, StoredDeadLetter[]>();
  for (const l of letters) byNode.set(l.node, [...(byNode.get(l.node) ?? []), l]);
  // all plans first: nothing is replayed when one of the nodes cannot be
  const runs = [...byNode].map(([node, ls]) => ({ ls, plan: replayPlan(plan, node, () => ls.map((l) => fresh(l.record))) }));
  const result: ReplayResult = { replayed: 0, failedAgain: 0, status: 'completed' };
  for (const { ls, plan: sub } of runs) {
    let failed = 0;
    const view = countingDeadLetters(store, (n) => (failed += n), { positions: false });
    const summary = await new FlowRun(sub, { store: view, locks: new InProcessLockService(), cwd: options.cwd, log: options.log, redact: options.redact }).run();
    if (summary.status === 'failed') return { ...result, status: 'failed', error: summary.error };
    await store.discardDeadLetters(flowName, ls.map((l) => l.id));
    result.replayed += ls.length;
    result.failedAgain += failed;
  }
  return result;
}

/** the record as it first reached the node: without the error of its failed try */
function fresh(r: SluiceRecord): SluiceRecord {
  const { error: _error, ...meta } = r.meta ?? {};
  return { ...r, meta };
}
