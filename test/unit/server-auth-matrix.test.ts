/**
 * The authorization matrix, generated from ONE table (ROUTES below): every /api route × {no
 * credentials, viewer, editor, admin, revoked key, expired session} → the status expected. A route the
 * express app serves, or the role table of server/API.md lists, that is missing from ROUTES fails.
 * In process (createSluiceServer) over real HTTP and a real SQLite store.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { createSluiceServer, type SluiceServer } from '../../server/server.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import type { Role } from '../../server/store/auth-store.js';
import { keyFor, signIn } from '../helpers/auth.js';
import { tempDir } from '../helpers/node-harness.js';

type Who = 'none' | 'viewer' | 'editor' | 'admin' | 'revoked-key' | 'expired-session';
const WHO: Who[] = ['none', 'viewer', 'editor', 'admin', 'revoked-key', 'expired-session'];
type Need = 'public' | 'signed-in' | Role;

interface Row {
  /** as server/API.md writes it: `METHOD /api/path/:param` */
  route: string;
  need: Need;
  /** the status when allowed (the call is well formed, so a refusal can only be authorization) */
  ok: number;
  /** the concrete path; default: the route's path with :id → base */
  path?: (who: Who) => string;
  body?: (who: Who) => unknown;
  /** makes what the call needs, per principal (a flow to delete …) */
  prepare?: (who: Who) => Promise<unknown> | void;
}

const flow = (name: string) => ({
  apiVersion: 'sluice/v1',
  name,
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 3 } },
    { id: 'out', type: 'file.sink', config: { path: `out-${name}.jsonl` } },
  ],
  edges: [{ from: 'gen', to: 'out' }],
});

let server: SluiceServer;
let url: string;
let dir: string;
const headers = {} as Record<Who, Record<string, string>>;
const admin = () => headers.admin;

