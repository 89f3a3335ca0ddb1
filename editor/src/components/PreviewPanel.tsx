/**
 * The test run's results: for the selected node, the records that went in and came out (by port),
 * its errors, and for a sink what it would write; with no node selected, every node's counts.
 */
import { useState } from 'react';
import type { SluiceRecord } from '../api.js';
import { fmtCount, selectedIds } from '../selectors.js';
import { useEditor } from '../store.js';
import { RecordTable } from './RecordTable.js';

/** `map_1: 100 of 100` for each node where records failed, or '' when none did */
function recordFailures(nodes: Record<string, { in: number; errors: number }> | undefined): string {
  return Object.entries(nodes ?? {})
    .filter(([, n]) => n.errors > 0)
    .map(([id, n]) => `${id} ${fmtCount(n.errors)}${n.in > 0 ? ` of ${fmtCount(n.in)}` : ''}`)
    .join(', ');
}

/** rows a new table would get: every create, update and snapshot row is an insert into it */
const upserts = (ops: Partial<Record<string, number>>) => (ops.c ?? 0) + (ops.u ?? 0) + (ops.r ?? 0);

export function PreviewPanel() {
  const ids = useEditor(selectedIds);
  const { status, error, failedNode, durationMs, failures } = useEditor((s) => ({
    status: s.preview.status,
    error: s.preview.error,
    failedNode: s.preview.summary?.failedNode,
    durationMs: s.preview.summary?.durationMs,
    failures: recordFailures(s.preview.summary?.nodes),
  }));
  if (status === 'idle') {
    return (
      <div className="panel-empty" data-testid="preview-empty">
        Press <b>Test run</b> (Ctrl+Enter) to run the flow on a sample of its sources — 100 records each. Nothing is written: sinks show what they
        would write. Then select a node to see its records.
      </div>
    );
  }
  return (
    <div className="preview" data-testid="preview-panel">
      <div className={`run-line ${status}`} data-testid="preview-status">
        {status === 'running' && (
          <>
            <span className="spinner" /> Running on a sample…
          </>
        )}
        {status === 'done' && failures && (
          <span className="warn-text" data-testid="run-failed-records">
            Test run finished{durationMs !== undefined ? ` in ${Math.round(durationMs)} ms` : ''}, but records failed: {failures}. Select the node to see why.
            Nothing was written.
          </span>
        )}
        {status === 'done' && !failures && <>Test run finished{durationMs !== undefined ? ` in ${Math.round(durationMs)} ms` : ''}. Nothing was written.</>}
        {status === 'failed' && (
          <span className="err-text">
            Test run failed{failedNode ? ` at ${failedNode}` : ''}: {error ?? 'see the node'}
          </span>
        )}
      </div>
      {ids.length === 1 ? <NodeRecords key={ids[0]} id={ids[0]} /> : <Overview />}
    </div>
  );
}

