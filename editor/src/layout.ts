/**
 * Node geometry: auto layout, left to right, with dagre (sources on the left, sinks on the right, few
 * crossings), and where a node's handles are before it is drawn (large flows).
 */
import { Graph, layout } from '@dagrejs/dagre';
import { getViewportForBounds, Position, type NodeHandle, type ReactFlowInstance, type Rect, type XYPosition } from '@xyflow/react';
import { inputsOf } from '../../runtime/node-api.js';
import type { NodeTypeInfo } from './api.js';
import type { Catalog, FlowEdge, FlowNode } from './doc.js';

/** the size of a node as styles.css draws it (.flow-node), before counters or errors add rows */
export interface FitOptions {
  padding: number;
  minZoom: number;
  maxZoom: number;
  duration?: number;
}

/** "fit the flow in view": the whole flow, however small that makes it */
export const FIT_ALL: FitOptions = { padding: 0.2, minZoom: 0.05, maxZoom: 1.1, duration: 200 };

/**
 * Fits the flow in the canvas. Computed here rather than with React Flow's fitView, which waits until
 * every node has been measured, and in a large flow the nodes out of view are never drawn. `pane`: the
 * canvas size when the caller knows it (React Flow's store has it), which spares a forced layout of the
 * whole page while a flow is being put on the canvas.
 */
export function fitFlow(
  rf: ReactFlowInstance<FlowNode, FlowEdge>,
  options: FitOptions = FIT_ALL,
  nodes: FlowNode[] = rf.getNodes(),
  pane?: { width: number; height: number },
): void {
  if (nodes.length === 0) return;
  let size = pane && pane.width > 0 && pane.height > 0 ? pane : undefined;
  if (!size) {
    const el = document.querySelector('.react-flow');
    if (!el) return;
    size = { width: el.clientWidth, height: el.clientHeight };
  }
  const v = getViewportForBounds(boundsOf(nodes), size.width, size.height, options.minZoom, options.maxZoom, options.padding);
  void rf.setViewport(v, { duration: options.duration });
}

/** the flow's extent; nodes not drawn yet count at their nominal size (no sub flows here) */
function boundsOf(nodes: readonly FlowNode[]): Rect {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (const n of nodes) {
    x1 = Math.min(x1, n.position.x);
    y1 = Math.min(y1, n.position.y);
    x2 = Math.max(x2, n.position.x + (n.measured?.width ?? NODE_W));
    y2 = Math.max(y2, n.position.y + (n.measured?.height ?? NODE_H));
  }
  return { x: x1, y: y1, width: x2 - x1, height: y2 - y1 };
}

/** brings one node to the middle of the canvas */
export function focusNode(rf: ReactFlowInstance<FlowNode, FlowEdge>, id: string): void {
  const n = rf.getNode(id);
  if (n) void rf.setCenter(n.position.x + NODE_W / 2, n.position.y + NODE_H / 2, { zoom: Math.max(rf.getZoom(), 0.8), duration: 200 });
}

/** above this many nodes only the nodes in view are rendered */
export const LARGE_FLOW = 200;
export const NODE_W = 216;
export const NODE_H = 56;
const BORDER_TOP = 3;
const BORDER = 1;
const HANDLE = 9;

/** a length as the browser lays it out: in 1/64 px, rounded down (a handle's `top: 33.3%`) */
const layoutUnits = (px: number) => Math.floor(px * 64 + 1e-6) / 64;

/**
 * The handles of a node not yet drawn, where FlowNode.tsx will put them (ports spread evenly down each
 * side; the input ports as the config selects them, like FlowNode). With them React Flow draws the
 * edges of a large flow without first rendering every node to measure it, so only the nodes in view
 * are rendered.
 */
export function declaredHandles(id: string, t: NodeTypeInfo | undefined, config: unknown = {}, height = NODE_H): NodeHandle[] {
  const side = (ports: { name: string }[], type: 'source' | 'target'): NodeHandle[] =>
    ports.map((p, i) => ({
      id: p.name,
      nodeId: id,
      type,
      position: type === 'source' ? Position.Right : Position.Left,
      x: type === 'source' ? NODE_W - BORDER - HANDLE / 2 - 1 : -HANDLE / 2 + BORDER,
      y: BORDER_TOP + layoutUnits(((i + 1) / (ports.length + 1)) * (height - BORDER_TOP - BORDER)) - HANDLE / 2,
      width: HANDLE,
      height: HANDLE,
    }));
  return [...side(t ? inputsOf(t, config) : [{ name: 'in' }], 'target'), ...side(t?.outputs ?? [{ name: 'out' }], 'source')];
}

