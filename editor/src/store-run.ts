/**
 * Running the flow: the test run (preview records streaming in over socket.io), deployment controls,
 * live status and the log tail.
 */
import { ApiError, type LogEvent, type PreviewDoneEvent, type PreviewRecordsEvent, type SluiceRecord } from './api.js';
import { describeError } from './store-flow.js';
import { emptyPreview } from './state.js';
import type { EditorActions, GetState, NodeRecords, PreviewState, SetState, SliceDeps } from './store.js';

type RunActions = Pick<EditorActions, 'testRun' | 'onPreviewRecords' | 'onPreviewDone' | 'deploy' | 'control' | 'onStatus' | 'onLog' | 'clearLogs'>;

/** records kept per list in the browser: the table is virtualized, memory is not */
const KEEP = 1000;
const LOG_LINES = 2000;
/** what a test run asks for: records per source, and records kept per node */
export const PREVIEW_LIMIT = 100;

const append = (list: SluiceRecord[], more: SluiceRecord[]) => (list.length >= KEEP ? list : list.concat(more.slice(0, KEEP - list.length)));
const emptyNode = (): NodeRecords => ({ in: [], out: {}, errors: [], inCount: 0, outCount: 0 });

function applyRecords(p: PreviewState, e: PreviewRecordsEvent): PreviewState {
  const cur = p.nodes[e.node] ?? emptyNode();
  const n = e.records.length;
  let next: NodeRecords;
  if (e.direction === 'in') {
    next = { ...cur, in: append(cur.in, e.records), inCount: cur.inCount + n };
  } else {
    next = { ...cur, out: { ...cur.out, [e.port]: append(cur.out[e.port] ?? [], e.records) } };
    if (e.port === 'error') next.errors = append(cur.errors, e.records);
    else next.outCount = cur.outCount + n;
  }
  let edgeCounts = p.edgeCounts;
  if (e.direction === 'out') {
    edgeCounts = { ...edgeCounts };
    for (const edge of p.edges) if (edge.source === e.node && edge.port === e.port) edgeCounts[edge.id] = (edgeCounts[edge.id] ?? 0) + n;
  }
  return { ...p, nodes: { ...p.nodes, [e.node]: next }, edgeCounts };
}

function applyDone(p: PreviewState, e: PreviewDoneEvent): PreviewState {
  const summary = e.summary;
  const edgeCounts = { ...p.edgeCounts };
  summary.edges?.forEach((count, i) => {
    const edge = p.edges[i];
    if (edge) edgeCounts[edge.id] = count;
  });
  const nodes = { ...p.nodes };
  const ids = new Set([...Object.keys(summary.nodes ?? {}), ...Object.keys(summary.preview ?? {})]);
  for (const id of ids) {
    const cur = nodes[id] ?? emptyNode();
    const pv = summary.preview?.[id];
    const stats = summary.nodes?.[id];
    // the summary is the final word on counts; streamed records are kept when they came
    nodes[id] = {
      in: cur.in.length ? cur.in : (pv?.input ?? []),
      out: Object.keys(cur.out).length ? cur.out : (pv?.output ?? {}),
      errors: pv?.errors.length ? pv.errors : cur.errors,
      inCount: stats?.in ?? cur.inCount,
      outCount: stats?.out ?? cur.outCount,
    };
  }
  return { ...p, nodes, edgeCounts, summary, status: summary.status === 'failed' ? 'failed' : 'done', error: summary.error };
}

type Pending = { kind: 'records'; e: PreviewRecordsEvent } | { kind: 'done'; e: PreviewDoneEvent };

