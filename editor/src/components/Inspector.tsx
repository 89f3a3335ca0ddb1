/** The right-hand panel: the selected node's settings, or the flow and the keyboard shortcuts. */
import { lazy, Suspense, useState } from 'react';
import { Icon, iconOf } from '../nodeMeta.js';
import { canvasLocked, fmtBytes, fmtCount, selectedIds, sourceProgress } from '../selectors.js';
import { useEditor, VIEWER_REASON } from '../store.js';
import { ConversionReportView } from './ConversionReport.js';
import { Shortcuts } from './Shortcuts.js';

// the form (rjsf, ajv, CodeMirror) is the heaviest part of the editor: loaded when a node is first selected
const ConfigForm = lazy(() => import('./ConfigForm.js').then((m) => ({ default: m.ConfigForm })));
// the same weight: loaded when the flow's settings are first opened
const FlowSettings = lazy(() => import('./FlowSettings.js').then((m) => ({ default: m.FlowSettings })));

export function Inspector() {
  const ids = useEditor(selectedIds);
  return (
    <aside className="inspector" data-testid="inspector">
      {ids.length === 1 ? <NodeInspector key={ids[0]} id={ids[0]} /> : ids.length > 1 ? <MultiInfo count={ids.length} /> : <FlowInfo />}
    </aside>
  );
}

function NodeInspector({ id }: { id: string }) {
  const { data, type, issues, renameNode, updateNode, readOnly, viewer } = useEditor((s) => {
    const data = s.nodes.find((n) => n.id === id)?.data;
    return { data, type: data ? s.catalog[data.type] : undefined, issues: s.issuesByNode[id], renameNode: s.renameNode, updateNode: s.updateNode, readOnly: canvasLocked(s), viewer: s.readOnly };
  });
  const [draftId, setDraftId] = useState(id);
  const [idError, setIdError] = useState<string | null>(null);
  if (!data) return null;
  const commitId = () => {
    const err = renameNode(id, draftId.trim());
    setIdError(err);
    if (err) return;
  };
  const other = (issues ?? []).filter((i) => !i.path.includes('.config.'));
  return (
    <div className="inspector-body">
      <header className={`insp-head cat-${type?.category ?? 'transform'}`}>
        <span className="insp-icon">
          <Icon name={iconOf(type)} size={18} />
        </span>
        <div>
          <div className="insp-title">{type?.title ?? data.type}</div>
          <div className="insp-sub mono">{data.type}</div>
        </div>
      </header>
      {type && <Description text={type.description} />}
      {viewer && (
        <p className="hint" data-testid="read-only-note">
          {VIEWER_REASON}: the settings are shown read-only.
        </p>
      )}
      {readOnly && !viewer && (
        <p className="hint" data-testid="deployed-note">
          This flow is deployed: its settings are shown read-only until you choose to edit it (above the canvas).
        </p>
      )}
      <fieldset className="plain-fieldset" disabled={readOnly}>
      {!type && <p className="field-error">Unknown node type “{data.type}”: the server does not know it.</p>}
      <section className="insp-section">
        <div className="field">
          <label className="field-label" htmlFor="node-id">
            id
          </label>
          <input
            id="node-id"
            data-testid="node-id-input"
            className={`mono${idError ? ' invalid' : ''}`}
            value={draftId}
            onChange={(e) => setDraftId(e.target.value)}
            onBlur={commitId}
            onKeyDown={(e) => e.key === 'Enter' && commitId()}
          />
          {idError ? <div className="field-error">{idError}</div> : <div className="field-help">unique in the flow; edges and logs name the node by it</div>}
        </div>
        <div className="field">
          <label className="field-label" htmlFor="node-name">
            label
          </label>
          <input id="node-name" placeholder="optional" value={data.name ?? ''} onChange={(e) => updateNode(id, { name: e.target.value || undefined })} />
        </div>
      </section>
      {other.length > 0 && (
        <ul className="issue-list">
          {other.map((i, k) => (
            <li key={k} className={i.severity}>
              <span className={`dot ${i.severity}`} />
              {i.message}
            </li>
          ))}
        </ul>
      )}
      <SourceProgressView id={id} />
      <ConversionReportView id={id} />
      <section className="insp-section">
        <h3 className="insp-h">Settings</h3>
        {type ? (
          <Suspense fallback={<p className="muted small">Loading the form…</p>}>
            <ConfigForm nodeId={id} type={type} config={data.config} readOnly={readOnly} />
          </Suspense>
        ) : ( <pre className="json small">{JSON.stringify(data.config, null, 2)}</pre>
        )}
      </section>
      </fieldset>
      {type && (type.inputs.length > 0 || type.outputs.length > 0) && (
        <section className="insp-section ports">
          <h3 className="insp-h">Ports</h3>
          {type.inputs.map((p) => (
            <div key={`i-${p.name}`} className="port-row">
              <span className="port-dir">in</span> <span className="mono">{p.name}</span> {p.description && <span className="muted">— {p.description}</span>}
            </div>
          ))}
          {type.outputs.map((p) => (
            <div key={`o-${p.name}`} className="port-row">
              <span className="port-dir">out</span> <span className={`mono${p.name === 'error' ? ' err-text' : ''}`}>{p.name}</span> {p.description && <span className="muted">— {p.description}</span>}
            </div>
          ))}
        </section>
      )}
    </div>
  );
}

