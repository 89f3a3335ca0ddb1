/** The top bar: the flow's name and state, editing tools, test run, save, deploy controls, import/export. */
import { useState } from 'react';
import { useReactFlow } from '@xyflow/react';
import type { FlowEdge, FlowNode } from '../doc.js';
import { fitFlow } from '../layout.js';
import { ExportDialog } from './ExportDialog.js';
import { PasswordDialog } from './PasswordDialog.js';
import { useApi, useEditor, VIEWER_REASON } from '../store.js';

interface Props {
  onFlows(): void;
  onImport(): void;
  /** the open flow's versions: who saved each, why and when; compare and restore */
  onVersions(): void;
}

const STATUS_TEXT: Record<string, string> = {
  running: 'running',
  paused: 'paused',
  starting: 'starting',
  stopping: 'stopping',
  stopped: 'stopped',
  completed: 'completed',
  failed: 'failed',
};

export function Toolbar({ onFlows, onImport, onVersions }: Props) {
  const api = useApi();
  const [exporting, setExporting] = useState(false);
  const rf = useReactFlow<FlowNode, FlowEdge>();
  const [changingPassword, setChangingPassword] = useState(false);
  const notify = useEditor((s) => s.notify);
  const s = useEditor((s) => ({
    name: String(s.meta.name ?? ''),
    flowId: s.flowId,
    version: s.baseVersion,
    dirty: s.dirty,
    canUndo: s.canUndo,
    canRedo: s.canRedo,
    busy: s.busy,
    status: s.live?.status ?? 'not-deployed',
    liveVersion: s.live?.version,
    errors: s.issues.filter((i) => i.severity === 'error').length,
    warnings: s.issues.filter((i) => i.severity === 'warning').length,
    empty: s.nodes.length === 0,
    previewStatus: s.preview.status,
    undo: s.undo,
    redo: s.redo,
    layout: s.layout,
    save: s.save,
    testRun: s.testRun,
    deploy: s.deploy,
    control: s.control,
    setName: s.setName,
    setPanel: s.setPanel,
    readOnly: s.readOnly,
    saveMessage: s.saveMessage,
    setSaveMessage: s.setSaveMessage,
  }));
  const ro = s.readOnly;
  /** a viewer's tooltip instead of the button's own */
  const why = (title: string) => (ro ? VIEWER_REASON : title);
  const admin = api.me?.role === 'admin';
  const active = s.status === 'running' || s.status === 'paused' || s.status === 'starting';
  const exportTitle = !s.flowId ? 'Save the flow first' : s.dirty ? `Exports saved version ${s.version}; save to include your changes` : `Download version ${s.version}`;
  return (
    <header className="toolbar" data-testid="toolbar">
      <div className="tb-group brand-group">
        <a className="brand home-link" href="#/home" data-testid="btn-home" title="Home: every flow, its deployment, rates and errors">
          <svg width="18" height="18" viewBox="0 0 16 16" aria-hidden>
            <rect width="16" height="16" rx="4" fill="var(--accent)" />
            <path d="M4 5h8M4 8h5M4 11h8" stroke="white" strokeWidth="1.6" strokeLinecap="round" />
          </svg>
          Sluice
        </a>
        <button className="btn ghost" data-testid="btn-flows" onClick={onFlows} title="Open a flow, see its versions">
          Flows
        </button>
        <span className="sep" />
        {s.flowId === null ? (
          <input className="flow-name" data-testid="flow-name" value={s.name} onChange={(e) => s.setName(e.target.value)} aria-label="Flow name" spellCheck={false} readOnly={ro} title={ro ? VIEWER_REASON : undefined} />
        ) : (
          <span className="flow-name fixed" data-testid="flow-name" title="The name is the flow's id">
            {s.name}
          </span>
        )}
        {s.flowId === null ? (
          <span className="version" data-testid="flow-version">
            new
          </span>
        ) : (
          <button className="version" data-testid="flow-version" onClick={onVersions} title="Versions of this flow: who saved each, why and when; compare, restore">
            v{s.version}
          </button>
        )}
        {s.dirty && (
          <span className="dirty" title="Unsaved changes" data-testid="dirty">
            ● unsaved
          </span>
        )}
        <button
          className={`valid-pill ${s.errors ? 'error' : s.warnings ? 'warning' : 'ok'}`}
          onClick={() => s.setPanel('problems')}
          data-testid="validation-status"
          hidden={s.empty}
          title="Problems found by validation"
        >
          {s.errors ? `${s.errors} error${s.errors > 1 ? 's' : ''}` : s.warnings ? `${s.warnings} warning${s.warnings > 1 ? 's' : ''}` : 'valid'}
        </button>
      </div>

      <div className="tb-group">
        <button className="btn icon" data-testid="btn-undo" onClick={s.undo} disabled={ro || !s.canUndo} title={why('Undo (Ctrl+Z)')}>
          ↶
        </button>
        <button className="btn icon" data-testid="btn-redo" onClick={s.redo} disabled={ro || !s.canRedo} title={why('Redo (Ctrl+Shift+Z)')}>
          ↷
        </button>
        <button
          className="btn"
          data-testid="btn-layout"
          onClick={() => {
            s.layout();
            setTimeout(() => fitFlow(rf), 20);
          }}
          disabled={ro || s.empty}
          title={why('Auto layout (L)')}
        >
          Layout
        </button>
        <button className="btn" data-testid="btn-fit" onClick={() => fitFlow(rf)} disabled={s.empty} title="Fit the flow in view (F)">
          Fit
        </button>
      </div>

      <div className="tb-group">
        <button className="btn" data-testid="btn-test-run" onClick={() => void s.testRun()} disabled={ro || s.empty} title={why('Run on a sample; nothing is written (Ctrl+Enter)')}>
          {s.previewStatus === 'running' ? <span className="spinner" /> : '▷'} Test run
        </button>
        <input
          className="save-message"
          data-testid="save-message"
          aria-label="Save message"
          placeholder="What changed?"
          value={s.saveMessage}
          maxLength={500}
          onChange={(e) => s.setSaveMessage(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter') void s.save();
          }}
          hidden={ro || s.empty}
          title="Optional: kept with the version the next save makes"
        />
        <button className="btn primary" data-testid="btn-save" onClick={() => void s.save()} disabled={ro || s.busy.save || s.empty} title={why('Save a new version (Ctrl+S)')}>
          {s.busy.save ? 'Saving…' : 'Save'}
        </button>
      </div>

      <div className="tb-group deploy-group">
        <span className={`status-pill ${s.status}`} data-testid="deploy-status" hidden={s.status === 'not-deployed'}>
          {STATUS_TEXT[s.status] ?? s.status}
          {s.liveVersion ? ` v${s.liveVersion}` : ''}
        </span>
        <button className="btn" data-testid="btn-deploy" onClick={() => void s.deploy()} disabled={ro || s.busy.deploy || s.empty} title={why('Save, then run this flow continuously on the server')}>
          Deploy
        </button>
        {s.status === 'paused' ? (
          <button className="btn icon" data-testid="btn-resume" onClick={() => void s.control('resume')} disabled={ro} title={why('Resume')}>
            ▶
          </button>
        ) : (
          <button className="btn icon" data-testid="btn-pause" onClick={() => void s.control('pause')} disabled={ro || s.status !== 'running'} title={why('Pause')}>
            ❚❚
          </button>
        )}
        <button className="btn icon" data-testid="btn-stop" onClick={() => void s.control('stop')} disabled={ro || !active} title={why('Stop')}>
          ■
        </button>
      </div>

      <div className="tb-group files-group">
        <a
          className={`btn${s.flowId ? '' : ' disabled'}`}
          data-testid="btn-export-yaml"
          href={s.flowId ? api.exportUrl(s.flowId, 'yaml') : undefined}
          download
          title={exportTitle}
          aria-disabled={!s.flowId}
        >
          YAML
        </a>
        <a
          className={`btn${s.flowId ? '' : ' disabled'}`}
          data-testid="btn-export-json"
          href={s.flowId ? api.exportUrl(s.flowId, 'json') : undefined}
          download
          title={exportTitle}
          aria-disabled={!s.flowId}
        >
          JSON
        </a>
        <button className="btn" data-testid="btn-export" disabled={!s.flowId} onClick={() => setExporting(true)} title="The variables the exported file needs, and the downloads">
          Export…
        </button>
        {exporting && s.flowId && <ExportDialog flowId={s.flowId} onClose={() => setExporting(false)} />}
        <button className="btn" data-testid="btn-import" onClick={onImport} disabled={ro} title={why('Import a flow from YAML or JSON')}>
          Import
        </button>
        {!ro && (
          <a className="btn ghost" href="#/connections" data-testid="btn-connections">
            Connections
          </a>
        )}
      </div>

      {api.me && (
        <div className="tb-group user-group">
          <span className="muted" data-testid="current-user" title={`Signed in as ${api.me.user} (${api.me.role})`}>
            {api.me.user}
          </span>
          {admin && (
            <>
              <a className="btn ghost" href="#/users" data-testid="btn-users" title="Users and API keys">
                Users
              </a>
              <a className="btn ghost" href="#/audit" data-testid="btn-audit" title="The audit log">
                Audit
              </a>
            </>
          )}
          <button className="btn ghost" data-testid="btn-password" onClick={() => setChangingPassword(true)} title="Change your password">
            Password
          </button>
          <button className="btn ghost" data-testid="btn-signout" onClick={() => void api.signOut().finally(() => location.reload())} title="Sign out">
            Sign out
          </button>
        </div>
      )}
      {changingPassword && (
        <PasswordDialog
          onClose={() => setChangingPassword(false)}
          onChanged={() => {
            setChangingPassword(false);
            notify('success', 'Password changed; your other sessions were signed out.');
          }}
        />
      )}
    </header>
  );
}