export function runSlice(set: SetState, get: GetState, deps: SliceDeps): RunActions {
  // events that arrive before the 202 answer names the preview they belong to
  let pending: Pending[] = [];
  let logSeq = 0;
  const busy = (key: 'preview' | 'deploy', on: boolean) => set({ busy: { ...get().busy, [key]: on } });
  const appendLogs = (lines: Omit<LogEvent, 'flowId'>[]) => {
    const logs = [...get().logs, ...lines.map((l) => ({ ...l, flowId: get().flowId ?? '', seq: ++logSeq }))];
    set({ logs: logs.length > LOG_LINES ? logs.slice(-LOG_LINES) : logs });
  };
  /** the test run's summary; what its nodes logged goes to the log panel */
  const finish = (p: PreviewState, e: PreviewDoneEvent) => {
    set({ preview: applyDone(p, e) });
    if (e.logs?.length) appendLogs(e.logs.map((l) => ({ ...l, message: `test run · ${l.message}` })));
  };

  return {
    async testRun() {
      const s = get();
      if (s.nodes.length === 0) {
        s.notify('info', 'Nothing to run yet: drag a source (Generate is a good start) onto the canvas.');
        return;
      }
      busy('preview', true);
      set({ revealIssues: true });
      const startedAt = performance.now();
      pending = [];
      set({
        preview: { ...emptyPreview(), status: 'running', startedAt, edges: s.edges.map((e) => ({ id: e.id, source: e.source, port: e.sourceHandle ?? 'out' })) },
        panel: 'preview',
      });
      try {
        const socket = await deps.api.socket();
        const { previewId } = await deps.api.preview(s.flowId ?? String(s.meta.name), { document: deps.doc(), limit: PREVIEW_LIMIT, sample: PREVIEW_LIMIT, socketId: socket.id });
        if (get().preview.startedAt !== startedAt) return; // a newer run took over
        let p: PreviewState = { ...get().preview, id: previewId };
        for (const item of pending) {
          if (item.e.previewId !== previewId) continue;
          if (item.kind === 'records') p = applyRecords(p, item.e);
        }
        const done = pending.find((item) => item.kind === 'done' && item.e.previewId === previewId);
        pending = [];
        set({ preview: p });
        if (done) finish(p, done.e as PreviewDoneEvent);
      } catch (err) {
        const e = describeError(err);
        set({ preview: { ...get().preview, status: 'failed', error: e.text } });
        if (err instanceof ApiError && err.status === 400 && err.body.details?.length) {
          get().setIssues(err.body.details.map((d) => ({ path: d.path ?? '', message: d.message, severity: 'error' as const })));
        }
        get().notify('error', `Test run refused: ${e.text}`, { details: e.details });
      } finally {
        busy('preview', false);
      }
    },

    onPreviewRecords(e) {
      const p = get().preview;
      if (p.status !== 'running') return;
      if (p.id === null) pending.push({ kind: 'records', e });
      else if (p.id === e.previewId) set({ preview: applyRecords(p, e) });
    },

    onPreviewDone(e) {
      const p = get().preview;
      if (p.status !== 'running') return;
      if (p.id === null) pending.push({ kind: 'done', e });
      else if (p.id === e.previewId) finish(p, e);
    },

    async deploy() {
      let s = get();
      if (s.dirty || s.flowId === null) {
        // what runs is a saved version: save the canvas first
        if (!(await s.save())) return;
        s = get();
      }
      busy('deploy', true);
      try {
        const r = await deps.api.deploy(s.flowId!, {});
        set({ live: { ...(get().live ?? { nodes: {}, edges: [] }), status: r.status, version: s.baseVersion ?? undefined } });
        get().notify('success', `Deployed ${s.flowId} version ${s.baseVersion}`);
      } catch (err) {
        const e = describeError(err);
        get().notify('error', `Deploy failed: ${e.text}`, { details: e.details });
      } finally {
        busy('deploy', false);
      }
    },

    async control(action) {
      const { flowId } = get();
      if (!flowId) return;
      try {
        const r = await deps.api.control(flowId, action);
        set({ live: { ...(get().live ?? { nodes: {}, edges: [] }), status: r.status } });
      } catch (err) {
        get().notify('error', `Cannot ${action}: ${describeError(err).text}`);
      }
    },

    onStatus(st) {
      if (st.flowId !== undefined && st.flowId !== get().flowId) return;
      set({ live: st });
    },

    onLog(e) {
      if (e.flowId !== get().flowId) return;
      appendLogs([e]);
    },

    clearLogs: () => set({ logs: [] }),
  };
}
