/** The canvas: React Flow with our node and edge types, drop from the palette, wiring rules, minimap. */
import { useCallback, useEffect, useState, type DragEvent } from 'react';
import { Background, BackgroundVariant, ControlButton, Controls, MiniMap, ReactFlow, useReactFlow, useStoreApi as useFlowStoreApi, type IsValidConnection, type OnConnectEnd } from '@xyflow/react';
import type { FlowEdge, FlowNode } from '../doc.js';
import { connectionProblem } from '../graph.js';
import { fitFlow, LARGE_FLOW, NODE_W, type FitOptions } from '../layout.js';
import { useEditor, useStoreApi } from '../store.js';
import { canvasLocked } from '../selectors.js';
import { DeployedBanner } from './DeployedBanner.js';
import { edgeTypes } from './CountEdge.js';
import { nodeTypes } from './FlowNode.js';
import { EmptyCanvas } from './EmptyCanvas.js';
import { NodePicker } from './NodePicker.js';

export const DND_TYPE = 'application/x-sluice-node';
const NONE: never[] = [];
// props React Flow copies into its store: module constants, so that re-rendering the canvas does not
// hand it new objects (a new defaultEdgeOptions re-renders every edge)
const DEFAULT_EDGE_OPTIONS = { type: 'count' } as const;
const SNAP_GRID: [number, number] = [8, 8];
const MULTI_SELECT_KEYS = ['Meta', 'Control'];
const MINIMAP_STYLE = { width: 168, height: 112 };

const CATEGORY_COLOURS: Record<string, string> = {
  source: '#0e9f6e',
  transform: '#5b6bd6',
  aggregate: '#d08a11',
  denormalize: '#9b59d0',
  sink: '#dc5a6e',
};

/**
 * Large flows open at a readable zoom with only the nodes in view rendered (React Flow's
 * onlyRenderVisibleElements); small ones are fitted whole and always fully rendered.
 */
const fitOnLoad = (count: number): FitOptions => ({ padding: 0.12, maxZoom: 1.1, minZoom: count > LARGE_FLOW ? 0.5 : 0.05, duration: 0 });