/**
 * Large flows: nodes carry their size and handles up front (see declaredHandles), as if measured. A node
 * drawn at that size is not measured again, so its edges are not drawn twice; one drawn at another size
 * (counters, an error) is measured by React Flow, and its real handles then replace the declared ones
 * (store-graph.ts onNodesChange). A change of config drops both (the ports may change: updateNode).
 */
export function predeclare(nodes: FlowNode[], catalog: Catalog): FlowNode[] {
  return nodes.map((n) => ({ ...n, measured: { width: NODE_W, height: NODE_H }, handles: declaredHandles(n.id, catalog[n.data.type], n.data.config) }));
}

export function autoLayout(nodes: readonly FlowNode[], edges: readonly FlowEdge[]): FlowNode[] {
  const g = new Graph({ multigraph: true });
  g.setGraph({ rankdir: 'LR', nodesep: 28, ranksep: 72, marginx: 20, marginy: 20 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of nodes) g.setNode(n.id, { width: n.measured?.width ?? NODE_W, height: n.measured?.height ?? NODE_H });
  for (const e of edges) g.setEdge(e.source, e.target, {}, e.id);
  layout(g);
  return nodes.map((n) => {
    const p = g.node(n.id);
    if (!p) return n;
    const w = n.measured?.width ?? NODE_W;
    const h = n.measured?.height ?? NODE_H;
    return { ...n, position: { x: Math.round(p.x - w / 2), y: Math.round(p.y - h / 2) } };
  });
}

/** room kept around a node when one is placed beside it */
const GAP = 24;

/**
 * The first place at or below `wanted` where a node of the usual size covers no other node: nodes added
 * without a position (keyboard, double-click, quick wiring) never land on top of each other.
 */
export function freeSpot(wanted: XYPosition, nodes: readonly Pick<FlowNode, 'position' | 'measured'>[]): XYPosition {
  const hits = (p: XYPosition) =>
    nodes.some((n) => {
      const w = n.measured?.width ?? NODE_W;
      const h = n.measured?.height ?? NODE_H;
      return p.x < n.position.x + w + GAP && p.x + NODE_W + GAP > n.position.x && p.y < n.position.y + h + GAP && p.y + NODE_H + GAP > n.position.y;
    });
  for (let i = 0; i < 200; i++) {
    const p = { x: wanted.x, y: wanted.y + i * (NODE_H + GAP) };
    if (!hits(p)) return p;
  }
  return wanted;
}

/** where a node added after `source` goes: to its right, at its height, free of other nodes */
export function placeAfter(source: Pick<FlowNode, 'position' | 'measured'>, nodes: readonly Pick<FlowNode, 'position' | 'measured'>[]): XYPosition {
  const w = source.measured?.width ?? NODE_W;
  return freeSpot({ x: source.position.x + w + 96, y: source.position.y }, nodes);
}

/** where the node picker shows for an element of the canvas (a "+" button): beside it, in the canvas' pixels */
export function besideInCanvas(el: Element): { x: number; y: number } {
  const r = el.getBoundingClientRect();
  const c = el.closest('.canvas')?.getBoundingClientRect() ?? { left: 0, top: 0 };
  return { x: Math.round(r.right - c.left + 8), y: Math.round(r.top - c.top - 8) };
}

/** pans (never zooms) just enough that a node at `p` is in view, with room for its "+" and the picker */
export function revealPosition(rf: Pick<ReactFlowInstance<FlowNode, FlowEdge>, 'getViewport' | 'setViewport'>, p: XYPosition, canvas: { width: number; height: number }): void {
  const { x, y, zoom } = rf.getViewport();
  const margin = 60;
  const left = p.x * zoom + x;
  const top = p.y * zoom + y;
  const right = left + (NODE_W + 300) * zoom;
  const bottom = top + NODE_H * zoom;
  let dx = 0;
  let dy = 0;
  if (right > canvas.width - margin) dx = canvas.width - margin - right;
  if (left + dx < margin) dx = margin - left;
  if (bottom > canvas.height - margin) dy = canvas.height - margin - bottom;
  if (top + dy < margin) dy = margin - top;
  if (dx !== 0 || dy !== 0) void rf.setViewport({ x: x + dx, y: y + dy, zoom }, { duration: 150 });
}

/** a node just added at `p` (picker, palette): brought into view of the canvas */
export function revealAdded(rf: Pick<ReactFlowInstance<FlowNode, FlowEdge>, 'getViewport' | 'setViewport'>, p: XYPosition): void {
  const c = document.querySelector('.canvas')?.getBoundingClientRect();
  if (c) revealPosition(rf, p, c);
}
