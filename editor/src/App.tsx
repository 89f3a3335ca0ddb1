/**
 * The Sluice editor.
 *
 * Stable test hooks (data-testid) for the browser tests in test/e2e/ — keep them when changing the UI:
 *   palette             palette-<type>            (e.g. palette-core.map; draggable onto the canvas)
 *   canvas              canvas, empty-canvas, node-<id>, node-issues-<id> (validation badge),
 *                       node-count-<id> (in → out, rate, errors; sinks: would write), edge-count-<edgeId>
 *   toolbar             btn-test-run, btn-save, btn-deploy, btn-stop, btn-pause, btn-resume,
 *                       btn-export-yaml, btn-export-json, btn-import, btn-layout, btn-fit, btn-undo,
 *                       btn-redo, btn-flows, btn-connections, flow-name, flow-version, dirty,
 *                       validation-status, deploy-status
 *   inspector           inspector, node-id-input, code-field (CodeMirror; .cm-content is editable),
 *                       code-error (last test run's error for the node)
 *   bottom panel        tab-preview, tab-logs, tab-problems, preview-empty, preview-status,
 *                       preview-table, preview-row, preview-json, view-table, view-json,
 *                       records-tab-in, records-tab-out-<port>, records-tab-errors, records-tab-would,
 *                       would-write, log-panel, log-line, problems
 *   dialogs             notice, conflict-dialog, btn-conflict-reload, btn-conflict-overwrite,
 *                       import-dialog, import-text, import-file, import-tests-text, import-tests-file,
 *                       import-overwrite, import-submit,
 *                       flow-list, flow-<id>, btn-open-flow, btn-new-flow, version-<n>, restore-<n>,
 *                       btn-compare, diff, diff-node-<id>
 *   connections page    connections-page, btn-new-connection, connection-<name>, conn-name,
 *                       conn-type, conn-save, conn-test, conn-message
 *   admin pages         btn-users, btn-audit (admins only); users-page (components/UsersPage.tsx),
 *                       audit-page (components/AuditPage.tsx): their hooks are listed there
 *   viewer              read-only-note (inspector); the canvas has the class read-only
 *   signed in           current-user, btn-password (password-dialog: components/PasswordDialog.tsx), btn-signout;
 *                       before signing in: signin-* and setup-* (components/SignIn.tsx)
 *   home page           components/HomePage.tsx (its hooks are listed there); app-bar, nav-home, nav-cluster
 *   cluster page        components/ClusterPage.tsx
 *   deployed flow       deployed-banner, btn-edit-deployed, runs-on
 * Routes: no hash or #/home (the home page), #/ (new flow), #/flow/<id>, #/cluster, #/connections, #/users, #/audit.
 */
import { lazy, Suspense, useCallback, useEffect, useRef, useState, type ReactElement } from 'react';
import { ReactFlowProvider } from '@xyflow/react';
import { BottomPanel } from './components/BottomPanel.js';
import { Canvas } from './components/Canvas.js';
import { ConflictDialog } from './components/ConflictDialog.js';
import { FlowList } from './components/FlowList.js';
import { ImportDialog } from './components/ImportDialog.js';
import { Inspector } from './components/Inspector.js';
import { Modal } from './components/Modal.js';
import { Notice } from './components/Notice.js';
import { Shortcuts } from './components/Shortcuts.js';
import { Palette } from './components/Palette.js';
import { Toolbar } from './components/Toolbar.js';
import { useLiveEvents, useRoute, useShortcuts, useValidation } from './hooks.js';
import { useApi, useStoreApi } from './store.js';

const UsersPage = lazy(() => import('./components/UsersPage.js').then((m) => ({ default: m.UsersPage })));
const AuditPage = lazy(() => import('./components/AuditPage.js').then((m) => ({ default: m.AuditPage })));
const HomePage = lazy(() => import('./components/HomePage.js').then((m) => ({ default: m.HomePage })));
const ClusterPage = lazy(() => import('./components/ClusterPage.js').then((m) => ({ default: m.ClusterPage })));
const ConnectionsPage = lazy(() => import('./components/ConnectionsPage.js').then((m) => ({ default: m.ConnectionsPage })));

/** pages beside the canvas; Users and Audit are for admins only (the server refuses anyone else too) */
const PAGES: Record<string, (() => ReactElement) | undefined> = {
  '/home': () => <HomePage />,
  '/cluster': () => <ClusterPage />,
  '/connections': () => <ConnectionsPage />,
  '/users': () => <AdminOnly page={<UsersPage />} />,
  '/audit': () => <AdminOnly page={<AuditPage />} />,
};

