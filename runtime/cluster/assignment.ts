/**
 * Which agent runs which flow: a pure function of the flows that should run, the live agents and the
 * current assignment, so the leader can call it at every tick and tests can call it with made-up
 * inputs. Balanced by weight (a flow's settings.weight, 1 by default) and by count; sticky: a flow
 * stays where it runs unless its agent is gone or draining, or moving it makes the spread strictly
 * more even, so a new agent takes a fair share and nothing else moves.
 */

export interface FlowDemand {
  flowId: string;
  /** how heavy it is relative to others (default 1) */
  weight?: number;
}

export interface AgentSupply {
  name: string;
  /** at most this many flows (default: no limit) */
  capacity?: number;
  /** stopping (SIGTERM): it keeps nothing and gets nothing */
  draining?: boolean;
}

export interface Member extends AgentSupply {
  /** ms since the epoch (Redis time) of its last heartbeat */
  heartbeatAt: number;
}

/** flow id → agent name */
export type Assignment = Record<string, string>;

/** the members whose last heartbeat is at most `deadAfterMs` old at `now` */
export function liveAgents<T extends Member>(members: T[], now: number, deadAfterMs: number): T[] {
  return members.filter((m) => now - m.heartbeatAt <= deadAfterMs);
}

interface Load {
  agent: AgentSupply;
  weight: number;
  flows: Set<string>;
}

const weightOf = (f: FlowDemand) => (f.weight && f.weight > 0 ? f.weight : 1);
const full = (l: Load) => l.agent.capacity !== undefined && l.flows.size >= l.agent.capacity;
/** lighter first: by weight, then by count, then by name (deterministic) */
const lighter = (a: Load, b: Load) => a.weight - b.weight || a.flows.size - b.flows.size || a.agent.name.localeCompare(b.agent.name);

/**
 * The next assignment. Flows with no live agent left (every agent full or draining) are absent from it.
 * Moves only as many flows as needed: a flow leaves an agent only when it lands on one that then still
 * carries strictly less than the first one did. `rebalance: false` places only the flows without a home
 * (the leader's choice while agents are still joining, so a rolling start moves each flow once).
 */
export function assign(flows: FlowDemand[], agents: AgentSupply[], current: Assignment, options: { rebalance?: boolean } = {}): Assignment {
  const loads = new Map<string, Load>();
  for (const a of agents) if (!a.draining) loads.set(a.name, { agent: a, weight: 0, flows: new Set() });
  const demand = new Map(flows.map((f) => [f.flowId, weightOf(f)]));
  const out: Assignment = {};

  // 1. sticky: what runs on a live agent stays there (up to its capacity, heaviest kept first)
  const kept = flows
    .filter((f) => loads.has(current[f.flowId]))
    .sort((a, b) => weightOf(b) - weightOf(a) || a.flowId.localeCompare(b.flowId));
  const homeless: FlowDemand[] = flows.filter((f) => !loads.has(current[f.flowId]));
  for (const f of kept) {
    const l = loads.get(current[f.flowId])!;
    if (full(l)) {
      homeless.push(f);
      continue;
    }
    place(l, f.flowId, weightOf(f), out);
  }

  // 2. flows without a home (new, or their agent died or drains): heaviest first, each on the lightest agent
  homeless.sort((a, b) => weightOf(b) - weightOf(a) || a.flowId.localeCompare(b.flowId));
  for (const f of homeless) {
    const target = [...loads.values()].filter((l) => !full(l)).sort(lighter)[0];
    if (target) place(target, f.flowId, weightOf(f), out);
  }

  // 3. rebalance: move from the heaviest to the lightest agent while that makes the spread strictly
  // more even; the heaviest flow that fits moves first, so as few flows as possible move
  for (let guard = 0; options.rebalance !== false && guard < flows.length * 2; guard++) {
    const sorted = [...loads.values()].sort(lighter);
    const heavy = sorted[sorted.length - 1];
    const light = sorted.find((l) => !full(l));
    if (!heavy || !light || heavy === light) break;
    const candidates = [...heavy.flows]
      .map((id) => ({ id, w: demand.get(id)! }))
      .filter(({ w }) => light.weight + w < heavy.weight || (light.weight + w === heavy.weight && light.flows.size + 1 < heavy.flows.size - 1))
      .sort((a, b) => b.w - a.w || a.id.localeCompare(b.id));
    const move = candidates[0];
    if (!move) break;
    heavy.flows.delete(move.id);
    heavy.weight -= move.w;
    place(light, move.id, move.w, out);
  }
  return out;
}

function place(l: Load, flowId: string, weight: number, out: Assignment): void {
  l.flows.add(flowId);
  l.weight += weight;
  out[flowId] = l.agent.name;
}

/** the flows whose agent changed between two assignments (a new flow or a dropped one counts too) */
export function moved(before: Assignment, after: Assignment): string[] {
  const ids = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...ids].filter((id) => before[id] !== after[id]).sort();
}