async function api(method: string, path: string, body: unknown, h: Record<string, string>): Promise<Response> {
  return fetch(url + path, {
    method,
    headers: { ...h, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
const asAdmin = async (method: string, path: string, body?: unknown) => {
  const res = await api(method, path, body, admin());
  if (res.status >= 300) throw new Error(`setup ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.status === 204 ? undefined : res.json();
};
const ownKeyId: Partial<Record<Who, string>> = {};

const ROUTES: Row[] = [
  { route: 'GET /api/health', need: 'public', ok: 200 },
  { route: 'POST /api/auth/signin', need: 'public', ok: 200, body: () => ({ user: 'matrix-signin', password: 'matrix-password' }) },
  { route: 'POST /api/auth/setup', need: 'public', ok: 409, body: () => ({ token: 'x', password: 'long-enough-password' }) },
  { route: 'GET /api/auth/session', need: 'signed-in', ok: 200 },
  { route: 'POST /api/auth/signout', need: 'signed-in', ok: 204, body: () => ({}) },
  { route: 'POST /api/auth/password', need: 'signed-in', ok: 400, body: () => ({ current: 'not-the-password', password: 'another-password' }) },
  { route: 'GET /api/node-types', need: 'viewer', ok: 200 },
  { route: 'GET /api/connection-types', need: 'viewer', ok: 200 },
  { route: 'GET /api/flow-settings', need: 'viewer', ok: 200 },
  { route: 'GET /api/flows', need: 'viewer', ok: 200 },
  { route: 'POST /api/flows', need: 'editor', ok: 201, body: (w) => flow(`new-${w}`) },
  { route: 'POST /api/flows/validate', need: 'editor', ok: 200, body: () => flow('v') },
  { route: 'POST /api/flows/import', need: 'editor', ok: 201, body: (w) => ({ text: JSON.stringify(flow(`imp-${w}`)), format: 'json' }) },
  { route: 'GET /api/flows/:id', need: 'viewer', ok: 200 },
  {
    route: 'PUT /api/flows/:id',
    need: 'editor',
    ok: 200,
    path: (w) => `/api/flows/put-${w}`,
    body: (w) => ({ baseVersion: 1, document: flow(`put-${w}`) }),
    prepare: (w) => asAdmin('POST', '/api/flows', flow(`put-${w}`)),
  },
  { route: 'DELETE /api/flows/:id', need: 'editor', ok: 204, path: (w) => `/api/flows/del-${w}`, prepare: (w) => asAdmin('POST', '/api/flows', flow(`del-${w}`)) },
  { route: 'GET /api/flows/:id/versions', need: 'viewer', ok: 200 },
  { route: 'GET /api/flows/:id/versions/:v', need: 'viewer', ok: 200, path: () => '/api/flows/base/versions/1' },
  { route: 'GET /api/flows/:id/export', need: 'viewer', ok: 200 },
  { route: 'GET /api/flows/:id/tests', need: 'viewer', ok: 200 },
  {
    route: 'POST /api/flows/:id/tests',
    need: 'editor',
    ok: 201,
    body: (w) => ({ name: `t-${w}`, inputs: { gen: [{ key: 1, op: 'r', value: { n: 1 } }] }, expect: { out: [{ key: 1, op: 'r', value: { n: 1 } }] } }),
  },
  { route: 'POST /api/flows/:id/tests/run', need: 'editor', ok: 200, body: () => ({}) },
  {
    route: 'DELETE /api/flows/:id/tests/:test',
    need: 'editor',
    ok: 204,
    path: (w) => `/api/flows/base/tests/del-${w}`,
    prepare: (w) => asAdmin('POST', '/api/flows/base/tests', { name: `del-${w}`, inputs: {}, expect: {} }),
  },
  { route: 'POST /api/flows/:id/preview', need: 'editor', ok: 200, path: () => '/api/flows/base/preview?wait=true', body: () => ({ limit: 3 }) },
  { route: 'POST /api/previews/:previewId/stop', need: 'editor', ok: 404, path: () => '/api/previews/none/stop', body: () => ({}) },
  { route: 'POST /api/flows/:id/deploy', need: 'editor', ok: 202, path: (w) => `/api/flows/dep-${w}/deploy`, body: () => ({}), prepare: (w) => asAdmin('POST', '/api/flows', flow(`dep-${w}`)) },
  // never deployed: the command is refused by the flow's state (409), after authorization
  { route: 'POST /api/flows/:id/stop', need: 'editor', ok: 409, path: () => '/api/flows/base/stop', body: () => ({}) },
  { route: 'POST /api/flows/:id/pause', need: 'editor', ok: 409, path: () => '/api/flows/base/pause', body: () => ({}) },
  { route: 'POST /api/flows/:id/resume', need: 'editor', ok: 409, path: () => '/api/flows/base/resume', body: () => ({}) },
  { route: 'GET /api/flows/:id/status', need: 'viewer', ok: 200 },
  { route: 'GET /api/flows/:id/logs', need: 'viewer', ok: 200 },
  { route: 'GET /api/flows/:id/dead-letters', need: 'viewer', ok: 200 },
  { route: 'POST /api/flows/:id/dead-letters/replay', need: 'editor', ok: 200, body: () => ({ ids: [999999] }) },
  { route: 'POST /api/flows/:id/dead-letters/discard', need: 'editor', ok: 200, body: () => ({ ids: [999999] }) },
  { route: 'GET /api/flows/:id/schedule', need: 'viewer', ok: 404 },
  { route: 'GET /api/flows/:id/positions', need: 'viewer', ok: 200 },
  { route: 'PUT /api/flows/:id/positions', need: 'editor', ok: 200, body: () => ({ positions: { gen: 'after record 1' }, dryRun: true }) },
  { route: 'GET /api/deployments', need: 'viewer', ok: 200 },
  { route: 'GET /api/cluster', need: 'viewer', ok: 200 },
  // outside /api (where Prometheus looks), behind the same guard
  { route: 'GET /metrics', need: 'viewer', ok: 200 },
  { route: 'GET /api/connections', need: 'editor', ok: 200 },
  { route: 'POST /api/connections', need: 'admin', ok: 201, body: (w) => ({ name: `conn-${w}`, type: 'postgres', config: { host: 'db', password: 'pw' } }) },
  { route: 'GET /api/connections/:id', need: 'editor', ok: 200, path: () => '/api/connections/base' },
  { route: 'PUT /api/connections/:id', need: 'admin', ok: 200, path: () => '/api/connections/base', body: () => ({ config: { path: 'base2.db' } }) },
  {
    route: 'DELETE /api/connections/:id',
    need: 'admin',
    ok: 204,
    path: (w) => `/api/connections/del-${w}`,
    prepare: (w) => asAdmin('POST', '/api/connections', { name: `del-${w}`, type: 'postgres', config: { host: 'db' } }),
  },
  { route: 'POST /api/connections/:id/test', need: 'editor', ok: 200, path: () => '/api/connections/base/test', body: () => ({}) },
  { route: 'GET /api/users', need: 'admin', ok: 200 },
  { route: 'POST /api/users', need: 'admin', ok: 201, body: (w) => ({ name: `user-${w}`, role: 'viewer', password: 'a-long-password' }) },
  { route: 'PUT /api/users/:name', need: 'admin', ok: 200, path: () => '/api/users/matrix-signin', body: () => ({ role: 'viewer' }) },
  {
    route: 'DELETE /api/users/:name',
    need: 'admin',
    ok: 204,
    path: (w) => `/api/users/gone-${w}`,
    prepare: (w) => asAdmin('POST', '/api/users', { name: `gone-${w}`, role: 'viewer', password: 'a-long-password' }),
  },
  { route: 'GET /api/api-keys', need: 'signed-in', ok: 200 },
  { route: 'POST /api/api-keys', need: 'signed-in', ok: 201, body: () => ({ label: 'matrix' }) },
  {
    route: 'DELETE /api/api-keys/:id',
    need: 'signed-in',
    ok: 204,
    // a second key of the principal's own user: everyone may revoke their own
    path: (w) => `/api/api-keys/${ownKeyId[w] ?? 'none'}`,
    prepare: async (w) => {
      if (w === 'viewer' || w === 'editor' || w === 'admin') ownKeyId[w] = ((await (await api('POST', '/api/api-keys', { label: 'to revoke' }, headers[w])).json()) as { id: string }).id;
    },
  },
  { route: 'GET /api/audit', need: 'admin', ok: 200 },
];

const RANK: Record<Who, Role | undefined> = { none: undefined, viewer: 'viewer', editor: 'editor', admin: 'admin', 'revoked-key': undefined, 'expired-session': undefined };
const ORDER: Role[] = ['viewer', 'editor', 'admin'];

function expected(row: Row, who: Who): number {
  if (row.need === 'public') return row.ok;
  const role = RANK[who];
  if (!role) return 401;
  if (row.need === 'signed-in') return row.ok;
  return ORDER.indexOf(role) >= ORDER.indexOf(row.need) ? row.ok : 403;
}

/** `METHOD /api/path` of every route the express app serves, read from its router stack */
function appRoutes(s: SluiceServer): string[] {
  const out: string[] = [];
  const walk = (stack: any[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const path = layer.route.path === '/' ? '' : layer.route.path;
        for (const m of Object.keys(layer.route.methods)) if (m !== '_all') out.push(`${m.toUpperCase()} ${prefix}${path}`);
      } else if (Array.isArray(layer.handle?.stack)) walk(layer.handle.stack, prefix + (typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : ''));
    }
  };
  walk((s.app as any).router.stack, '');
  return out.filter((r) => r.split(' ')[1].startsWith('/api/') || r.split(' ')[1] === '/metrics');
}

/** the routes of server/API.md's role table */
function documentedRoutes(): string[] {
  const md = readFileSync(join(import.meta.dirname, '../../server/API.md'), 'utf8');
  return [...md.matchAll(/^\| `((?:GET|POST|PUT|DELETE) \/(?:api\/[^`]*|metrics))` \|/gm)].map((m) => m[1]);
}

beforeAll(async () => {
  dir = tempDir();
  const store = new SqliteControlStore(join(dir, 'sluice.db'));
  const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
  server = createSluiceServer({ registry: createRegistry(), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {} });
  url = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
  for (const role of ['viewer', 'editor', 'admin'] as const) headers[role] = (await keyFor(server, role, role)).headers;
  headers.none = {};
  const revoked = await keyFor(server, 'revoked-admin', 'admin');
  const keyId = (await store.auth.listKeys()).find((k) => k.user === 'revoked-admin')!.id;
  await store.auth.revokeKey(keyId);
  headers['revoked-key'] = revoked.headers;
  await server.context.auth.createUser('expired-admin', 'admin', 'expired-password');
  const session = await signIn(url, 'expired-admin', 'expired-password');
  const db = new Database(join(dir, 'sluice.db'));
  db.prepare('UPDATE sessions SET expires_at = ? WHERE user_id = (SELECT id FROM users WHERE name = ?)').run(Date.now() - 1, 'expired-admin');
  db.close();
  headers['expired-session'] = session.headers;
  await server.context.auth.createUser('matrix-signin', 'editor', 'matrix-password');
  await asAdmin('POST', '/api/flows', flow('base'));
  await asAdmin('POST', '/api/connections', { name: 'base', type: 'sqlite', config: { path: 'base.db' } });
  return async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  };
}, 60_000);

describe('authorization matrix', () => {
  it('has a row for every route the app serves and every route of API.md’s role table, and no other', () => {
    const table = ROUTES.map((r) => r.route).sort();
    expect(new Set(table).size).toBe(table.length);
    const normal = (r: string) => r.replace(/:[A-Za-z]+/g, ':param');
    expect([...new Set(appRoutes(server).map(normal))].sort()).toEqual([...new Set(table.map(normal))].sort());
    expect(documentedRoutes().sort()).toEqual(table);
  });

  for (const row of ROUTES) {
    it(`${row.route}: ${WHO.map((w) => `${w} ${expected(row, w)}`).join(', ')}`, async () => {
      const [method, pattern] = row.route.split(' ');
      const got: Record<string, number> = {};
      const want: Record<string, number> = {};
      for (const who of WHO) {
        await row.prepare?.(who);
        const path = row.path?.(who) ?? pattern.replace(':id', 'base');
        const res = await api(method, path, row.body?.(who), headers[who]);
        got[who] = res.status;
        want[who] = expected(row, who);
      }
      expect(got).toEqual(want);
    });
  }
});
