/** Derived views of the store, shared by the canvas, the inspector and the panels. */
import type { NodeStats, SourceStatus, TableReport } from './api.js';
import type { EditorState } from './store.js';

export const isLive = (s: EditorState) => Boolean(s.live && s.live.status !== 'not-deployed');

export interface Counts {
  in: number;
  out: number;
  errors: number;
  rate?: number;
  /** sinks in a test run: records they would write (creates, updates, snapshot rows) and delete */
  wouldWrite?: number;
  wouldDelete?: number;
  source: 'live' | 'preview';
}

export function nodeCounts(s: EditorState, id: string): Counts | null {
  if (isLive(s)) {
    const n: NodeStats | undefined = s.live!.nodes?.[id];
    return n ? { in: n.in, out: n.out, errors: n.errors, rate: n.rate, source: 'live' } : null;
  }
  const p = s.preview;
  if (p.status === 'idle') return null;
  const r = p.nodes[id];
  const stats = p.summary?.nodes?.[id];
  const ww = p.summary?.preview?.[id]?.wouldWrite?.ops ?? stats?.ops;
  if (!r && !stats) return null;
  const failed = p.summary?.failedNode === id ? 1 : 0;
  return {
    in: stats?.in ?? r?.inCount ?? 0,
    out: stats?.out ?? r?.outCount ?? 0,
    errors: Math.max(stats?.errors ?? 0, r?.errors.length ?? 0) + failed,
    // flat fields: the node's selector result is compared shallowly
    wouldWrite: ww ? (ww.c ?? 0) + (ww.u ?? 0) + (ww.r ?? 0) : undefined,
    wouldDelete: ww ? (ww.d ?? 0) : undefined,
    source: 'preview',
  };
}

/** the error the last test run raised at a node: the first failed record, or the node's failure */
export function nodeError(s: EditorState, id: string) {
  const p = s.preview;
  const r = p.nodes[id]?.errors[0];
  if (r) return { message: (r.meta?.error as { message?: string } | undefined)?.message ?? 'the record failed', record: r };
  if (p.summary?.failedNode === id && p.summary.error) return { message: p.summary.error, record: undefined };
  if (isLive(s) && s.live!.failedNode === id && s.live!.error) return { message: s.live!.error, record: undefined };
  return null;
}

const indexCache = new WeakMap<string[], Map<string, number>>();

export function edgeCount(s: EditorState, id: string): number | undefined {
  if (isLive(s)) {
    let index = indexCache.get(s.savedEdgeIds);
    if (!index) indexCache.set(s.savedEdgeIds, (index = new Map(s.savedEdgeIds.map((e, i) => [e, i]))));
    const i = index.get(id);
    return i === undefined ? undefined : s.live!.edges?.[i];
  }
  return s.preview.status === 'idle' ? undefined : (s.preview.edgeCounts[id] ?? (s.preview.status === 'running' ? undefined : 0));
}

export const selectedIds = (s: EditorState) => {
  const ids: string[] = [];
  for (const n of s.nodes) if (n.selected) ids.push(n.id);
  return ids;
};

export const fmtCount = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : n.toLocaleString('en-US'));

/** a deployed source's own progress (tables, lag), while the flow is live */
export function sourceProgress(s: EditorState, id: string): SourceStatus | undefined {
  return isLive(s) ? s.live!.progress?.[id] : undefined;
}

/**
 * A sink's conversion report (tables it created under `schema: full`): the deployment's while live, else
 * the last test run's, which is `planned` (what the copy would create; the sink wrote nothing).
 */
export function sinkReport(s: EditorState, id: string): { tables: TableReport[]; planned: boolean } | undefined {
  const live = isLive(s);
  const tables = live ? s.live!.reports?.[id] : s.preview.summary?.reports?.[id];
  return tables && tables.length > 0 ? { tables, planned: !live } : undefined;
}

/** `3/5 tables · 41%` for the node on the canvas; percent over the tables that have an estimate */
export function progressLine(p: SourceStatus): string | undefined {
  const tables = p.tables ?? [];
  if (tables.length === 0) return p.lag?.ms !== undefined ? `lag ${fmtCount(p.lag.ms)} ms` : undefined;
  if (tables.every((t) => t.phase === 'streaming')) {
    const lag = p.lag?.bytes !== undefined ? ` · lag ${fmtBytes(p.lag.bytes)}` : p.lag?.ms !== undefined ? ` · lag ${fmtCount(p.lag.ms)} ms` : '';
    return `streaming ${tables.length} table${tables.length === 1 ? '' : 's'}${lag}`;
  }
  const done = tables.filter((t) => t.phase === 'done' || t.phase === 'streaming').length;
  const est = tables.reduce((n, t) => n + (t.estimated ?? 0), 0);
  const rows = tables.reduce((n, t) => n + Math.min(t.done, t.estimated ?? t.done), 0);
  return `${done}/${tables.length} tables${est > 0 ? ` · ${Math.min(100, Math.floor((100 * rows) / est))}%` : ''}`;
}

export const fmtBytes = (n: number) => (n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)} GB` : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MB` : n >= 1024 ? `${(n / 1024).toFixed(0)} KB` : `${n} B`);

/** a field of the records that reach a node, with the JSON type seen first */
export interface DataField {
  name: string;
  type: string;
}

const typeOfValue = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/**
 * The fields of the records that reached a node in the last test run (its input, or else what its
 * upstream nodes sent it), as JSON: a stable string for a store selector.
 */
export function dataFieldsKey(s: EditorState, id: string): string {
  const seen = new Map<string, string>();
  const take = (records: readonly { value?: unknown }[] | undefined) => {
    for (const r of (records ?? []).slice(0, 50)) {
      if (r.value && typeof r.value === 'object' && !Array.isArray(r.value)) {
        for (const [k, v] of Object.entries(r.value)) if (!seen.has(k) || seen.get(k) === 'null') seen.set(k, typeOfValue(v));
      }
    }
  };
  take(s.preview.nodes[id]?.in);
  if (seen.size === 0) for (const e of s.edges) if (e.target === id) take(s.preview.nodes[e.source]?.out[e.sourceHandle ?? 'out']);
  return seen.size ? JSON.stringify([...seen]) : '';
}

export const parseDataFields = (key: string): DataField[] => (key ? (JSON.parse(key) as [string, string][]).map(([name, type]) => ({ name, type })) : []);

const DEPLOYED = new Set(['running', 'paused', 'starting']);

/** the open flow is deployed and the user has not chosen to edit it: the canvas is read-only until then */
export const deployedLock = (s: EditorState): boolean => !s.readOnly && !s.editDeployed && s.flowId !== null && DEPLOYED.has(s.live?.status ?? '');

/** nothing on the canvas may change: a viewer, or a deployed flow not unlocked */
export const canvasLocked = (s: EditorState): boolean => s.readOnly || deployedLock(s);
