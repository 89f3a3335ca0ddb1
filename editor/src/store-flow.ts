/** The open flow as a saved resource: new, open, save (with baseVersion; 409 → conflict), restore, import. */
import { ApiError, type FlowIssue } from './api.js';
import { graphFromDoc } from './doc.js';
import { autoLayout, LARGE_FLOW, predeclare } from './layout.js';
import { initialState } from './state.js';
import type { EditorActions, GetState, SetState, SliceDeps } from './store.js';

type FlowActions = Pick<EditorActions, 'newFlow' | 'loadFlow' | 'openFlow' | 'setName' | 'setSettings' | 'save' | 'reload' | 'restoreVersion' | 'importText' | 'setIssues'>;

/** `#/flow/<id>`: the address of what is open, so a reload comes back to it */
export function setRoute(route: string): void {
  if (typeof location !== 'undefined' && location.hash !== `#${route}`) history.replaceState(null, '', `#${route}`);
}

/** one line for the user, plus the server's details (`nodes[x].config.code: required`) */
export function describeError(err: unknown): { text: string; details?: string[] } {
  if (err instanceof ApiError) {
    const details = err.body.details?.map((d) => (d.path ? `${d.path}: ${d.message}` : d.message));
    return { text: err.message, details };
  }
  return { text: (err as Error).message ?? String(err) };
}

export function flowSlice(set: SetState, get: GetState, deps: SliceDeps): FlowActions {
  const fresh = () => {
    deps.history.clear();
    const { catalog, catalogError, panel, loads } = get();
    return { catalog, catalogError, panel, loads: loads + 1 };
  };

  return {
    newFlow(name) {
      set({ ...initialState(name), ...fresh() });
      setRoute('/');
    },

    loadFlow(res) {
      const { catalog } = get();
      const g = graphFromDoc(res.document, catalog);
      const laid = g.needsLayout ? autoLayout(g.nodes, g.edges) : g.nodes;
      const nodes = laid.length > LARGE_FLOW ? predeclare(laid, catalog) : laid;
      set({
        ...initialState(res.name),
        ...fresh(),
        flowId: res.id,
        baseVersion: res.version,
        meta: { ...g.meta, name: g.meta.name ?? res.name },
        nodes,
        edges: g.edges,
        savedEdgeIds: g.edges.map((e) => e.id),
        revision: get().revision + 1,
      });
      setRoute(`/flow/${encodeURIComponent(res.id)}`);
    },

    async openFlow(id) {
      try {
        const res = await deps.api.getFlow(id);
        get().loadFlow(res);
      } catch (err) {
        const e = describeError(err);
        get().notify('error', `Cannot open flow "${id}": ${e.text}`, { details: e.details });
        return;
      }
      try {
        const status = await deps.api.status(id);
        if (get().flowId === id) get().onStatus({ ...status, flowId: id });
      } catch {
        /* no status yet: the socket will bring it */
      }
    },

    setSettings(settings) {
      const s = get();
      const { settings: _old, ...rest } = s.meta as typeof s.meta & { settings?: unknown };
      set({ meta: Object.keys(settings).length > 0 ? { ...rest, settings } : rest, dirty: true, revision: s.revision + 1 } as Partial<typeof s>);
    },

    setName(name) {
      const s = get();
      if (s.flowId !== null) return; // the server refuses renames: the name is the id
      set({ meta: { ...s.meta, name }, dirty: true, revision: s.revision + 1 });
    },

    async save(opts = {}) {
      const s = get();
      if (s.nodes.length === 0) {
        s.notify('info', 'Nothing to save yet: drag a source from the palette onto the canvas.');
        return false;
      }
      const revision = s.revision;
      set({ revealIssues: true });
      const edgeIds = s.edges.map((e) => e.id);
      set({ busy: { ...get().busy, save: true } });
      try {
        const doc = deps.doc();
        const message = s.saveMessage.trim() || undefined;
        const res =
          s.flowId === null
            ? await deps.api.createFlow(doc, message)
            : await deps.api.saveFlow(s.flowId, opts.overwrite ? (s.conflict?.current ?? s.baseVersion ?? 1) : (s.baseVersion ?? 1), doc, message);
        set({ flowId: res.id, baseVersion: res.version, dirty: get().revision !== revision, savedEdgeIds: edgeIds, conflict: null, saveMessage: get().saveMessage === s.saveMessage ? '' : get().saveMessage });
        setRoute(`/flow/${encodeURIComponent(res.id)}`);
        get().notify('success', `Saved ${res.name} as version ${res.version}`);
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409 && s.flowId !== null) {
          set({ conflict: { current: typeof err.body.current === 'number' ? err.body.current : undefined } });
        } else if (err instanceof ApiError && err.status === 409) {
          get().notify('error', `A flow named "${s.meta.name}" already exists: give this one another name, or open that one.`);
        } else {
          const e = describeError(err);
          get().notify('error', `Not saved: ${e.text}`, { details: e.details });
        }
        return false;
      } finally {
        set({ busy: { ...get().busy, save: false } });
      }
    },

    async reload() {
      const { flowId } = get();
      if (flowId) await get().openFlow(flowId);
    },

    async restoreVersion(version) {
      const s = get();
      if (!s.flowId || s.baseVersion === null) return;
      try {
        const old = await deps.api.getFlow(s.flowId, version);
        const { version: _v, ...document } = old.document;
        const res = await deps.api.saveFlow(s.flowId, s.baseVersion, { ...document, name: s.flowId }, `restored version ${version}`);
        get().loadFlow(res);
        get().notify('success', `Restored version ${version} as version ${res.version}`);
      } catch (err) {
        const e = describeError(err);
        get().notify('error', `Cannot restore version ${version}: ${e.text}`, { details: e.details });
      }
    },

    async importText(text, opts = {}) {
      try {
        const res = await deps.api.importFlow(text, opts.format, opts.overwrite, opts.tests);
        get().loadFlow(res);
        const tests = res.tests ?? [];
        if (tests.length > 0) get().setPanel('tests');
        get().notify('success', `Imported ${res.name} (version ${res.version})${tests.length > 0 ? ` with ${tests.length} test${tests.length === 1 ? '' : 's'}` : ''}`);
        return res.connections ?? [];
      } catch (err) {
        const e = describeError(err);
        get().notify('error', `Import failed: ${e.text}`, { details: e.details });
        return undefined;
      }
    },

    setIssues(issues: FlowIssue[]) {
      const byNode: Record<string, FlowIssue[]> = {};
      for (const i of issues) {
        const id = i.nodeId ?? /^nodes\[([^\]]+)\]/.exec(i.path)?.[1];
        if (id) (byNode[id] ??= []).push(i);
      }
      set({ issues, issuesByNode: byNode });
    },
  };
}

