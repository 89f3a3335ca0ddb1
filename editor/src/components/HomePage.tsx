/**
 * The home page (where the editor lands): every saved flow with its version, last change, deployment
 * state, records/s and errors, refreshed every few seconds; search, open, duplicate, delete.
 * Test hooks: home-page, home-search, home-row-<id>, home-state-<id>, home-rate-<id>, home-errors-<id>,
 * home-open-<id>, home-duplicate-<id>, home-delete-<id>, confirm-delete, btn-confirm-delete, btn-home-new.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { ApiError, type DeployStatus, type FlowSummary } from '../api.js';
import { fmtCount } from '../selectors.js';
import { useApi, useEditor, VIEWER_REASON } from '../store.js';
import { fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';
import { AppBar } from './AppBar.js';
import { Modal } from './Modal.js';

const REFRESH_MS = 2000;

/** records/s of a deployment: its busiest node (every node of a straight flow sees the same records) */
export const flowRate = (d: DeployStatus | undefined) => Math.max(0, ...Object.values(d?.nodes ?? {}).map((n) => n.rate ?? 0));
/** records that failed at any node, and those dead-lettered */
export const flowErrors = (d: DeployStatus | undefined) => Object.values(d?.nodes ?? {}).reduce((sum, n) => sum + (n.errors ?? 0), 0);

/** `name-copy`, `name-copy-2`, ... : the first name not taken */
export function copyName(name: string, taken: Set<string>): string {
  for (let i = 1; ; i++) {
    const candidate = `${name}-copy${i > 1 ? `-${i}` : ''}`;
    if (!taken.has(candidate)) return candidate;
  }
}

