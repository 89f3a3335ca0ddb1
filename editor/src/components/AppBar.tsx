/** The bar over the pages beside the canvas (home, cluster): where to go, and who is signed in. */
import { useApi } from '../store.js';

export function AppBar({ current }: { current: 'home' | 'cluster' }) {
  const api = useApi();
  const admin = api.me?.role === 'admin';
  const link = (page: typeof current, href: string, label: string) => (
    <a className={`btn ghost${page === current ? ' on' : ''}`} href={href} data-testid={`nav-${page}`} aria-current={page === current ? 'page' : undefined}>
      {label}
    </a>
  );
  return (
    <header className="toolbar app-bar" data-testid="app-bar">
      <nav className="tb-group brand-group" aria-label="Pages">
        <span className="brand">
          <svg width="18" height="18" viewBox="0 0 16 16" aria-hidden>
            <rect width="16" height="16" rx="4" fill="var(--accent)" />
            <path d="M4 5h8M4 8h5M4 11h8" stroke="white" strokeWidth="1.6" strokeLinecap="round" />
          </svg>
          Sluice
        </span>
        {link('home', '#/home', 'Flows')}
        {link('cluster', '#/cluster', 'Cluster')}
        {api.me?.role !== 'viewer' && (
          <a className="btn ghost" href="#/connections" data-testid="btn-connections">
            Connections
          </a>
        )}
        {admin && (
          <>
            <a className="btn ghost" href="#/users" data-testid="btn-users">
              Users
            </a>
            <a className="btn ghost" href="#/audit" data-testid="btn-audit">
              Audit
            </a>
          </>
        )}
      </nav>
      {api.me && (
        <div className="tb-group user-group">
          <span className="muted" data-testid="current-user" title={`Signed in as ${api.me.user} (${api.me.role})`}>
            {api.me.user}
          </span>
          <button className="btn ghost" data-testid="btn-signout" onClick={() => void api.signOut().finally(() => location.reload())}>
            Sign out
          </button>
        </div>
      )}
    </header>
  );
}