export function Canvas() {
  const store = useStoreApi();
  const rf = useReactFlow<FlowNode, FlowEdge>();
  const flowStore = useFlowStoreApi<FlowNode, FlowEdge>();
  const { nodes, edges, onNodesChange, onEdgesChange, connect, addNode, loads, readOnly } = useEditor((s) => ({
    nodes: s.nodes,
    edges: s.edges,
    onNodesChange: s.onNodesChange,
    onEdgesChange: s.onEdgesChange,
    connect: s.connect,
    addNode: s.addNode,
    loads: s.loads,
    readOnly: canvasLocked(s),
  }));

  // a flow just put on the canvas is fitted before its nodes are handed to React Flow, so that a large
  // one renders only the nodes in the fitted view, once
  const [fitted, setFitted] = useState(0);
  useEffect(() => {
    if (loads === fitted) return;
    const all = store.getState().nodes;
    const { width, height } = flowStore.getState(); // measured by React Flow when it mounted
    fitFlow(rf, fitOnLoad(all.length), all, { width, height });
    setFitted(loads);
  }, [loads, fitted, rf, store, flowStore]);
  const ready = loads === fitted;
  const large = nodes.length > LARGE_FLOW;
  // the minimap draws every node: it comes once the canvas has been drawn and the page is idle, so the
  // canvas shows first
  const [mapFor, setMapFor] = useState(-1);
  useEffect(() => {
    if (!ready) return;
    const show = () => setMapFor(loads);
    if (typeof requestIdleCallback === 'function') {
      const id = requestIdleCallback(show, { timeout: 1000 });
      return () => cancelIdleCallback(id);
    }
    const t = setTimeout(show, 100);
    return () => clearTimeout(t);
  }, [ready, loads]);
  const mapShown = mapFor === loads;

  const isValidConnection = useCallback<IsValidConnection<FlowEdge>>(
    (c) => {
      const s = store.getState();
      return connectionProblem(c, s.nodes, s.edges, s.catalog) === null;
    },
    [store],
  );

  // a wire dropped on empty canvas: the node picker, to add the next node there, wired;
  // a wire dropped on a node that refused it: say why
  const onConnectEnd = useCallback<OnConnectEnd>(
    (event, st) => {
      if (!st.toNode && st.fromNode && st.fromHandle?.type === 'source' && !canvasLocked(store.getState())) {
        const point = 'changedTouches' in event ? event.changedTouches[0] : event;
        const canvas = (event.target as Element | null)?.closest?.('.canvas')?.getBoundingClientRect() ?? document.querySelector('.canvas')?.getBoundingClientRect();
        if (!point || !canvas) return;
        store.getState().openPicker({
          after: { source: st.fromNode.id, port: st.fromHandle.id ?? 'out' },
          at: rf.screenToFlowPosition({ x: point.clientX, y: point.clientY }),
          screen: { x: Math.round(point.clientX - canvas.left), y: Math.round(point.clientY - canvas.top) },
        });
        return;
      }
      if (st.isValid !== false || !st.fromNode || !st.toNode || !st.fromHandle) return;
      const fromSource = st.fromHandle.type === 'source';
      const c = {
        source: fromSource ? st.fromNode.id : st.toNode.id,
        target: fromSource ? st.toNode.id : st.fromNode.id,
        sourceHandle: fromSource ? st.fromHandle.id ?? null : st.toHandle?.id ?? null,
        targetHandle: fromSource ? st.toHandle?.id ?? null : st.fromHandle.id ?? null,
      };
      const s = store.getState();
      const problem = connectionProblem(c, s.nodes, s.edges, s.catalog);
      if (problem) s.notify('error', `Wire refused: ${problem}`);
    },
    [store, rf],
  );

  const onDragOver = useCallback((e: DragEvent) => {
    if (e.dataTransfer.types.includes(DND_TYPE)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'move';
    }
  }, []);

  const onDrop = useCallback(
    (e: DragEvent) => {
      const type = e.dataTransfer.getData(DND_TYPE);
      if (!type) return;
      e.preventDefault();
      const p = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
      addNode(type, { x: Math.round(p.x - NODE_W / 2), y: Math.round(p.y - 24) });
    },
    [rf, addNode],
  );

  const nodeColour = useCallback((n: FlowNode) => CATEGORY_COLOURS[store.getState().catalog[n.data.type]?.category ?? ''] ?? '#9aa3ae', [store]);

  return (
    <div className={`canvas${readOnly ? ' read-only' : ''}`} data-testid="canvas" onDragOver={readOnly ? undefined : onDragOver} onDrop={readOnly ? undefined : onDrop}>
      <ReactFlow<FlowNode, FlowEdge>
        nodes={ready ? nodes : NONE}
        edges={ready ? edges : NONE}
        nodeTypes={nodeTypes}
        edgeTypes={edgeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={connect}
        nodesDraggable={!readOnly}
        nodesConnectable={!readOnly}
        edgesReconnectable={!readOnly}
        isValidConnection={isValidConnection}
        onConnectEnd={onConnectEnd}
        deleteKeyCode={null}
        selectionKeyCode="Shift"
        multiSelectionKeyCode={MULTI_SELECT_KEYS}
        snapToGrid
        snapGrid={SNAP_GRID}
        minZoom={0.08}
        maxZoom={2}
        onlyRenderVisibleElements={large}
        defaultEdgeOptions={DEFAULT_EDGE_OPTIONS}
        connectionRadius={28}
      >
        <Background variant={BackgroundVariant.Dots} gap={16} size={1} color="#cfd4db" />
        {mapShown && <MiniMap pannable zoomable style={MINIMAP_STYLE} nodeColor={nodeColour} nodeStrokeWidth={0} nodeBorderRadius={3} maskColor="rgba(244, 245, 247, 0.7)" />}
        <Controls showInteractive={false} showFitView={false}>
          <ControlButton onClick={() => fitFlow(rf)} title="Fit the flow in view (F)" aria-label="fit view">
            <svg viewBox="0 0 16 16" width="12" height="12" fill="none" stroke="currentColor" strokeWidth="1.6" aria-hidden>
              <path d="M2 6V2h4M10 2h4v4M14 10v4h-4M6 14H2v-4" />
            </svg>
          </ControlButton>
        </Controls>
      </ReactFlow>
      {nodes.length === 0 && <EmptyCanvas />}
      <DeployedBanner />
      <NodePicker />
    </div>
  );
}
