/** One summary for a run in lanes: the lanes' own summaries added up (records per node and edge, dead letters). */
import type { RunSummary } from '../run-summary.js';
import type { LanesResult } from './coordinator.js';

export function lanesSummary(flow: string, r: LanesResult, durationMs: number): RunSummary {
  const nodes: RunSummary['nodes'] = {};
  const edges: number[] = [];
  let deadLetters = 0;
  let stopped = false;
  const positions: Record<string, unknown> = {};
  for (const [i, s] of r.summaries.entries()) {
    if (!s) continue;
    if (s.status === 'stopped') stopped = true;
    deadLetters += s.deadLetters;
    s.edges.forEach((n, e) => (edges[e] = (edges[e] ?? 0) + n));
    positions[`lane ${i + 1}`] = s.positions;
    for (const [id, st] of Object.entries(s.nodes)) {
      const t = (nodes[id] ??= { in: 0, out: 0, errors: 0 });
      t.in += st.in;
      t.out += st.out;
      t.errors += st.errors;
      if (st.ops) {
        const ops = (t.ops ??= { c: 0, u: 0, d: 0, r: 0 });
        for (const [op, n] of Object.entries(st.ops) as [keyof typeof ops, number][]) ops[op] = (ops[op] ?? 0) + n;
      }
    }
  }
  return {
    flow,
    status: r.error ? 'failed' : stopped ? 'stopped' : 'completed',
    nodes,
    edges,
    durationMs,
    ...(r.error ? { error: r.error } : {}),
    positions,
    deadLetters,
  };
}
