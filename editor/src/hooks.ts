/** Behaviour that is not drawing: socket events, debounced validation, keyboard shortcuts, the route. */
import { useEffect, useState } from 'react';
import { useReactFlow } from '@xyflow/react';
import type { DeployStatus, LogEvent, PreviewDoneEvent, PreviewRecordsEvent } from './api.js';
import { docFromGraph, type FlowEdge, type FlowNode } from './doc.js';
import { besideInCanvas, fitFlow } from './layout.js';
import { useApi, useStoreApi } from './store.js';
import { canvasLocked } from './selectors.js';

/** socket.io → the store: preview records, status and logs of the open flow (subscribed by id) */
export function useLiveEvents(): void {
  const api = useApi();
  const store = useStoreApi();
  useEffect(() => {
    let subscribed: string | null = null;
    let detach = () => {};
    let closed = false;
    void api.socket().then((socket) => {
      if (closed) return;
      const s = () => store.getState();
      const follow = () => {
        const id = s().flowId;
        if (id === subscribed) return;
        if (subscribed) socket.emit('unsubscribe', { flowId: subscribed });
        if (id) socket.emit('subscribe', { flowId: id });
        subscribed = id;
      };
      const handlers = {
        'preview:records': (e: PreviewRecordsEvent) => s().onPreviewRecords(e),
        'preview:done': (e: PreviewDoneEvent) => s().onPreviewDone(e),
        status: (e: DeployStatus) => s().onStatus(e),
        log: (e: LogEvent) => s().onLog(e),
      };
      // after a reconnect the server has forgotten the subscription
      const onConnect = () => {
        subscribed = null;
        follow();
      };
      socket.on('preview:records', handlers['preview:records']);
      socket.on('preview:done', handlers['preview:done']);
      socket.on('status', handlers.status);
      socket.on('log', handlers.log);
      socket.on('connect', onConnect);
      follow();
      const unsubscribe = store.subscribe((st, prev) => st.flowId !== prev.flowId && follow());
      detach = () => {
        unsubscribe();
        socket.off('preview:records', handlers['preview:records']);
        socket.off('preview:done', handlers['preview:done']);
        socket.off('status', handlers.status);
        socket.off('log', handlers.log);
        socket.off('connect', onConnect);
        if (subscribed) socket.emit('unsubscribe', { flowId: subscribed });
      };
    });
    return () => {
      closed = true;
      detach();
    };
  }, [api, store]);
}

/** POST /api/flows/validate ~300 ms after the last change; answers to older revisions are dropped */
export function useValidation(delayMs = 300): void {
  const api = useApi();
  const store = useStoreApi();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let asked = 0;
    const run = async () => {
      const s = store.getState();
      const revision = s.revision;
      if (s.nodes.length === 0) return s.setIssues([]);
      if (s.readOnly) return; // validating is for those who may change the flow (the server refuses viewers)
      asked = revision;
      try {
        const res = await api.validate(docFromGraph(s.meta, s.nodes, s.edges, s.catalog));
        if (asked === revision) store.getState().setIssues(res.issues ?? []);
      } catch {
        /* the server is away: the issues stay as they were */
      }
    };
    const unsubscribe = store.subscribe((st, prev) => {
      if (st.revision === prev.revision && st.catalog === prev.catalog) return;
      clearTimeout(timer);
      timer = setTimeout(() => void run(), delayMs);
    });
    return () => {
      clearTimeout(timer);
      unsubscribe();
    };
  }, [api, store, delayMs]);
}

const editable = (t: EventTarget | null) => {
  const el = t as HTMLElement | null;
  return !!el && (el.isContentEditable || el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT');
};

/** the editor's keyboard shortcuts (listed in Shortcuts.tsx); not while typing in a field */
export function useShortcuts(enabled: boolean, onHelp: () => void = () => {}): void {
  const store = useStoreApi();
  const rf = useReactFlow<FlowNode, FlowEdge>();
  useEffect(() => {
    if (!enabled) return;
    const onKey = (e: KeyboardEvent) => {
      const s = store.getState();
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      // save and run work everywhere, even from inside the code editor
      if (mod && key === 's') {
        e.preventDefault();
        void s.save();
        return;
      }
      if (mod && key === 'enter') {
        e.preventDefault();
        void s.testRun();
        return;
      }
      if (editable(e.target) || document.querySelector('.modal-backdrop')) return;
      // a deployed flow's canvas changes only once the user chose to edit it
      const locked = canvasLocked(s) && !s.readOnly;
      if (locked && ((mod && 'zyv'.includes(key)) || (!mod && ['delete', 'backspace', 'l', 'n', '+', 'w'].includes(key)))) return;
      if (mod && key === 'z') {
        e.preventDefault();
        if (e.shiftKey) s.redo();
        else s.undo();
      } else if (mod && key === 'y') {
        e.preventDefault();
        s.redo();
      } else if (mod && key === 'c') {
        if (s.copySelection() > 0) e.preventDefault();
      } else if (mod && key === 'v') {
        e.preventDefault();
        s.paste();
      } else if (mod && key === 'a') {
        e.preventDefault();
        s.selectAll();
      } else if (!mod && (key === 'delete' || key === 'backspace')) {
        e.preventDefault();
        s.deleteSelected();
      } else if (!mod && !e.altKey && key === 'l') {
        s.layout();
        setTimeout(() => fitFlow(rf), 20);
      } else if (!mod && !e.altKey && key === 'f') {
        fitFlow(rf);
      } else if (!mod && !e.altKey && (key === 'n' || key === '+')) {
        // the node picker for the selected node: add the next one, wired
        const sel = s.nodes.filter((n) => n.selected);
        const el = sel.length === 1 ? document.querySelector(`[data-testid="add-after-${CSS.escape(sel[0].id)}"]`) : null;
        e.preventDefault();
        if (sel.length === 1 && el) s.openPicker({ after: { source: sel[0].id, port: 'out' }, screen: besideInCanvas(el) });
        else s.openPicker({ screen: { x: 80, y: 60 } });
      } else if (!mod && !e.altKey && key === 'w') {
        s.wireNext();
      } else if (!mod && e.key === '?') {
        e.preventDefault();
        onHelp();
      } else if (!mod && key === '/') {
        e.preventDefault();
        document.getElementById('palette-search')?.focus();
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [enabled, store, rf, onHelp]);
}

/** the hash route: `#/flow/<id>`, `#/connections`, `#/` (a new flow); no hash at all is the home page */
export function useRoute(): string {
  const read = () => (typeof location === 'undefined' ? '/' : location.hash === '' ? '/home' : decodeURI(location.hash.replace(/^#/, '')) || '/');
  const [route, setRoute] = useState(read);
  useEffect(() => {
    const on = () => setRoute(read());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}
