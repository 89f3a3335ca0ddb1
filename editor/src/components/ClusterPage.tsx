/**
 * The Cluster page: the agents (name, address, version, alive since, last heartbeat, flows held,
 * records/s, CPU, memory) and for each deployed flow the agent that runs it and its lease, from
 * GET /api/cluster, refreshed every 2 s. The view may gain or lack fields: what is missing shows as —.
 * Without --cluster the server runs every flow itself: a short note says so.
 * Test hooks: cluster-page, cluster-single, cluster-error, cluster-agents, agent-<name>,
 * agent-flows-<name>, cluster-flows, cluster-flow-<id>, cluster-flow-agent-<id>, cluster-lease-<id>.
 */
import { useEffect, useState } from 'react';
import type { ClusterAgent, ClusterFlow, ClusterView } from '../api.js';
import { useApi } from '../store.js';
import { fmtTime } from './AdminCommon.js';
import { AppBar } from './AppBar.js';
import { DataTable } from './DataTable.js';

const REFRESH_MS = 2000;
const DASH = '—';

const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const at = (ms: unknown) => (num(ms) === undefined ? DASH : fmtTime(new Date(ms as number).toISOString()));
/** `3 s ago`, from the page's clock (heartbeats are Redis time; close enough for a glance) */
function ago(ms: unknown, now: number): string {
  const t = num(ms);
  if (t === undefined) return DASH;
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}
const mb = (bytes: unknown) => (num(bytes) === undefined ? DASH : `${Math.round((bytes as number) / 1048576)} MB`);
const pct = (v: unknown) => (num(v) === undefined ? DASH : `${Math.round(v as number)} %`);
const rate = (v: unknown) => (num(v) === undefined ? DASH : Math.round(v as number).toLocaleString('en-US'));

export function ClusterPage() {
  const api = useApi();
  const [view, setView] = useState<ClusterView | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());

  useEffect(() => {
    let live = true;
    const load = () =>
      api.cluster().then(
        (v) => {
          if (!live) return;
          setView(v);
          setError(null);
          setNow(Date.now());
        },
        (e: Error) => live && setError(e.message),
      );
    void load();
    const timer = setInterval(() => void load(), REFRESH_MS);
    return () => {
      live = false;
      clearInterval(timer);
    };
  }, [api]);

  return (
    <div className="page bar-page" data-testid="cluster-page">
      <AppBar current="cluster" />
      <main className="page-body">
        <div className="page-head">
          <h1>Cluster</h1>
          {view?.mode === 'cluster' && (
            <p className="muted">
              The agents that run the deployed flows, each flow on one agent under a lease.{view.leader ? ` Leader: ${view.leader}.` : ''}
            </p>
          )}
        </div>
        {error && (
          <p className="conn-message bad" role="alert" data-testid="cluster-error">
            {error}
          </p>
        )}
        {view === null && !error && <p className="muted">Loading…</p>}
        {view?.mode === 'single' && (
          <p className="muted cluster-note" data-testid="cluster-single">
            This server runs every deployed flow in its own process: it was started without <code>--cluster</code>. Start it with{' '}
            <code>sluice serve --cluster --redis redis://… --store …</code> and run <code>sluice agent</code>s to spread the flows over several processes
            or machines.
          </p>
        )}
        {view?.mode === 'cluster' && (
          <>
            <Agents agents={view.agents ?? []} now={now} />
            <Flows flows={view.flows ?? []} />
          </>
        )}
      </main>
    </div>
  );
}

function Agents({ agents, now }: { agents: ClusterAgent[]; now: number }) {
  return (
    <section className="admin-card" aria-labelledby="agents-h">
      <h2 id="agents-h">Agents</h2>
      <DataTable
        testId="cluster-agents"
        rows={agents}
        rowKey={(a) => a.name}
        rowProps={(a) => ({ 'data-testid': `agent-${a.name}` })}
        empty="No agent is connected: deployed flows wait until one starts (sluice agent)."
        columns={[
          {
            header: 'agent',
            cell: (a) => (
              <>
                <b>{a.name}</b>
                {a.alive === false && <span className="status-pill tiny failed"> no heartbeat</span>}
                {a.draining && <span className="status-pill tiny stopping"> draining</span>}
              </>
            ),
          },
          { header: 'address', className: 'mono', cell: (a) => (typeof a.address === 'string' ? a.address : DASH) },
          { header: 'version', className: 'mono', cell: (a) => (typeof a.version === 'string' ? a.version : DASH) },
          { header: 'alive since', cell: (a) => at(a.aliveSince) },
          { header: 'last heartbeat', cell: (a) => ago(a.heartbeatAt, now), cellProps: (a) => ({ title: at(a.heartbeatAt) }) },
          {
            header: 'flows',
            cell: (a) => (Array.isArray(a.flows) ? `${a.flows.length}${a.flows.length ? `: ${a.flows.join(', ')}` : ''}` : DASH),
            cellProps: (a) => ({ 'data-testid': `agent-flows-${a.name}`, title: Array.isArray(a.flows) ? a.flows.join(', ') : undefined }),
          },
          { header: 'records/s', className: 'right mono', cell: (a) => rate(a.recordsPerSecond) },
          { header: 'CPU', className: 'right mono', cell: (a) => pct(a.cpu) },
          { header: 'memory', className: 'right mono', cell: (a) => mb(a.memory) },
        ]}
      />
    </section>
  );
}

function Flows({ flows }: { flows: ClusterFlow[] }) {
  return (
    <section className="admin-card" aria-labelledby="flows-h">
      <h2 id="flows-h">Deployed flows</h2>
      <DataTable
        testId="cluster-flows"
        rows={flows}
        rowKey={(f) => f.flowId}
        rowProps={(f) => ({ 'data-testid': `cluster-flow-${f.flowId}` })}
        empty="No flow is deployed."
        columns={[
          {
            header: 'flow',
            cell: (f) => (
              <a className="link" href={`#/flow/${encodeURIComponent(f.flowId)}`}>
                {f.flowId}
              </a>
            ),
          },
          { header: 'state', cell: (f) => (f.status ? <span className={`status-pill tiny ${f.status}`}>{f.status}</span> : DASH) },
          { header: 'agent', cell: (f) => f.agent ?? <span className="muted">unassigned</span>, cellProps: (f) => ({ 'data-testid': `cluster-flow-agent-${f.flowId}` }) },
          { header: 'lease', cell: (f) => leaseText(f.lease), cellProps: (f) => ({ 'data-testid': `cluster-lease-${f.flowId}` }) },
        ]}
      />
    </section>
  );
}

function leaseText(lease: ClusterFlow['lease']): string {
  if (!lease) return 'not held';
  const parts = [lease.agent ? `held by ${lease.agent}` : 'held'];
  if (num(lease.token) !== undefined) parts.push(`token ${lease.token}`);
  if (num(lease.ttlMs) !== undefined) parts.push(`${((lease.ttlMs as number) / 1000).toFixed(1)} s left`);
  return parts.join(' · ');
}
