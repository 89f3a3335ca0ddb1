/**
 * Dead letters: the records of the saved flow that failed in a node with no error port wired, with their
 * node and error (GET /api/flows/:id/dead-letters), filtered by node and by error text; editors select
 * some and replay them (through the node they failed in, with the deployed version, on to the sinks) or
 * discard them. Test hooks: dead-letters-panel, dl-filter-node, dl-filter-error, dl-row-<id>,
 * dl-check-<id>, dl-check-all, dl-replay, dl-discard, dl-result, dl-error.
 */
import { useCallback, useEffect, useState } from 'react';
import type { DeadLetter } from '../api.js';
import { useApi, useEditor } from '../store.js';
import { fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';

const SHOWN = 500;

export function DeadLettersPanel() {
  const api = useApi();
  const { flowId, nodeIds, deadLetters, readOnly, notify } = useEditor((s) => ({
    flowId: s.flowId,
    nodeIds: s.nodes.map((n) => n.id).join('\n'),
    deadLetters: s.live?.deadLetters,
    readOnly: s.readOnly,
    notify: s.notify,
  }));
  const [letters, setLetters] = useState<DeadLetter[] | null>(null);
  const [node, setNode] = useState('');
  const [errorText, setErrorText] = useState('');
  const [picked, setPicked] = useState<Set<number>>(new Set());
  const [problem, setProblem] = useState<string | null>(null);
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(() => {
    if (!flowId) return;
    api.deadLetters(flowId, { node, error: errorText, limit: SHOWN }).then(
      (ls) => {
        setLetters(ls);
        setPicked((p) => new Set([...p].filter((id) => ls.some((l) => l.id === id))));
        setProblem(null);
      },
      (e: Error) => setProblem(e.message),
    );
  }, [api, flowId, node, errorText]);
  // again when the filters change or the deployment wrote more
  useEffect(load, [load, deadLetters]);

  if (!flowId) return <p className="empty" data-testid="dead-letters-panel">Save and deploy the flow to collect the records that fail.</p>;

  const act = async (what: 'replay' | 'discard') => {
    const ids = [...picked];
    setBusy(true);
    try {
      if (what === 'replay') {
        const r = await api.replayDeadLetters(flowId, ids);
        const text = `Replayed ${r.replayed}: ${r.replayed - r.failedAgain} went through${r.failedAgain ? `, ${r.failedAgain} failed again (new dead letters)` : ''}${r.missing.length ? `; ${r.missing.length} were already gone` : ''}.`;
        setResult(text);
        notify(r.failedAgain ? 'info' : 'success', text);
      } else {
        const r = await api.discardDeadLetters(flowId, ids);
        setResult(`Discarded ${r.discarded}.`);
      }
      setPicked(new Set());
      setProblem(null);
      load();
    } catch (e) {
      setProblem((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  const all = letters ?? [];

  return (
    <div className="dead-letters" data-testid="dead-letters-panel">
      <div className="records-bar">
        <label>
          Node{' '}
          <select value={node} onChange={(e) => setNode(e.target.value)} data-testid="dl-filter-node" aria-label="Only the letters of this node">
            <option value="">all</option>
            {nodeIds
              .split('\n')
              .filter(Boolean)
              .map((id) => (
                <option key={id} value={id}>
                  {id}
                </option>
              ))}
          </select>
        </label>
        <input type="search" placeholder="Error contains…" aria-label="Only the letters whose error contains" value={errorText} onChange={(e) => setErrorText(e.target.value)} data-testid="dl-filter-error" />
        {!readOnly && (
          <>
            <button className="btn small" disabled={busy || picked.size === 0} onClick={() => void act('replay')} data-testid="dl-replay" title="Through the node each failed in, with the deployed version, on to the sinks">
              Replay selected ({picked.size})
            </button>
            <button className="btn small ghost" disabled={busy || picked.size === 0} onClick={() => void act('discard')} data-testid="dl-discard">
              Discard selected
            </button>
          </>
        )}
      </div>
      {problem && (
        <p className="err-text" role="alert" data-testid="dl-error">
          {problem}
        </p>
      )}
      {result && (
        <p className="muted" role="status" data-testid="dl-result">
          {result}
        </p>
      )}
      {letters && (
        <DataTable
          rows={all}
          rowKey={(l) => l.id}
          rowProps={(l) => ({ 'data-testid': `dl-row-${l.id}` })}
          hideWhenEmpty
          empty={`No dead letters${node || errorText ? ' match the filters' : ''}.`}
          emptyClassName="muted"
          selection={
            readOnly
              ? undefined
              : { selected: picked, onChange: setPicked, label: (l) => `Select letter ${l.id}`, allLabel: 'Select every letter shown', testId: (l) => `dl-check-${l.id}`, allTestId: 'dl-check-all' }
          }
          columns={[
            { header: 'Node', cell: (l) => l.node },
            { header: 'Error', className: 'ellipsis', cell: (l) => l.error, cellProps: (l) => ({ title: l.error }) },
            { header: 'Record', className: 'ellipsis', cell: (l) => <code>{JSON.stringify(l.record.value)}</code>, cellProps: (l) => ({ title: JSON.stringify(l.record.value) }) },
            { header: 'At', className: 'nowrap', cell: (l) => fmtTime(new Date(l.at).toISOString()) },
          ]}
        />
      )}
    </div>
  );
}
