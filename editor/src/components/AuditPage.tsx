/**
 * The audit log (admins): who did what, when, from where; newest first. Filters are the query
 * parameters of GET /api/audit (user, action — `flow` matches every `flow.*` —, since, until); a page
 * is 200 entries, "Show older" asks for 200 more; the rows are virtualized so 10,000 scroll smoothly.
 * Test hooks: audit-page, audit-user, audit-action, audit-since, audit-until, audit-apply, audit-table,
 * audit-row, audit-more, audit-error.
 */
import { useCallback, useEffect, useRef, useState, type FormEvent } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { AuditEntry, AuditQuery } from '../api.js';
import { describeError } from '../store-flow.js';
import { useApi } from '../store.js';
import { BackLink, fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';

const PAGE = 200;
const MAX = 10_000; // the server's largest limit
const ROW = 30;
const ACTIONS = ['auth', 'auth.signin', 'auth.signin-failed', 'user', 'key', 'flow', 'flow.save', 'flow.deploy', 'connection'];

/** a datetime-local value (local time, no zone) as ISO 8601, or undefined */
const isoOf = (local: string) => (local ? new Date(local).toISOString() : undefined);

const detailsText = (d: unknown) => (d === null || d === undefined ? '' : typeof d === 'string' ? d : JSON.stringify(d));

export function AuditPage() {
  const api = useApi();
  const [draft, setDraft] = useState({ user: '', action: '', since: '', until: '' });
  const [query, setQuery] = useState<AuditQuery>({});
  const [limit, setLimit] = useState(PAGE);
  const [entries, setEntries] = useState<AuditEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(false);

  const load = useCallback(() => {
    setLoading(true);
    api.audit({ ...query, limit }).then(
      (list) => {
        setEntries(list);
        setError(null);
      },
      (err: unknown) => setError(describeError(err).text),
    ).finally(() => setLoading(false));
  }, [api, query, limit]);
  useEffect(() => load(), [load]);

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setLimit(PAGE);
    setQuery({ user: draft.user.trim() || undefined, action: draft.action.trim() || undefined, since: isoOf(draft.since), until: isoOf(draft.until) });
  };
  const field = (k: keyof typeof draft) => ({ value: draft[k], onChange: (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [k]: e.target.value })) });

  const scroller = useRef<HTMLDivElement>(null);
  const rows = entries ?? [];
  const virtual = useVirtualizer({ count: rows.length, getScrollElement: () => scroller.current, estimateSize: () => ROW, overscan: 15 });
  const items = virtual.getVirtualItems();
  const padTop = items[0]?.start ?? 0;
  const padBottom = items.length ? virtual.getTotalSize() - items[items.length - 1].end : 0;
  const more = entries !== null && entries.length >= limit && limit < MAX;

  return (
    <div className="page admin-page" data-testid="audit-page">
      <div className="page-head">
        <BackLink />
        <h1>Audit log</h1>
        <p className="muted">Sign-ins, user and key changes, flow and connection changes, deployments: who, when, from which address. Newest first; nothing here can be changed.</p>
      </div>
      <form className="admin-form inline" onSubmit={apply} aria-label="Filter the audit log">
        <label>
          User
          <input data-testid="audit-user" {...field('user')} autoComplete="off" placeholder="any" />
        </label>
        <label>
          Action
          <input data-testid="audit-action" {...field('action')} list="audit-actions" autoComplete="off" placeholder="any" title="an action (key.create) or a family of them (flow: every flow.*)" />
          <datalist id="audit-actions">
            {ACTIONS.map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
        </label>
        <label>
          From
          <input data-testid="audit-since" type="datetime-local" step={1} {...field('since')} />
        </label>
        <label>
          Until
          <input data-testid="audit-until" type="datetime-local" step={1} {...field('until')} />
        </label>
        <button className="btn primary" type="submit" data-testid="audit-apply">
          Apply
        </button>
        <button
          className="btn ghost"
          type="button"
          onClick={() => {
            setDraft({ user: '', action: '', since: '', until: '' });
            setLimit(PAGE);
            setQuery({});
          }}
        >
          Clear
        </button>
      </form>
      {error && (
        <p className="conn-message bad" role="alert" data-testid="audit-error">
          {error}
        </p>
      )}
      <div className="admin-card audit-scroll" ref={scroller} tabIndex={0} role="region" aria-label="Audit entries">
        <DataTable
          testId="audit-table"
          tableProps={{ 'aria-rowcount': rows.length + 1 }}
          rows={items.map((v) => rows[v.index])}
          rowKey={(e) => e.id}
          rowProps={(_e, i) => ({ 'data-testid': 'audit-row', style: { height: ROW }, 'aria-rowindex': items[i].index + 2 })}
          padTop={padTop}
          padBottom={padBottom}
          empty={entries?.length === 0 ? 'No entry matches.' : undefined}
          columns={[
            { header: 'when', cell: (e) => fmtTime(e.at), cellProps: (e) => ({ title: e.at }) },
            { header: 'who', className: 'mono', cell: (e) => e.user ?? '' },
            { header: 'action', className: 'mono', cell: (e) => e.action },
            { header: 'what', className: 'mono', cell: (e) => e.target ?? '' },
            { header: 'address', className: 'mono', cell: (e) => e.address ?? '' },
            { header: 'details', className: 'mono small ellipsis', cell: (e) => detailsText(e.details), cellProps: (e) => ({ title: detailsText(e.details) }) },
          ]}
        />
      </div>
      <p className="muted small">
        {loading ? 'Loading…' : `${rows.length.toLocaleString('en-US')} entr${rows.length === 1 ? 'y' : 'ies'}`}
        {more && (
          <button className="btn small" data-testid="audit-more" onClick={() => setLimit((l) => Math.min(l + PAGE, MAX))}>
            Show older
          </button>
        )}
      </p>
    </div>
  );
}
