/**
 * Who may call which route, in one table: the role each /api route needs ('public' for none) and the
 * audit action a successful call records. A route that is not in the table needs an admin, so a route
 * added without an entry is closed, not open (the authorization matrix test lists them all).
 */
import type { Role } from '../store/auth-store.js';

export type Access = Role | 'public' | 'signed-in';

export interface RoutePolicy {
  method: string;
  /** express-style path under /api, `:name` for one segment */
  path: string;
  access: Access;
  /** recorded in the audit log when the call succeeds (status < 400); the target is the `:id`/`:name` */
  audit?: string;
  /** calls per principal per minute, for routes that reach out (beside the limit on every request) */
  perMinute?: number;
}

const p = (method: string, path: string, access: Access, audit?: string, perMinute?: number): RoutePolicy => ({ method, path, access, audit, perMinute });

export const POLICY: RoutePolicy[] = [
  p('GET', '/health', 'public'),
  // signing in, and the first admin from the setup link
  p('POST', '/auth/signin', 'public'),
  p('POST', '/auth/setup', 'public'),
  p('GET', '/auth/session', 'signed-in'),
  p('POST', '/auth/signout', 'signed-in'),
  p('POST', '/auth/password', 'signed-in'),
  // catalogs
  p('GET', '/node-types', 'viewer'),
  p('GET', '/connection-types', 'viewer'),
  p('GET', '/flow-settings', 'viewer'),
  // flows
  p('GET', '/flows', 'viewer'),
  p('POST', '/flows', 'editor', 'flow.create'),
  p('POST', '/flows/validate', 'editor'),
  p('POST', '/flows/import', 'editor', 'flow.import'),
  p('GET', '/flows/:id', 'viewer'),
  p('PUT', '/flows/:id', 'editor', 'flow.save'),
  p('DELETE', '/flows/:id', 'editor', 'flow.delete'),
  p('GET', '/flows/:id/versions', 'viewer'),
  p('GET', '/flows/:id/versions/:v', 'viewer'),
  p('GET', '/flows/:id/export', 'viewer'),
  // flow tests: viewers read them, editors save, run and delete them
  p('GET', '/flows/:id/tests', 'viewer'),
  p('POST', '/flows/:id/tests', 'editor', 'flow.test.save'),
  p('POST', '/flows/:id/tests/run', 'editor'),
  p('DELETE', '/flows/:id/tests/:test', 'editor', 'flow.test.delete'),
  // test runs and deployments
  p('POST', '/flows/:id/preview', 'editor'),
  p('POST', '/previews/:id/stop', 'editor'),
  p('POST', '/flows/:id/deploy', 'editor', 'flow.deploy'),
  p('POST', '/flows/:id/stop', 'editor', 'flow.stop'),
  p('POST', '/flows/:id/pause', 'editor', 'flow.pause'),
  p('POST', '/flows/:id/resume', 'editor', 'flow.resume'),
  p('GET', '/flows/:id/status', 'viewer'),
  p('GET', '/flows/:id/logs', 'viewer'),
  p('GET', '/flows/:id/dead-letters', 'viewer'),
  p('POST', '/flows/:id/dead-letters/replay', 'editor', 'flow.dead-letters.replay'),
  p('POST', '/flows/:id/dead-letters/discard', 'editor', 'flow.dead-letters.discard'),
  p('GET', '/flows/:id/schedule', 'viewer'),
  p('GET', '/flows/:id/positions', 'viewer'),
  // a dry run is recorded too: who looked at a rewind is worth knowing
  p('PUT', '/flows/:id/positions', 'editor', 'flow.positions'),
  p('GET', '/deployments', 'viewer'),
  p('GET', '/cluster', 'viewer'),
  // served at /metrics, outside /api (the path Prometheus scrapes by default), behind the same guard
  p('GET', '/metrics', 'viewer'),
  // connections: editors pick them and test them, admins change them
  p('GET', '/connections', 'editor'),
  p('POST', '/connections', 'admin', 'connection.create'),
  p('GET', '/connections/:id', 'editor'),
  p('PUT', '/connections/:id', 'admin', 'connection.update'),
  p('DELETE', '/connections/:id', 'admin', 'connection.delete'),
  // connects to whatever the connection names: limited, so it cannot be used to scan a network
  p('POST', '/connections/:id/test', 'editor', undefined, 30),
  // users, keys, audit (routes/auth.ts; keys: everyone their own, admins anyone's)
  p('GET', '/users', 'admin'),
  p('POST', '/users', 'admin', 'user.create'),
  p('PUT', '/users/:name', 'admin', 'user.update'),
  p('DELETE', '/users/:name', 'admin', 'user.delete'),
  p('GET', '/api-keys', 'signed-in'),
  p('POST', '/api-keys', 'signed-in', 'key.create'),
  p('DELETE', '/api-keys/:id', 'signed-in', 'key.revoke'),
  p('GET', '/audit', 'admin'),
  // served at /hooks/FLOW/NODE, outside /api (routes/hooks.ts): an API key of at least this role, or,
  // without a key, the HMAC signature the http.source node checks; no session cookie, no API rate limit
  p('POST', '/hooks/:flow/:node', 'editor'),
];

interface Compiled {
  policy: RoutePolicy;
  re: RegExp;
  names: string[];
  literal: number;
}

const compiled: Compiled[] = POLICY.map((policy) => {
  const names: string[] = [];
  const segs = policy.path.split('/').map((seg) => {
    if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    names.push(seg.slice(1));
    return '([^/]+)';
  });
  // case-insensitive, as express routes
  return { policy, re: new RegExp(`^${segs.join('/')}/?$`, 'i'), names, literal: policy.path.split('/').filter((s) => s && !s.startsWith(':')).length };
})
  // the most literal route first: /flows/import before /flows/:id
  .sort((a, b) => b.literal - a.literal);

export interface Match {
  policy: RoutePolicy;
  params: Record<string, string>;
}

/** the policy of `METHOD /api<path>` (`path` without /api and without the query); HEAD is GET */
export function matchPolicy(method: string, path: string): Match | undefined {
  const m = method === 'HEAD' ? 'GET' : method;
  for (const c of compiled) {
    if (c.policy.method !== m) continue;
    const hit = c.re.exec(path);
    if (!hit) continue;
    const params: Record<string, string> = {};
    c.names.forEach((n, i) => {
      try {
        params[n] = decodeURIComponent(hit[i + 1]);
      } catch {
        params[n] = hit[i + 1];
      }
    });
    return { policy: c.policy, params };
  }
  return undefined;
}
