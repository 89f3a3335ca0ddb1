/** Canvas editing: React Flow changes, wiring, adding, deleting, copy/paste, undo/redo, layout. */
import { applyEdgeChanges, applyNodeChanges } from '@xyflow/react';
import { makeEdge, nextEdgeId, nextNodeId, type FlowEdge, type FlowNode } from './doc.js';
import { inputsOf } from '../../runtime/node-api.js';
import { connectionProblem } from './graph.js';
import { autoLayout } from './layout.js';
import type { EditorActions, EditorState, GetState, SetState, SliceDeps } from './store.js';

type GraphActions = Pick<
  EditorActions,
  | 'onNodesChange'
  | 'onEdgesChange'
  | 'connect'
  | 'addNode'
  | 'updateNode'
  | 'renameNode'
  | 'deleteSelected'
  | 'copySelection'
  | 'paste'
  | 'selectAll'
  | 'selectNode'
  | 'undo'
  | 'redo'
  | 'layout'
  | 'wireNext'
>;

const clone = <T>(v: T): T => structuredClone(v);

export function graphSlice(set: SetState, get: GetState, deps: SliceDeps): GraphActions {
  let clipboard: { nodes: FlowNode[]; edges: FlowEdge[] } | null = null;
  let pastes = 0;
  /** a change of the document: marks it unsaved and bumps the revision (validation follows) */
  const changed = (s: EditorState, patch: Partial<EditorState>): Partial<EditorState> => ({ ...patch, dirty: true, revision: s.revision + 1 });

  const restore = (snap: { nodes: FlowNode[]; edges: FlowEdge[] } | undefined) => {
    if (!snap) return;
    const s = get();
    set(changed(s, { nodes: snap.nodes, edges: snap.edges, canUndo: deps.history.canUndo, canRedo: deps.history.canRedo }));
  };

  return {
    onNodesChange(changes) {
      const s = get();
      let doc = false;
      let remember = false;
      for (const c of changes) {
        if (c.type === 'position') {
          doc = true;
          // one undo step per drag: taken when the drag starts
          if (c.dragging && !s.nodes.find((n) => n.id === c.id)?.dragging) remember = true;
        } else if (c.type === 'remove' || c.type === 'add' || c.type === 'replace') {
          doc = remember = true;
        }
      }
      if (remember) deps.remember();
      let nodes = applyNodeChanges(changes, s.nodes);
      // a node measured at another size than declared: its real handles replace the declared ones
      // (layout.ts predeclare)
      const measured = new Set<string>();
      for (const c of changes) if (c.type === 'dimensions') measured.add(c.id);
      if (measured.size > 0 && nodes.some((n) => n.handles && measured.has(n.id))) {
        nodes = nodes.map((n) => (n.handles && measured.has(n.id) ? { ...n, handles: undefined } : n));
      }
      set(doc ? changed(s, { nodes }) : { nodes });
    },

    onEdgesChange(changes) {
      const s = get();
      const doc = changes.some((c) => c.type !== 'select');
      if (doc) deps.remember();
      const edges = applyEdgeChanges(changes, s.edges);
      set(doc ? changed(s, { edges }) : { edges });
    },

    connect(c) {
      const s = get();
      const problem = connectionProblem(c, s.nodes, s.edges, s.catalog);
      if (problem) {
        s.notify('error', `Wire refused: ${problem}`);
        return;
      }
      deps.remember();
      const edge = makeEdge(nextEdgeId(s.edges), c.source, c.target, c.sourceHandle ?? 'out', c.targetHandle ?? 'in');
      set(changed(s, { edges: [...s.edges, edge] }));
    },

    addNode(type, position, after) {
      const s = get();
      const t = s.catalog[type];
      if (!t) {
        s.notify('error', `Unknown node type "${type}"`);
        return null;
      }
      deps.remember();
      const id = nextNodeId(type, new Set(s.nodes.map((n) => n.id)));
      const node: FlowNode = { id, type: 'flow', position, data: { type, config: {} }, selected: true };
      const nodes = [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), node];
      const edges = s.edges.map((e) => (e.selected ? { ...e, selected: false } : e));
      // one step: the node and its wire from `after` (undone together)
      const input = inputsOf(t, node.data.config)[0]?.name;
      if (after && input) {
        const wire = { source: after.source, sourceHandle: after.port ?? 'out', target: id, targetHandle: input };
        const problem = connectionProblem(wire, nodes, edges, s.catalog);
        if (problem) s.notify('error', `Added, not wired: ${problem}`);
        else edges.push(makeEdge(nextEdgeId(edges), wire.source, id, wire.sourceHandle, input));
      }
      set(changed(s, { nodes, edges }));
      return id;
    },

    updateNode(id, patch) {
      const s = get();
      deps.remember(`node:${id}:${Object.keys(patch).join(',')}`);
      // declared handles and size (large flows) go: the config may change the ports; React Flow measures
      const update = (n: FlowNode): FlowNode => {
        const next = { ...n, data: { ...n.data, ...patch } };
        if (n.handles && patch.config !== undefined) {
          delete next.handles;
          delete next.measured;
        }
        return next;
      };
      set(changed(s, { nodes: s.nodes.map((n) => (n.id === id ? update(n) : n)) }));
    },

    renameNode(id, newId) {
      const s = get();
      if (newId === id) return null;
      if (!newId) return 'a node needs an id';
      if (s.nodes.some((n) => n.id === newId)) return `"${newId}" is taken by another node`;
      deps.remember();
      const nodes = s.nodes.map((n) => (n.id === id ? { ...n, id: newId } : n));
      const edges = s.edges.map((e) => (e.source === id || e.target === id ? { ...e, source: e.source === id ? newId : e.source, target: e.target === id ? newId : e.target } : e));
      set(changed(s, { nodes, edges }));
      return null;
    },

    deleteSelected() {
      const s = get();
      const gone = new Set(s.nodes.filter((n) => n.selected).map((n) => n.id));
      const edges = s.edges.filter((e) => !e.selected && !gone.has(e.source) && !gone.has(e.target));
      if (gone.size === 0 && edges.length === s.edges.length) return;
      deps.remember();
      set(changed(s, { nodes: s.nodes.filter((n) => !gone.has(n.id)), edges }));
    },

    copySelection() {
      const s = get();
      const nodes = s.nodes.filter((n) => n.selected);
      const ids = new Set(nodes.map((n) => n.id));
      clipboard = { nodes: clone(nodes), edges: clone(s.edges.filter((e) => ids.has(e.source) && ids.has(e.target))) };
      pastes = 0;
      return nodes.length;
    },

    paste() {
      if (!clipboard || clipboard.nodes.length === 0) return;
      const s = get();
      deps.remember();
      pastes++;
      const taken = new Set(s.nodes.map((n) => n.id));
      const rename = new Map<string, string>();
      const added: FlowNode[] = clipboard.nodes.map((n) => {
        const id = nextNodeId(n.data.type, taken);
        taken.add(id);
        rename.set(n.id, id);
        return { ...clone(n), id, selected: true, dragging: false, position: { x: n.position.x + 32 * pastes, y: n.position.y + 32 * pastes } };
      });
      const edges = s.edges.map((e) => (e.selected ? { ...e, selected: false } : e));
      const takenEdges = new Set<string>();
      for (const e of clipboard.edges) {
        const id = nextEdgeId(edges, takenEdges);
        takenEdges.add(id);
        edges.push(makeEdge(id, rename.get(e.source)!, rename.get(e.target)!, e.sourceHandle ?? 'out', e.targetHandle ?? 'in', { ...e.data }));
      }
      set(changed(s, { nodes: [...s.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)), ...added], edges }));
    },

    selectAll() {
      set((s) => ({ nodes: s.nodes.map((n) => (n.selected ? n : { ...n, selected: true })) }));
    },

    selectNode(id) {
      set((s) => ({
        nodes: s.nodes.map((n) => ((n.id === id) === Boolean(n.selected) ? n : { ...n, selected: n.id === id })),
        edges: s.edges.map((e) => (e.selected ? { ...e, selected: false } : e)),
      }));
    },

    undo() {
      const { nodes, edges } = get();
      restore(deps.history.undo({ nodes, edges }));
    },

    redo() {
      const { nodes, edges } = get();
      restore(deps.history.redo({ nodes, edges }));
    },

    wireNext() {
      const s = get();
      const selected = s.nodes.filter((n) => n.selected);
      let from: FlowNode | undefined;
      let to: FlowNode | undefined;
      if (selected.length === 2) [from, to] = [...selected].sort((a, b) => a.position.x - b.position.x);
      else if (selected.length === 1) {
        from = selected[0];
        const src = from;
        const takes = (n: FlowNode) => (s.catalog[n.data.type]?.inputs.length ?? 1) > 0;
        const wired = new Set(s.edges.filter((e) => e.source === src.id).map((e) => e.target));
        to = s.nodes
          .filter((n) => n.id !== src.id && n.position.x > src.position.x && takes(n) && !wired.has(n.id))
          .sort((a, b) => Math.hypot(a.position.x - src.position.x, a.position.y - src.position.y) - Math.hypot(b.position.x - src.position.x, b.position.y - src.position.y))[0];
      }
      if (!from || !to) {
        s.notify('info', 'Select a node (and optionally the one to wire it to): W wires it to the next node on its right.');
        return;
      }
      const input = s.catalog[to.data.type] ? inputsOf(s.catalog[to.data.type], to.data.config)[0]?.name : 'in';
      get().connect({ source: from.id, sourceHandle: 'out', target: to.id, targetHandle: input ?? 'in' });
    },

    layout() {
      const s = get();
      if (s.nodes.length === 0) return;
      deps.remember();
      set(changed(s, { nodes: autoLayout(s.nodes, s.edges) }));
    },
  };
}
