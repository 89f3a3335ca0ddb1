/**
 * Wiring rules checked while the user drags a wire (React Flow's isValidConnection), with the reason
 * shown as a hint when a wire is refused. The cycle check is the runtime's own findCycle.
 */
import type { Connection, Edge } from '@xyflow/react';
import { findCycle } from '../../runtime/flow/validate.js';
import { inputsOf } from '../../runtime/node-api.js';
import type { Catalog, FlowNode } from './doc.js';

export function connectionProblem(c: Connection | Edge, nodes: readonly FlowNode[], edges: readonly Edge[], catalog: Catalog): string | null {
  const from = nodes.find((n) => n.id === c.source);
  const to = nodes.find((n) => n.id === c.target);
  if (!from || !to) return 'drop the wire on a node’s input';
  const fromType = catalog[from.data.type];
  const toType = catalog[to.data.type];
  if (from.id === to.id) return `a node cannot feed itself: "${from.id}" → "${from.id}" would be a cycle`;
  if (fromType && fromType.outputs.length === 0) return `"${from.id}" is a sink: it has no output to wire`;
  if (toType && toType.inputs.length === 0) return `"${to.id}" is a source: it takes no input`;
  if (toType && c.targetHandle && !inputsOf(toType, to.data.config).some((p) => p.name === c.targetHandle)) {
    return `"${to.id}" has no input "${c.targetHandle}" with its config`;
  }
  const sourceHandle = c.sourceHandle ?? null;
  const targetHandle = c.targetHandle ?? null;
  if (edges.some((e) => e.source === c.source && e.target === c.target && (e.sourceHandle ?? null) === sourceHandle && (e.targetHandle ?? null) === targetHandle)) {
    return `"${from.id}" is already wired to "${to.id}": records would arrive twice`;
  }
  const cycle = findCycle(
    nodes.map((n) => n.id),
    [...edges.map((e) => ({ from: e.source, to: e.target })), { from: c.source, to: c.target }],
  );
  if (cycle) return `that wire would close a cycle (${cycle.join(' → ')}): a flow must not loop back`;
  return null;
}
