/**
 * Saved flows and their versions (who saved each, the message, the exact time): open one, compare two
 * versions node by node, restore an old one. `openFlowOnly`: the open flow's versions alone (its own page).
 */
import { useEffect, useState } from 'react';
import type { FlowSummary, VersionInfo } from '../api.js';
import { diffFlows, type FlowDiff } from '../diff.js';
import { useApi, useEditor, VIEWER_REASON } from '../store.js';
import { Modal } from './Modal.js';
import { DiffView } from './DiffView.js';

const when = (t: string) => {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
};
/** to the second, for telling versions apart; the ISO time (to the ms) in the tooltip */
const exactly = (t: string) => {
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
};

export function FlowList({ onClose, openFlowOnly = false }: { onClose(): void; openFlowOnly?: boolean }) {
  const api = useApi();
  const { openFlow, newFlow, restoreVersion, currentId, dirty, readOnly } = useEditor((s) => ({
    openFlow: s.openFlow,
    newFlow: s.newFlow,
    restoreVersion: s.restoreVersion,
    currentId: s.flowId,
    dirty: s.dirty,
    readOnly: s.readOnly,
  }));
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [selected, setSelected] = useState<string | null>(currentId);
  const [versions, setVersions] = useState<VersionInfo[] | null>(null);
  const [picked, setPicked] = useState<number[]>([]);
  const [diff, setDiff] = useState<{ a: number; b: number; d: FlowDiff } | null>(null);

  useEffect(() => {
    api.listFlows().then(setFlows, (e: Error) => setError(e.message));
  }, [api]);

  useEffect(() => {
    setVersions(null);
    setPicked([]);
    setDiff(null);
    if (selected) api.versions(selected).then(setVersions, (e: Error) => setError(e.message));
  }, [api, selected]);

  const discardOk = () => !dirty || confirm('The open flow has unsaved changes. Discard them?');
  const open = (id: string) => {
    if (id !== currentId && !discardOk()) return;
    void openFlow(id);
    onClose();
  };
  const compare = async () => {
    if (!selected || picked.length !== 2) return;
    const [a, b] = [...picked].sort((x, y) => x - y);
    try {
      const [fa, fb] = await Promise.all([api.getFlow(selected, a), api.getFlow(selected, b)]);
      setDiff({ a, b, d: diffFlows(fa.document, fb.document) });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const restore = async (v: number) => {
    if (!selected) return;
    if (selected !== currentId) {
      if (!discardOk()) return;
      await openFlow(selected);
    } else if (!discardOk()) return;
    await restoreVersion(v);
    onClose();
  };
  const toggle = (v: number) => setPicked((p) => (p.includes(v) ? p.filter((x) => x !== v) : [...p, v].slice(-2)));

  return (
    <Modal title={openFlowOnly ? `${currentId ?? ''} — versions` : 'Flows'} onClose={onClose} wide testId={openFlowOnly ? 'flow-versions' : 'flow-list'}>
      {error && <p className="err-text">{error}</p>}
      <div className={`flow-list${openFlowOnly ? ' only-versions' : ''}`}>
        <div className="fl-flows" hidden={openFlowOnly}>
          <button
            className="btn small"
            onClick={() => {
              if (!discardOk()) return;
              newFlow();
              onClose();
            }}
            data-testid="btn-new-flow"
            disabled={readOnly}
            title={readOnly ? VIEWER_REASON : undefined}
          >
            + New flow
          </button>
          {flows === null && !error && <p className="muted small">Loading…</p>}
          {flows?.length === 0 && <p className="muted small">No saved flows yet. Build one on the canvas and press Save.</p>}
          <ul>
            {flows?.map((f) => (
              <li key={f.id} className={f.id === selected ? 'on' : ''} onClick={() => setSelected(f.id)} onDoubleClick={() => open(f.id)} data-testid={`flow-${f.id}`}>
                <div className="fl-name">
                  {f.name}
                  {f.deployment && f.deployment.status !== 'not-deployed' && <span className={`status-pill tiny ${f.deployment.status}`}>{f.deployment.status}</span>}
                </div>
                <div className="muted small">
                  v{f.version} · {f.nodes} nodes · {when(f.updatedAt)}
                </div>
              </li>
            ))}
          </ul>
        </div>
        <div className="fl-versions">
          {!selected && <p className="muted">Select a flow to see its versions.</p>}
          {selected && (
            <>
              {!openFlowOnly && (
                <div className="row between">
                  <h3 className="insp-h">{selected} — versions</h3>
                  <button className="btn small primary" onClick={() => open(selected)} data-testid="btn-open-flow">
                    Open
                  </button>
                </div>
              )}
              <p className="muted small">Tick two versions to compare them.</p>
              <table className="mini-table versions">
                <tbody>
                  {versions?.map((v, i) => (
                    <tr key={v.version} data-testid={`version-${v.version}`}>
                      <td>
                        <input type="checkbox" checked={picked.includes(v.version)} onChange={() => toggle(v.version)} aria-label={`pick version ${v.version}`} />
                      </td>
                      <td>
                        <b>v{v.version}</b>
                        {i === 0 && <span className="muted small"> latest</span>}
                      </td>
                      <td className="small nowrap" title={v.savedAt} data-testid={`version-time-${v.version}`}>
                        {exactly(v.savedAt)}
                      </td>
                      <td className="small" data-testid={`version-author-${v.version}`}>
                        {v.author ?? <span className="muted">unknown</span>}
                      </td>
                      <td className="small version-message" data-testid={`version-message-${v.version}`}>
                        {v.message ?? <span className="muted">—</span>}
                      </td>
                      <td className="muted small">
                        {v.nodes} nodes · {v.edges} wires
                      </td>
                      <td className="right">
                        <a className="link small" href={api.exportUrl(selected, 'yaml', v.version)} download>
                          YAML
                        </a>{' '}
                        {i > 0 && !readOnly && (
                          <button className="link small" onClick={() => void restore(v.version)} data-testid={`restore-${v.version}`}>
                            Restore
                          </button>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              <button className="btn small" disabled={picked.length !== 2} onClick={() => void compare()} data-testid="btn-compare">
                Compare {picked.length === 2 ? `v${Math.min(...picked)} → v${Math.max(...picked)}` : ''}
              </button>
              {diff && <DiffView a={diff.a} b={diff.b} diff={diff.d} />}
            </>
          )}
        </div>
      </div>
    </Modal>
  );
}
