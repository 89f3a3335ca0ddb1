/**
 * The flow document ↔ the canvas graph. The document is the truth (what is saved, exported and run);
 * the canvas adds only ids for edges and React Flow bookkeeping (selection, measured size).
 * Fields the editor does not show (settings, connections, anything new) ride along untouched in `meta`.
 */
import type { Edge, Node } from '@xyflow/react';
import type { FlowDoc, NodeTypeInfo } from './api.js';

export interface FlowNodeData extends Record<string, unknown> {
  type: string;
  config: Record<string, unknown>;
  name?: string;
  description?: string;
}

/** ports as written in the document: undefined when the document leaves the default implied */
export interface FlowEdgeData extends Record<string, unknown> {
  fromPort?: string;
  toPort?: string;
}

export type FlowNode = Node<FlowNodeData, 'flow'>;
export type FlowEdge = Edge<FlowEdgeData, 'count'>;
export type DocMeta = Omit<FlowDoc, 'nodes' | 'edges' | 'version'>;
export type Catalog = Record<string, NodeTypeInfo>;

export const DEFAULT_OUT = 'out';
export const ERROR_PORT = 'error';

export function outPort(t: NodeTypeInfo | undefined, written?: string): string {
  if (written) return written;
  if (!t || t.outputs.some((p) => p.name === DEFAULT_OUT)) return DEFAULT_OUT;
  return t.outputs[0]?.name ?? DEFAULT_OUT;
}

export function inPort(t: NodeTypeInfo | undefined, written?: string): string {
  if (written) return written;
  if (!t || t.inputs.length === 0) return 'in';
  return t.inputs.length === 1 ? t.inputs[0].name : (t.inputs.find((p) => p.name === 'in')?.name ?? t.inputs[0].name);
}

/** e1, e2, …: never `source-target`, which collides for two edges between the same nodes */
export function nextEdgeId(edges: readonly { id: string }[], taken: Set<string> = new Set()): string {
  let max = 0;
  for (const e of edges) {
    const m = /^e(\d+)$/.exec(e.id);
    if (m) max = Math.max(max, Number(m[1]));
  }
  let n = max + 1;
  while (taken.has(`e${n}`)) n++;
  return `e${n}`;
}

/** `core.map` → map_1, `file.sink` → file_sink_1: readable, unique, valid as a document node id */
export function nextNodeId(type: string, taken: Set<string>): string {
  const [family, name] = type.includes('.') ? type.split('.', 2) : ['', type];
  const base = (family === 'core' || !family ? name : `${family}_${name}`).replace(/[^A-Za-z0-9_]/g, '_').replace(/^(?=[0-9])/, '_');
  let n = 1;
  while (taken.has(`${base}_${n}`)) n++;
  return `${base}_${n}`;
}

export function makeEdge(id: string, source: string, target: string, sourceHandle: string, targetHandle: string, data: FlowEdgeData = {}): FlowEdge {
  return { id, type: 'count', source, target, sourceHandle, targetHandle, data, ...(sourceHandle === ERROR_PORT ? { className: 'edge-error' } : {}) };
}

export function graphFromDoc(doc: FlowDoc, catalog: Catalog): { meta: DocMeta; nodes: FlowNode[]; edges: FlowEdge[]; needsLayout: boolean } {
  const { nodes = [], edges = [], version: _version, ...meta } = doc;
  let needsLayout = false;
  const flowNodes: FlowNode[] = nodes.map((n, i) => {
    if (!n.position) needsLayout = true;
    const data: FlowNodeData = { type: n.type, config: (n.config ?? {}) as Record<string, unknown> };
    if (n.name !== undefined) data.name = n.name;
    if (n.description !== undefined) data.description = n.description;
    return { id: n.id, type: 'flow', position: n.position ?? { x: i * 240, y: 0 }, data };
  });
  const typeOf = new Map(nodes.map((n) => [n.id, catalog[n.type]]));
  const flowEdges = edges.map((e, i) => {
    const data: FlowEdgeData = {};
    if (e.fromPort !== undefined) data.fromPort = e.fromPort;
    if (e.toPort !== undefined) data.toPort = e.toPort;
    return makeEdge(`e${i + 1}`, e.from, e.to, outPort(typeOf.get(e.from), e.fromPort), inPort(typeOf.get(e.to), e.toPort), data);
  });
  return { meta: meta as DocMeta, nodes: flowNodes, edges: flowEdges, needsLayout };
}

const round = (v: number) => Math.round(v);

export function docFromGraph(meta: DocMeta, nodes: readonly FlowNode[], edges: readonly FlowEdge[], catalog: Catalog): FlowDoc {
  const typeOf = new Map(nodes.map((n) => [n.id, catalog[n.data.type]]));
  return {
    ...meta,
    nodes: nodes.map((n) => ({
      id: n.id,
      type: n.data.type,
      ...(n.data.name !== undefined ? { name: n.data.name } : {}),
      ...(n.data.description !== undefined ? { description: n.data.description } : {}),
      config: n.data.config,
      position: { x: round(n.position.x), y: round(n.position.y) },
    })),
    edges: edges.map((e) => {
      const t = typeOf.get(e.source);
      const u = typeOf.get(e.target);
      // a port is written only when the document named it or it is not the one implied
      const from = e.data?.fromPort ?? (e.sourceHandle && e.sourceHandle !== outPort(t) ? e.sourceHandle : undefined);
      const to = e.data?.toPort ?? (e.targetHandle && e.targetHandle !== inPort(u) ? e.targetHandle : undefined);
      return { from: e.source, ...(from ? { fromPort: from } : {}), to: e.target, ...(to ? { toPort: to } : {}) };
    }),
  };
}