/** a deployed source's progress: per table the phase, rows read / estimated and rows/s, and all tables together; CDC lag */
function SourceProgressView({ id }: { id: string }) {
  const p = useEditor((s) => sourceProgress(s, id));
  if (!p) return null;
  const tables = p.tables ?? [];
  return (
    <section className="insp-section" data-testid="source-progress">
      <h3 className="insp-h">Progress</h3>
      {tables.length > 0 && (
        <table className="progress-table">
          <thead>
            <tr>
              <th>table</th>
              <th>phase</th>
              <th className="num">rows</th>
              <th className="num">%</th>
              <th className="num">rows/s</th>
            </tr>
          </thead>
          <tbody>
            {tables.map((t) => (
              <tr key={t.name} data-testid="progress-row">
                <td className="mono">{t.name}</td>
                <td>{t.phase}</td>
                <td className="num" title={t.estimated !== undefined ? `of about ${t.estimated.toLocaleString('en-US')} (the database's estimate)` : undefined}>
                  {fmtCount(t.done)}
                  {t.estimated !== undefined && <span className="muted"> / ~{fmtCount(t.estimated)}</span>}
                </td>
                <td className="num">{t.phase === 'done' ? '100' : t.estimated ? Math.min(100, Math.floor((100 * t.done) / t.estimated)) : ''}</td>
                <td className="num">{fmtCount(t.rate)}</td>
              </tr>
            ))}
          </tbody>
          <tfoot>
            <tr data-testid="progress-total" title="all tables: rows read, and rows/s over the last status interval">
              <td>all</td>
              <td>{tables.filter((t) => t.phase === 'done').length}/{tables.length} done</td>
              <td className="num">{fmtCount(tables.reduce((n, t) => n + t.done, 0))}</td>
              <td className="num" />
              <td className="num">{fmtCount(tables.reduce((n, t) => n + (t.rate ?? 0), 0))}</td>
            </tr>
          </tfoot>
        </table>
      )}
      {p.lag && (
        <p className="muted small" data-testid="source-lag">
          lag {p.lag.bytes !== undefined ? fmtBytes(p.lag.bytes) : ''}
          {p.lag.ms !== undefined ? `${p.lag.bytes !== undefined ? ', ' : ''}${fmtCount(p.lag.ms)} ms` : ''}
        </p>
      )}
      {p.detail && (
        <p className="muted small mono">
          {Object.entries(p.detail)
            .map(([k, v]) => `${k} ${String(v)}`)
            .join(' · ')}
        </p>
      )}
    </section>
  );
}

/** a long description shows four lines until clicked */
function Description({ text }: { text: string }) {
  const [open, setOpen] = useState(false);
  return (
    <p className={`insp-desc${open ? ' open' : ''}`} onClick={() => setOpen((o) => !o)} title={open ? undefined : 'click to read it all'}>
      {text}
    </p>
  );
}

function MultiInfo({ count }: { count: number }) {
  const { deleteSelected, copySelection, readOnly } = useEditor((s) => ({ deleteSelected: s.deleteSelected, copySelection: s.copySelection, readOnly: canvasLocked(s) }));
  return (
    <div className="inspector-body">
      <h2 className="insp-title">{count} nodes selected</h2>
      <p className="muted">Drag to move them together. Copy with Ctrl+C, paste with Ctrl+V, delete with Delete.</p>
      <div className="row gap">
        <button className="btn small" onClick={() => copySelection()}>
          Copy
        </button>
        <button className="btn small danger" onClick={deleteSelected} disabled={readOnly} title={readOnly ? VIEWER_REASON : undefined}>
          Delete
        </button>
      </div>
    </div>
  );
}

function FlowInfo() {
  const { meta, flowId, baseVersion, nodes, edges, readOnly } = useEditor((s) => ({ meta: s.meta, flowId: s.flowId, baseVersion: s.baseVersion, nodes: s.nodes.length, edges: s.edges.length, readOnly: canvasLocked(s) }));
  const [open, setOpen] = useState(false);
  return (
    <div className="inspector-body">
      <h2 className="insp-title">{meta.name}</h2>
      <p className="muted small">
        {flowId ? `version ${baseVersion}` : 'not saved yet'} · {nodes} node{nodes === 1 ? '' : 's'} · {edges} wire{edges === 1 ? '' : 's'}
      </p>
      {meta.description && <p className="insp-desc">{meta.description}</p>}
      <p className="hint">{nodes === 0 ? 'Drag a source from the palette onto the canvas to begin.' : 'Select a node to edit its settings.'}</p>
      <details className="flow-settings" data-testid="flow-settings" onToggle={(e) => setOpen((e.target as HTMLDetailsElement).open)}>
        <summary>Flow settings</summary>
        <p className="muted small">Batch size, failed records, sandbox limits, retries, and a schedule for flows whose sources end.</p>
        {open && (
          <Suspense fallback={<p className="muted small">Loading…</p>}>
            <FlowSettings readOnly={readOnly} />
          </Suspense>
        )}
      </details>
      <Shortcuts />
    </div>
  );
}
