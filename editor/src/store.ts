/**
 * The editor's state: one zustand store per editor, made by createEditorStore(api) and handed down by
 * context (no module-level singleton, so tests and benchmarks can build as many as they like).
 * State and actions are typed apart; the actions live in three slices: graph (canvas editing),
 * flow (load, save, import, versions) and run (test run, deployment, live status, logs).
 */
import { createContext, useContext } from 'react';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import type { Connection, EdgeChange, NodeChange, XYPosition } from '@xyflow/react';
import type { Api, DeployStatus, FlowDoc, FlowIssue, FlowResource, ImportedConnection, LogEvent, PreviewDoneEvent, PreviewRecordsEvent, RunSummary, SluiceRecord } from './api.js';
import { docFromGraph, type Catalog, type DocMeta, type FlowEdge, type FlowNode, type FlowNodeData } from './doc.js';
import { History } from './history.js';
import { graphSlice } from './store-graph.js';
import { flowSlice } from './store-flow.js';
import { runSlice } from './store-run.js';
import { initialState } from './state.js';

export interface NodeRecords {
  in: SluiceRecord[];
  out: Record<string, SluiceRecord[]>;
  errors: SluiceRecord[];
  inCount: number;
  outCount: number;
}

export interface PreviewState {
  id: string | null;
  status: 'idle' | 'running' | 'done' | 'failed';
  /** performance.now() when the run was asked for */
  startedAt: number;
  /** canvas edges in the order of the document that was sent: summary edge counts are by index */
  edges: { id: string; source: string; port: string }[];
  nodes: Record<string, NodeRecords>;
  edgeCounts: Record<string, number>;
  summary: RunSummary | null;
  error?: string;
}

export interface Notice {
  kind: 'info' | 'success' | 'error';
  text: string;
  details?: string[];
  action?: { label: string; run: () => void };
  /** increases with every notice so the same text shown twice still restarts its timer */
  seq: number;
}

export type Panel = 'preview' | 'logs' | 'problems' | 'positions' | 'dead-letters' | 'schedule' | 'tests';

/** the node picker, open: what the chosen node is wired after, and where it goes (flow coordinates) */
export interface PickerState {
  after?: { source: string; port: string };
  /** where the new node goes; by default to the right of `after`, free of other nodes */
  at?: XYPosition;
  /** where the picker shows, in the canvas' own pixels */
  screen: { x: number; y: number };
}

export interface EditorState {
  catalog: Catalog;
  catalogError: string | null;
  /** the server's id of the open flow; null until its first save creates it */
  flowId: string | null;
  /** the version this canvas was loaded from or last saved as (the `baseVersion` of the next save) */
  baseVersion: number | null;
  meta: DocMeta;
  nodes: FlowNode[];
  edges: FlowEdge[];
  /** edge ids in the order of the saved document: live edge counts arrive by index */
  savedEdgeIds: string[];
  dirty: boolean;
  /** bumps on every change of the document (drives validation) */
  revision: number;
  canUndo: boolean;
  canRedo: boolean;
  issues: FlowIssue[];
  issuesByNode: Record<string, FlowIssue[]>;
  preview: PreviewState;
  live: DeployStatus | null;
  logs: (LogEvent & { seq: number })[];
  notice: Notice | null;
  /** a save was refused because someone saved in between */
  conflict: { current?: number } | null;
  busy: { save?: boolean; preview?: boolean; deploy?: boolean };
  panel: Panel;
  picker: PickerState | null;
  /** a save or test run was asked for: every field shows its problems, touched or not */
  revealIssues: boolean;
  /** bumps whenever another flow (or version) is put on the canvas: the view fits it */
  loads: number;
  /** the signed-in user is a viewer: the flow is shown, never changed (the server refuses it anyway) */
  readOnly: boolean;
  /** the open flow is deployed and the user chose to edit it anyway (a save makes a new version to deploy) */
  editDeployed: boolean;
  /** what the next save says about itself (kept with the version; cleared once saved) */
  saveMessage: string;
  /** nodes a failed flow test marks on the canvas: node id → the first difference there */
  testMarks: Record<string, string>;
}

export interface EditorActions {
  /** the node types; with a flow id, that flow too (fetched at the same time) */
  loadCatalog(flowId?: string): Promise<void>;
  // graph
  onNodesChange(changes: NodeChange<FlowNode>[]): void;
  onEdgesChange(changes: EdgeChange<FlowEdge>[]): void;
  connect(c: Connection): void;
  /** adds a node; with `after`, wired from that node's port (`out` by default) when the wire is allowed */
  addNode(type: string, position: XYPosition, after?: { source: string; port?: string }): string | null;
  updateNode(id: string, patch: Partial<Pick<FlowNodeData, 'config' | 'name' | 'description'>>): void;
  renameNode(id: string, newId: string): string | null;
  deleteSelected(): void;
  copySelection(): number;
  paste(): void;
  selectAll(): void;
  selectNode(id: string | null): void;
  undo(): void;
  redo(): void;
  layout(): void;
  /** wires the selected node to the next one: the other selected node, or the nearest to its right that takes input */
  wireNext(): void;
  // flow
  newFlow(name?: string): void;
  loadFlow(res: FlowResource): void;
  openFlow(id: string): Promise<void>;
  setName(name: string): void;
  /** replaces the flow's settings (batch size, errors, sandbox, retries, schedule) */
  setSettings(settings: Record<string, unknown>): void;
  save(opts?: { overwrite?: boolean }): Promise<boolean>;
  reload(): Promise<void>;
  restoreVersion(version: number): Promise<void>;
  /** the file's connections as the server stored them (incomplete ones list what they lack), or undefined when it failed */
  /** `opts.tests`: a FLOW.tests.yaml imported with the flow; the Tests tab then opens on them */
  importText(text: string, opts?: { format?: 'yaml' | 'json'; overwrite?: boolean; tests?: string }): Promise<ImportedConnection[] | undefined>;
  setIssues(issues: FlowIssue[]): void;
  // run
  testRun(): Promise<void>;
  onPreviewRecords(e: PreviewRecordsEvent): void;
  onPreviewDone(e: PreviewDoneEvent): void;
  deploy(): Promise<void>;
  control(action: 'stop' | 'pause' | 'resume'): Promise<void>;
  onStatus(s: DeployStatus): void;
  onLog(e: LogEvent): void;
  clearLogs(): void;
  // ui
  setPanel(p: Panel): void;
  /** marks the nodes a failed flow test differs at (an empty map clears them) */
  setTestMarks(marks: Record<string, string>): void;
  openPicker(p: PickerState): void;
  /** unlocks a deployed flow's canvas */
  editDeployedFlow(): void;
  setSaveMessage(message: string): void;
  closePicker(): void;
  notify(kind: Notice['kind'], text: string, extra?: Pick<Notice, 'details' | 'action'>): void;
  dismissNotice(): void;
  resolveConflict(): void;
}