function Overview() {
  const ids = useEditor((s) => s.nodes.map((n) => n.id));
  const { nodes, summary, selectNode } = useEditor((s) => ({ nodes: s.preview.nodes, summary: s.preview.summary, selectNode: s.selectNode }));
  return (
    <div className="overview">
      <p className="muted small">Select a node to see its records.</p>
      <table className="mini-table">
        <thead>
          <tr>
            <th>node</th>
            <th>in</th>
            <th>out</th>
            <th>errors</th>
          </tr>
        </thead>
        <tbody>
          {ids.map((id) => {
            const r = nodes[id];
            const st = summary?.nodes?.[id];
            const errors = Math.max(st?.errors ?? 0, r?.errors.length ?? 0);
            return (
              <tr key={id} onClick={() => selectNode(id)} className="clickable">
                <td className="mono">{id}</td>
                <td>{fmtCount(st?.in ?? r?.inCount ?? 0)}</td>
                <td>{fmtCount(st?.out ?? r?.outCount ?? 0)}</td>
                <td className={errors ? 'err-text' : ''}>{fmtCount(errors)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

interface Tab {
  key: string;
  label: string;
  records: SluiceRecord[];
  total?: number;
}

function NodeRecords({ id }: { id: string }) {
  const { rec, type, would, stats, creates } = useEditor((s) => {
    const node = s.nodes.find((n) => n.id === id);
    return {
      rec: s.preview.nodes[id],
      type: node ? s.catalog[node.data.type] : undefined,
      would: s.preview.summary?.preview?.[id]?.wouldWrite,
      creates: s.preview.summary?.preview?.[id]?.target?.creates,
      stats: s.preview.summary?.nodes?.[id],
    };
  });
  const isSink = type ? type.outputs.length === 0 : false;
  const isSource = type ? type.inputs.length === 0 : false;
  const tabs: Tab[] = [];
  if (!isSource) tabs.push({ key: 'in', label: 'Input', records: rec?.in ?? [], total: stats?.in ?? rec?.inCount });
  if (!isSink) {
    const ports = new Set([...(type?.outputs.map((p) => p.name) ?? ['out']), ...Object.keys(rec?.out ?? {})]);
    for (const port of ports) {
      const list = rec?.out[port] ?? [];
      if (port === 'error') continue;
      tabs.push({ key: `out:${port}`, label: ports.size > 2 || (ports.size === 2 && !ports.has('error')) ? `Output · ${port}` : 'Output', records: list, total: port === 'out' ? (stats?.out ?? rec?.outCount) : undefined });
    }
  }
  // a transform: what went in beside what came out (first output port)
  const firstOut = tabs.find((t) => t.key.startsWith('out:'));
  const inTab = tabs.find((t) => t.key === 'in');
  if (inTab && firstOut) tabs.push({ key: 'side', label: 'In ⇄ Out', records: firstOut.records, total: firstOut.total });
  tabs.push({ key: 'errors', label: 'Errors', records: rec?.errors ?? [] });
  if (isSink) tabs.push({ key: 'would', label: 'Would write', records: would?.sample ?? [] });
  const preferred = isSink ? 'would' : isSource ? tabs[0]?.key : (tabs.find((t) => t.key.startsWith('out:'))?.key ?? 'in');
  const [tab, setTab] = useState<string | null>(null);
  const current = tabs.find((t) => t.key === (tab ?? ((rec?.errors.length ?? 0) > 0 && !tab ? 'errors' : preferred))) ?? tabs[0];

  return (
    <div className="node-records">
      <div className="tabs small-tabs" role="tablist">
        <span className="mono node-label">{id}</span>
        {tabs.map((t) => (
          <button key={t.key} role="tab" className={t === current ? 'on' : ''} onClick={() => setTab(t.key)} data-testid={`records-tab-${t.key.replace(':', '-')}`}>
            {t.label}
            <span className={`count${t.key === 'errors' && t.records.length ? ' err' : ''}`}>{fmtCount(t.total ?? t.records.length)}</span>
          </button>
        ))}
      </div>
      {current?.key === 'would' && would && creates && (
        <div className="would" data-testid="would-write">
          would create <b>{creates}</b> and insert <b>{fmtCount(upserts(would.ops))}</b> {creates.startsWith('collection ') ? 'documents' : 'rows'}
          {(would.ops.d ?? 0) > 0 && <> ({fmtCount(would.ops.d ?? 0)} deletes find nothing to delete)</>}
          <span className="muted"> — a sample of them below</span>
        </div>
      )}
      {current?.key === 'would' && would && !creates && (
        <div className="would" data-testid="would-write">
          would write: <b>{would.ops.c ?? 0}</b> inserts · <b>{would.ops.u ?? 0}</b> updates · <b>{would.ops.d ?? 0}</b> deletes
          {(would.ops.r ?? 0) > 0 && (
            <>
              {' '}
              · <b>{would.ops.r}</b> snapshot rows
            </>
          )}
          <span className="muted"> — a sample of them below</span>
        </div>
      )}
      {current?.key === 'side' && inTab && firstOut ? (
        <div className="side-by-side" data-testid="records-side">
          <section aria-label={`${id}: input`} data-testid="records-side-in">
            <h3>Input</h3>
            <RecordTable records={inTab.records} total={inTab.total} label={`${id} input records`} />
          </section>
          <section aria-label={`${id}: output`} data-testid="records-side-out">
            <h3>{firstOut.label}</h3>
            <RecordTable records={firstOut.records} total={firstOut.total} label={`${id} output records`} />
          </section>
        </div>
      ) : current && current.records.length > 0 ? (
        <RecordTable records={current.records} total={current.total} />
      ) : (
        <div className="panel-empty small">{current?.key === 'errors' ? 'No errors at this node.' : 'No records here (yet).'}</div>
      )}
    </div>
  );
}
