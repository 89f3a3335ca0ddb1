/**
 * Positions: where each source of the saved flow resumes, in words (GET /api/flows/:id/positions), when
 * that was committed, and the history; editors type a new position for a source (rewind or skip ahead)
 * while the flow is stopped or paused, review what the change will replay or skip (a dry run), then
 * apply it. Test hooks: positions-panel, position-<node>, position-input-<node>, positions-review,
 * positions-confirm, positions-apply, positions-cancel, positions-history, positions-error.
 */
import { useCallback, useEffect, useState } from 'react';
import type { PositionChangeAnswer, Positions } from '../api.js';
import { useApi, useEditor } from '../store.js';
import { fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';

const RUNNING = new Set(['starting', 'running', 'stopping']);

export function PositionsPanel() {
  const api = useApi();
  const { flowId, live, readOnly, notify } = useEditor((s) => ({ flowId: s.flowId, live: s.live?.status, readOnly: s.readOnly, notify: s.notify }));
  const [view, setView] = useState<Positions | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [typed, setTyped] = useState<Record<string, string>>({});
  const [resetState, setResetState] = useState(false);
  const [review, setReview] = useState<PositionChangeAnswer | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    if (!flowId) return;
    api.positions(flowId).then(
      (v) => {
        setView(v);
        setError(null);
      },
      (e: Error) => setError(e.message),
    );
  }, [api, flowId]);
  // again whenever the deployment changes state (a stop commits, a completed run has its last position)
  useEffect(load, [load, live]);

  if (!flowId) return <p className="empty" data-testid="positions-panel">Save the flow to see where its sources resume.</p>;

  const asked = Object.fromEntries(Object.entries(typed).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim() === 'start' ? null : v.trim()]));
  const running = RUNNING.has(view?.status ?? live ?? '');
  const send = async (dryRun: boolean) => {
    setBusy(true);
    try {
      const answer = await api.setPositions(flowId, { positions: asked, resetState, dryRun });
      setError(null);
      if (dryRun) setReview(answer);
      else {
        setReview(null);
        setTyped({});
        setResetState(false);
        notify('success', `Positions set: ${answer.changes.map((c) => `${c.node} → ${c.to}`).join('; ')}`);
        load();
      }
    } catch (e) {
      setError((e as Error).message);
      setReview(null);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="positions" data-testid="positions-panel">
      {error && (
        <p className="err-text" role="alert" data-testid="positions-error">
          {error}
        </p>
      )}
      {view && (
        <>
          <p className="muted">
            {view.committedAt ? `Committed ${fmtTime(view.committedAt)}` : 'Nothing committed yet: every source starts at its beginning.'}
            {view.stateful.length > 0 && ` State kept for ${view.stateful.join(', ')}.`}
          </p>
          <DataTable
            rows={view.sources}
            rowKey={(s) => s.node}
            rowProps={(s) => ({ 'data-testid': `position-${s.node}` })}
            columns={[
              { header: 'Source', cell: (s) => s.node },
              { header: 'Type', cell: (s) => s.type },
              { header: 'Resumes at', cell: (s) => s.text, cellProps: (s) => ({ title: JSON.stringify(s.position) }) },
              ...(readOnly
                ? []
                : [
                    {
                      header: 'New position',
                      cell: (s: (typeof view.sources)[number]) => (
                        <input
                          aria-label={`New position of ${s.node}`}
                          data-testid={`position-input-${s.node}`}
                          placeholder={`${s.example ?? 'as shown'}, or start`}
                          value={typed[s.node] ?? ''}
                          disabled={running}
                          onChange={(e) => {
                            setTyped({ ...typed, [s.node]: e.target.value });
                            setReview(null);
                          }}
                        />
                      ),
                    },
                  ]),
            ]}
          />
          {!readOnly && (
            <div className="records-bar">
              {view.stateful.length > 0 && (
                <label>
                  <input type="checkbox" checked={resetState} disabled={running} onChange={(e) => setResetState(e.target.checked)} /> Forget the state of {view.stateful.join(', ')}
                </label>
              )}
              <button className="btn small" data-testid="positions-review" disabled={running || busy || Object.keys(asked).length === 0} onClick={() => void send(true)} title={running ? 'Pause or stop the flow first' : 'See what the change replays or skips'}>
                Review change
              </button>
              {running && <span className="muted">Pause or stop the flow to change its positions.</span>}
            </div>
          )}
          {review && (
            <div className="confirm" role="alertdialog" aria-label="Confirm the change of positions" data-testid="positions-confirm">
              <ul>
                {review.changes.map((c) => (
                  <li key={c.node}>
                    <b>{c.node}</b>: {c.from} → {c.to}. {c.effect}.
                  </li>
                ))}
                {review.warnings.map((w) => (
                  <li key={w} className="warn-text">
                    {w}
                  </li>
                ))}
              </ul>
              <button className="btn small primary" data-testid="positions-apply" disabled={busy} onClick={() => void send(false)}>
                Apply
              </button>{' '}
              <button className="btn small ghost" data-testid="positions-cancel" onClick={() => setReview(null)}>
                Cancel
              </button>
            </div>
          )}
          {view.history.length > 0 && (
            <details data-testid="positions-history">
              <summary>History ({view.history.length})</summary>
              <ul>
                {view.history.map((h, i) => (
                  <li key={i}>
                    {fmtTime(h.at)}: {Object.entries(h.positions).map(([n, t]) => `${n} ${t}`).join('; ')}
                    {h.note && <i> — {h.note}</i>}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </>
      )}
    </div>
  );
}