function AdminOnly({ page }: { page: ReactElement }) {
  const api = useApi();
  return api.me?.role === 'admin' ? page : <div className="page muted" data-testid="admin-only">This page is for admins.</div>;
}

const flowIdOf = (route: string) => {
  const m = /^\/flow\/(.+)$/.exec(route);
  return m ? decodeURIComponent(m[1]) : null;
};

export function App() {
  const store = useStoreApi();
  const route = useRoute();
  const [ready, setReady] = useState(false);
  const [dialog, setDialog] = useState<'flows' | 'versions' | 'import' | 'shortcuts' | null>(null);
  const showShortcuts = useCallback(() => setDialog('shortcuts'), []);
  useLiveEvents();
  useValidation();

  // leaving the page with unsaved changes asks first
  useEffect(() => {
    const onLeave = (e: BeforeUnloadEvent) => {
      if (store.getState().dirty) e.preventDefault();
    };
    window.addEventListener('beforeunload', onLeave);
    return () => window.removeEventListener('beforeunload', onLeave);
  }, [store]);

  useEffect(() => {
    // the node types and the flow in the address are fetched at the same time
    const id = flowIdOf(route);
    void store.getState().loadCatalog(id ?? undefined).then(() => setReady(true));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [store]);

  // the address names a flow: open it (first load, back button, a pasted link)
  useEffect(() => {
    if (!ready) return;
    const id = flowIdOf(route);
    if (id && id !== store.getState().flowId) void store.getState().openFlow(id);
    if (route === '/flows') {
      setDialog('flows');
      const open = store.getState().flowId;
      history.replaceState(null, '', open ? `#/flow/${encodeURIComponent(open)}` : '#/');
    }
  }, [route, ready, store]);

  return (
    <div className="app">
      {PAGES[route] ? (
        <Suspense fallback={<div className="page muted">Loading…</div>}>{PAGES[route]()}</Suspense>
      ) : (
        <ReactFlowProvider>
          <EditorView onFlows={() => setDialog('flows')} onVersions={() => setDialog('versions')} onImport={() => setDialog('import')} shortcuts={dialog === null} onHelp={showShortcuts} />
        </ReactFlowProvider>
      )}
      {dialog === 'flows' && <FlowList onClose={() => setDialog(null)} />}
      {dialog === 'versions' && <FlowList onClose={() => setDialog(null)} openFlowOnly />}
      {dialog === 'import' && <ImportDialog onClose={() => setDialog(null)} />}
      {dialog === 'shortcuts' && (
        <Modal title="Keyboard shortcuts" onClose={() => setDialog(null)} testId="shortcut-sheet">
          <Shortcuts />
        </Modal>
      )}
      <ConflictDialog />
      <Notice />
    </div>
  );
}

function EditorView({ onFlows, onVersions, onImport, shortcuts, onHelp }: { onFlows(): void; onVersions(): void; onImport(): void; shortcuts: boolean; onHelp(): void }) {
  useShortcuts(shortcuts, onHelp);
  const [panelHeight, setPanelHeight] = useState(() => Number(localStorage.getItem('sluice.panelHeight')) || 260);
  const drag = useRef<{ y: number; h: number } | null>(null);
  useEffect(() => localStorage.setItem('sluice.panelHeight', String(panelHeight)), [panelHeight]);
  return (
    <>
      <Toolbar onFlows={onFlows} onVersions={onVersions} onImport={onImport} />
      <div className="workspace">
        <Palette />
        <main className="centre" style={{ gridTemplateRows: `minmax(120px, 1fr) 5px ${panelHeight}px` }}>
          <Canvas />
          <div
            className="splitter"
            role="separator"
            aria-orientation="horizontal"
            onPointerDown={(e) => {
              drag.current = { y: e.clientY, h: panelHeight };
              e.currentTarget.setPointerCapture(e.pointerId);
            }}
            onPointerMove={(e) => {
              if (!drag.current) return;
              setPanelHeight(Math.min(Math.max(drag.current.h + drag.current.y - e.clientY, 80), window.innerHeight - 220));
            }}
            onPointerUp={() => (drag.current = null)}
          />
          <BottomPanel />
        </main>
        <Inspector />
      </div>
    </>
  );
}