export type EditorStore = EditorState & EditorActions;
export type SetState = StoreApi<EditorStore>['setState'];
export type GetState = StoreApi<EditorStore>['getState'];

/** what every slice is given besides set/get */
export interface SliceDeps {
  api: Api;
  history: History<FlowNode, FlowEdge>;
  /** records the graph as it is now as one undo step (call before changing it) */
  remember(tag?: string): void;
  /** the current canvas as a flow document */
  doc(): FlowDoc;
}

export function createEditorStore(api: Api): StoreApi<EditorStore> {
  return createStore<EditorStore>()((set, get) => {
    const history = new History<FlowNode, FlowEdge>();
    const deps: SliceDeps = {
      api,
      history,
      remember(tag) {
        const { nodes, edges } = get();
        history.record({ nodes, edges }, tag);
        set({ canUndo: history.canUndo, canRedo: history.canRedo });
      },
      doc() {
        const s = get();
        return docFromGraph(s.meta, s.nodes, s.edges, s.catalog);
      },
    };
    let noticeSeq = 0;
    const readOnly = api.me?.role === 'viewer';
    const actions: EditorStore = {
      ...initialState(),
      readOnly,
      async loadCatalog(flowId) {
        const flow = flowId ? api.getFlow(flowId).catch(() => null) : null;
        try {
          const list = await api.nodeTypes();
          set({ catalog: Object.fromEntries(list.map((t) => [t.type, t])), catalogError: null });
        } catch (err) {
          set({ catalogError: (err as Error).message });
        }
        const res = await flow;
        if (res) get().loadFlow(res);
      },
      ...graphSlice(set, get, deps),
      ...flowSlice(set, get, deps),
      ...runSlice(set, get, deps),
      setPanel: (panel) => set({ panel }),
      setTestMarks: (testMarks) => set({ testMarks }),
      editDeployedFlow: () => set({ editDeployed: true }),
      setSaveMessage: (saveMessage) => set({ saveMessage }),
      openPicker: (picker) => set({ picker }),
      closePicker: () => set({ picker: null }),
      notify: (kind, text, extra) => set({ notice: { kind, text, ...extra, seq: ++noticeSeq } }),
      dismissNotice: () => set({ notice: null }),
      resolveConflict: () => set({ conflict: null }),
    };
    return readOnly ? readOnlyStore(actions, (text) => actions.notify('info', text)) : actions;
  });
}

/** why a viewer's change is refused (toolbar tooltips and notices say the same) */
export const VIEWER_REASON = 'Viewers cannot change flows';

/**
 * A viewer's store: every action that would change the flow, run or deploy it is a no-op that says
 * why; the canvas may still select nodes, pan and zoom (selection and measured sizes only).
 */
function readOnlyStore(s: EditorStore, say: (text: string) => void): EditorStore {
  const refuse = () => say(`${VIEWER_REASON}.`);
  const refuseAsync = async () => refuse();
  const viewOnly = new Set(['select', 'dimensions']);
  return {
    ...s,
    onNodesChange: (changes) => s.onNodesChange(changes.filter((c) => viewOnly.has(c.type))),
    onEdgesChange: (changes) => s.onEdgesChange(changes.filter((c) => c.type === 'select')),
    connect: refuse,
    wireNext: refuse,
    openPicker: refuse,
    addNode: () => (refuse(), null),
    updateNode: refuse,
    renameNode: () => VIEWER_REASON,
    deleteSelected: refuse,
    paste: refuse,
    undo: () => {},
    redo: () => {},
    layout: refuse,
    setName: refuse,
    setSettings: refuse,
    save: async () => (refuse(), false),
    restoreVersion: refuseAsync,
    importText: async () => (refuse(), undefined),
    testRun: refuseAsync,
    deploy: refuseAsync,
    control: refuseAsync,
  };
}

export const StoreContext = createContext<StoreApi<EditorStore> | null>(null);

/** the server client, for components that fetch what the store does not hold (connections, versions) */
export const ApiContext = createContext<Api | null>(null);

export function useApi(): Api {
  const api = useContext(ApiContext);
  if (!api) throw new Error('the API client is missing: wrap the app in <ApiContext.Provider>');
  return api;
}

export function useStoreApi(): StoreApi<EditorStore> {
  const store = useContext(StoreContext);
  if (!store) throw new Error('the editor store is missing: wrap the app in <StoreContext.Provider>');
  return store;
}

/** a narrow, shallow-compared slice of the store: re-renders only when that slice changes */
export function useEditor<U>(selector: (s: EditorStore) => U): U {
  return useStore(useStoreApi(), useShallow(selector));
}