export function HomePage() {
  const api = useApi();
  const { readOnly, newFlow, dirty, openId } = useEditor((s) => ({ readOnly: s.readOnly, newFlow: s.newFlow, dirty: s.dirty, openId: s.flowId }));
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [live, setLive] = useState<Record<string, DeployStatus>>({});
  const [query, setQuery] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<FlowSummary | null>(null);

  const load = useCallback(async () => {
    try {
      const [list, deployments] = await Promise.all([api.listFlows(), api.deployments()]);
      setFlows(list);
      setLive(Object.fromEntries(deployments.map((d) => [d.flowId ?? '', d])));
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, [api]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [load]);

  const shown = useMemo(() => {
    const q = query.trim().toLowerCase();
    return (flows ?? []).filter((f) => !q || f.name.toLowerCase().includes(q) || (f.description ?? '').toLowerCase().includes(q));
  }, [flows, query]);

  const duplicate = async (f: FlowSummary) => {
    try {
      const src = await api.getFlow(f.name);
      const name = copyName(f.name, new Set((flows ?? []).map((x) => x.name)));
      const { version: _v, ...doc } = src.document as Record<string, unknown>;
      await api.createFlow({ ...doc, name } as typeof src.document);
      await load();
    } catch (e) {
      setError((e as Error).message);
    }
  };

  const remove = async (f: FlowSummary) => {
    try {
      await api.deleteFlow(f.name);
      setDeleting(null);
      await load();
    } catch (e) {
      setDeleting(null);
      setError(e instanceof ApiError ? e.message : (e as Error).message);
    }
  };

  return (
    <div className="page bar-page" data-testid="home-page">
      <AppBar current="home" />
      <main className="page-body">
      <div className="page-head">
        <h1>Flows</h1>
        <p className="muted">Every saved flow, what is deployed and how it runs. Open one to edit it, or start a new one.</p>
      </div>
      <div className="row home-tools">
        <input
          type="search"
          className="home-search"
          placeholder="Search flows by name or description"
          aria-label="Search flows"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          data-testid="home-search"
        />
        <a
          className="btn primary"
          href="#/"
          data-testid="btn-home-new"
          aria-disabled={readOnly}
          title={readOnly ? VIEWER_REASON : 'A new, empty flow'}
          onClick={(e) => {
            if (readOnly) return e.preventDefault();
            if (openId !== null || dirty) {
              if (dirty && !confirm('The open flow has unsaved changes. Discard them?')) return e.preventDefault();
              newFlow();
            }
          }}
        >
          + New flow
        </a>
      </div>
      {error && (
        <p className="conn-message bad" role="alert" data-testid="home-error">
          {error}
        </p>
      )}
      <div className="admin-card">
        <DataTable
          className="home-table"
          testId="home-table"
          rows={shown.map((f) => {
            const d = live[f.name];
            return { f, d, state: d?.status ?? f.deployment?.status ?? 'not-deployed', errors: flowErrors(d) };
          })}
          rowKey={(r) => r.f.id}
          rowProps={(r) => ({ 'data-testid': `home-row-${r.f.name}` })}
          columns={[
            {
              header: 'flow',
              cell: ({ f }) => (
                <>
                  <a className="link strong" href={`#/flow/${encodeURIComponent(f.name)}`} data-testid={`home-open-${f.name}`}>
                    {f.name}
                  </a>
                  {f.description && <div className="muted small ellipsis">{f.description}</div>}
                </>
              ),
            },
            {
              header: 'version',
              cell: ({ f }) => (
                <>
                  v{f.version} <span className="muted small">· {f.nodes} nodes</span>
                </>
              ),
            },
            {
              header: 'last change',
              cell: ({ f }) => (
                <>
                  {fmtTime(f.updatedAt)}
                  {f.author && <span className="muted small"> by {f.author}</span>}
                </>
              ),
              cellProps: ({ f }) => ({ title: f.updatedAt, 'data-testid': `home-changed-${f.name}` }),
            },
            {
              header: 'deployment',
              cell: ({ d, state }) =>
                state === 'not-deployed' ? (
                  <span className="muted">not deployed</span>
                ) : (
                  <>
                    <span className={`status-pill tiny ${state}`}>{state}</span>
                    {d?.version !== undefined && <span className="muted small"> v{d.version}</span>}
                    {d?.agent && <span className="muted small"> on {d.agent}</span>}
                  </>
                ),
              cellProps: ({ f }) => ({ 'data-testid': `home-state-${f.name}` }),
            },
            { header: 'records/s', className: 'right mono', cell: ({ d }) => (d ? fmtCount(Math.round(flowRate(d))) : '—'), cellProps: ({ f }) => ({ 'data-testid': `home-rate-${f.name}` }) },
            {
              header: 'errors',
              className: 'right mono',
              cell: ({ d, errors }) => (d ? fmtCount(errors) : '—'),
              cellProps: ({ f, errors }) => ({ 'data-testid': `home-errors-${f.name}`, className: errors ? 'err-text' : undefined }),
            },
            {
              header: 'actions',
              hiddenHeader: true,
              className: 'right nowrap',
              cell: ({ f }) => (
                <>
                  <button className="btn small" onClick={() => void duplicate(f)} disabled={readOnly} title={readOnly ? VIEWER_REASON : 'Save a copy under a new name'} data-testid={`home-duplicate-${f.name}`}>
                    Duplicate
                  </button>{' '}
                  <button className="btn small danger" onClick={() => setDeleting(f)} disabled={readOnly} title={readOnly ? VIEWER_REASON : 'Delete the flow and every version of it'} data-testid={`home-delete-${f.name}`}>
                    Delete
                  </button>
                </>
              ),
            },
          ]}
        />
        {flows?.length === 0 && <p className="muted small pad">No saved flows yet. Start a new one.</p>}
        {flows && flows.length > 0 && shown.length === 0 && <p className="muted small pad">No flow matches “{query}”.</p>}
        {flows === null && !error && <p className="muted small pad">Loading…</p>}
      </div>
      {deleting && (
        <Modal title={`Delete ${deleting.name}?`} onClose={() => setDeleting(null)} testId="confirm-delete">
          <p>
            Flow <b>{deleting.name}</b> and its {deleting.version} version{deleting.version === 1 ? '' : 's'} will be deleted. This cannot be undone.
          </p>
          <div className="row end">
            <button className="btn" onClick={() => setDeleting(null)}>
              Cancel
            </button>
            <button className="btn danger" onClick={() => void remove(deleting)} data-testid="btn-confirm-delete">
              Delete
            </button>
          </div>
        </Modal>
      )}
      </main>
    </div>
  );
}
