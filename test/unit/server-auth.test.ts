/**
 * Authentication in process over real HTTP and socket.io: cross-site requests refused (text/plain
 * import, empty-body deploy, a foreign Origin, a socket.io handshake from another site), the Host check
 * against DNS rebinding, security headers, sign-in and API rate limits, API keys, the audit log.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { io as ioClient } from 'socket.io-client';
import { createRegistry } from '../../nodes/catalog.js';
import { DeploymentManager } from '../../runtime/deploy/manager.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import type { AuthLimits } from '../../server/auth/service.js';
import { createSluiceServer, type SluiceServer } from '../../server/server.js';
import { SqliteControlStore } from '../../server/store/sqlite-control-store.js';
import { adminKey, keyFor, signIn, type SessionCredential } from '../helpers/auth.js';
import { tempDir } from '../helpers/node-harness.js';

const open: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of open.splice(0).reverse()) await fn();
});

const flow = (name: string) => ({
  apiVersion: 'sluice/v1',
  name,
  nodes: [
    { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 3 } },
    { id: 'out', type: 'file.sink', config: { path: `out-${name}.jsonl` } },
  ],
  edges: [{ from: 'gen', to: 'out' }],
});

async function start(limits?: Partial<AuthLimits>, publicUrls?: string[], socketRecheckMs?: number) {
  const dir = tempDir();
  const store = new SqliteControlStore(join(dir, 'sluice.db'));
  const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
  const server = createSluiceServer({ registry: createRegistry(), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {}, authLimits: limits, publicUrls, socketRecheckMs });
  const { port } = await server.listen(0, '127.0.0.1');
  open.push(async () => {
    await server.close();
    await checkpoints.close();
    store.close();
  });
  await server.context.auth.createUser('alice', 'admin', 'alice-password');
  const url = `http://127.0.0.1:${port}`;
  return { server, store, url, port, dir, session: await signIn(url, 'alice', 'alice-password') };
}

/** a raw HTTP request, any Host header allowed (fetch would not let us set it) */
function raw(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

const post = (url: string, path: string, headers: Record<string, string>, body?: string) => fetch(url + path, { method: 'POST', headers, body });
const json = { 'content-type': 'application/json' };

describe('cross-site requests with a session cookie', () => {
  it('refuses a text/plain import and an empty-body deploy (no pre-flight needed), and changes nothing', async () => {
    const { url, server, session } = await start();
    const key = await adminKey(server);
    await post(url, '/api/flows', { ...key.headers, ...json }, JSON.stringify(flow('target')));
    // what a hostile page can send: the cookie rides along, no custom header, a "simple" content type
    const imp = await post(url, '/api/flows/import', { cookie: session.cookie, 'content-type': 'text/plain', origin: 'http://evil.example' }, 'apiVersion: sluice/v1\nname: planted\nnodes: []\nedges: []\n');
    expect(imp.status).toBe(403);
    const sameSiteImport = await post(url, '/api/flows/import', { ...session.headers, 'content-type': 'text/plain' }, 'apiVersion: sluice/v1\nname: planted\nnodes: []\nedges: []\n');
    expect([sameSiteImport.status, ((await sameSiteImport.json()) as { error: string }).error]).toEqual([415, expect.stringMatching(/needs a JSON body/)]);
    const deploy = await post(url, '/api/flows/target/deploy', { cookie: session.cookie });
    expect(deploy.status).toBe(415);
    const noToken = await post(url, '/api/flows/target/deploy', { cookie: session.cookie, ...json }, '{}');
    expect([noToken.status, ((await noToken.json()) as { error: string }).error]).toEqual([403, expect.stringMatching(/x-csrf-token/)]);
    const wrongToken = await post(url, '/api/flows/target/deploy', { cookie: session.cookie, 'x-csrf-token': 'guess', ...json }, '{}');
    expect(wrongToken.status).toBe(403);
    const foreign = await post(url, '/api/flows/target/deploy', { ...session.headers, ...json, origin: 'http://evil.example' }, '{}');
    expect(foreign.status).toBe(403);
    expect((await fetch(`${url}/api/flows/planted`, { headers: key.headers })).status).toBe(404);
    expect(((await (await fetch(`${url}/api/flows/target/status`, { headers: key.headers })).json()) as { status: string }).status).toBe('not-deployed');
    // the editor's own request: same origin, JSON, the token
    const ok = await post(url, '/api/flows/target/deploy', { ...session.headers, ...json, origin: url }, '{}');
    expect(ok.status).toBe(202);
  });

  it('lets an API key write without a CSRF token or a JSON body (scripts), and refuses a revoked one', async () => {
    const { url, server, store } = await start();
    const key = await adminKey(server);
    const yaml = 'apiVersion: sluice/v1\nname: scripted\nnodes: []\nedges: []\n';
    expect((await post(url, '/api/flows/import', { ...key.headers, 'content-type': 'application/yaml' }, yaml)).status).toBe(400); // reached validation: no nodes
    expect((await post(url, '/api/flows/import', { ...key.headers, 'content-type': 'application/json' }, JSON.stringify(flow('scripted')))).status).toBe(201);
    const id = (await store.auth.listKeys())[0].id;
    expect((await store.auth.getKey(id))!.lastUsedAt).toEqual(expect.any(Number));
    const del = await fetch(`${url}/api/api-keys/${id}`, { method: 'DELETE', headers: key.headers });
    expect(del.status).toBe(204);
    const after = await fetch(`${url}/api/flows`, { headers: key.headers });
    expect([after.status, ((await after.json()) as { error: string }).error]).toEqual([401, 'the API key is unknown or revoked']);
  });

  it('refuses a socket.io handshake from a foreign Origin or without a principal; accepts the cookie and a key', async () => {
    const { url, server, session } = await start();
    const key = await adminKey(server);
    const handshake = (opts: Parameters<typeof ioClient>[1]) =>
      new Promise<string>((resolve) => {
        const s = ioClient(url, { transports: ['websocket'], reconnection: false, ...opts });
        s.once('connect', () => (s.close(), resolve('connected')));
        s.once('connect_error', (e) => (s.close(), resolve(`refused: ${e.message}`)));
      });
    expect(await handshake({ extraHeaders: { ...key.headers, origin: 'http://evil.example' } })).toMatch(/^refused/);
    expect(await handshake({ extraHeaders: { cookie: session.cookie, origin: 'http://evil.example' } })).toMatch(/^refused/);
    expect(await handshake({})).toBe('refused: sign in first: no valid session cookie or API key');
    expect(await handshake({ extraHeaders: { cookie: session.cookie, origin: url } })).toBe('connected');
    expect(await handshake({ extraHeaders: key.headers })).toBe('connected');
    expect(await handshake({ auth: { token: key.key } })).toBe('connected');
  });

  it('disconnects a socket once its session ends or its key is revoked', async () => {
    const { url, server, session, store } = await start(undefined, undefined, 50);
    const key = await adminKey(server);
    const connected = (extraHeaders: Record<string, string>) =>
      new Promise<ReturnType<typeof ioClient>>((resolve, reject) => {
        const s = ioClient(url, { transports: ['websocket'], reconnection: false, extraHeaders });
        s.once('connect', () => resolve(s));
        s.once('connect_error', reject);
      });
    const byCookie = await connected({ cookie: session.cookie });
    const byKey = await connected(key.headers);
    const gone = (s: ReturnType<typeof ioClient>) => new Promise<string>((resolve) => s.once('disconnect', (reason) => resolve(reason)));
    const cookieGone = gone(byCookie);
    await post(url, '/api/auth/signout', { ...session.headers, ...json }, '{}');
    expect(await cookieGone).toBe('io server disconnect');
    expect(byKey.connected).toBe(true);
    const keyGone = gone(byKey);
    await store.auth.revokeKey((await store.auth.listKeys())[0].id);
    expect(await keyGone).toBe('io server disconnect');
  });
});

describe('Host header and security headers', () => {
  it('refuses a Host that is not a loopback name while bound to loopback (DNS rebinding), on the API, the editor and socket.io', async () => {
    const { port, session } = await start();
    for (const path of ['/api/health', '/', '/api/flows']) {
      const r = await raw(port, path, { host: `rebind.example:${port}`, cookie: session.cookie });
      expect([r.status, r.body.trim().split('\n').length]).toEqual([421, 1]);
      expect(r.body).toMatch(/DNS rebinding/);
    }
    const sock = await raw(port, '/socket.io/?EIO=4&transport=polling', { host: `rebind.example:${port}`, cookie: session.cookie });
    expect(sock.status).toBeGreaterThanOrEqual(400);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `app.localhost:${port}`]) expect((await raw(port, '/api/health', { host })).status).toBe(200);
    expect((await raw(port, '/socket.io/?EIO=4&transport=polling', { host: `localhost:${port}`, cookie: session.cookie })).status).toBe(200);
  });

  it('behind a proxy (--public-url): accepts the public name as Host and Origin, and marks the cookie Secure', async () => {
    const { port, url } = await start(undefined, ['https://sluice.example.com']);
    const host = 'sluice.example.com';
    expect((await raw(port, '/api/health', { host })).status).toBe(200);
    expect((await raw(port, '/api/health', { host: 'other.example.com' })).status).toBe(421);
    const signin = await new Promise<{ status: number; cookie: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/api/auth/signin', method: 'POST', headers: { host, origin: `https://${host}`, 'content-type': 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, cookie: String(res.headers['set-cookie']) }));
      });
      req.on('error', reject);
      req.end(JSON.stringify({ user: 'alice', password: 'alice-password' }));
    });
    expect(signin).toEqual({ status: 200, cookie: expect.stringMatching(/HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/) });
    // the same write from another site is still refused
    const foreign = await post(url, '/api/auth/signin', { ...json, origin: 'https://evil.example' }, JSON.stringify({ user: 'alice', password: 'alice-password' }));
    expect(foreign.status).toBe(403);
  });

  it('accepts any Host when bound to every interface', async () => {
    const dir = tempDir();
    const store = new SqliteControlStore(join(dir, 'sluice.db'));
    const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
    const server = createSluiceServer({ registry: createRegistry(), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {} });
    const { port } = await server.listen(0, '0.0.0.0');
    open.push(async () => {
      await server.close();
      await checkpoints.close();
      store.close();
    });
    expect((await raw(port, '/api/health', { host: `sluice.example.com` })).status).toBe(200);
  });

  it('sends the security headers on every response', async () => {
    const { url } = await start();
    for (const path of ['/', '/api/health', '/api/flows', '/api/nope']) {
      const h = (await fetch(url + path)).headers;
      expect(h.get('content-security-policy')).toMatch(/default-src 'self'.*script-src 'self';.*frame-ancestors 'none'/);
      expect([h.get('x-content-type-options'), h.get('x-frame-options'), h.get('referrer-policy')]).toEqual(['nosniff', 'DENY', 'no-referrer']);
    }
  });
});

describe('sessions and limits', () => {
  it('signs in, answers the session with its CSRF token, signs out; a new password ends the old sessions', async () => {
    const { url, session } = await start();
    const me = await fetch(`${url}/api/auth/session`, { headers: { cookie: session.cookie } });
    expect(await me.json()).toEqual({ user: 'alice', role: 'admin', via: 'session', csrfToken: session.csrf });
    const second = await signIn(url, 'alice', 'alice-password');
    const change = await post(url, '/api/auth/password', { ...second.headers, ...json }, JSON.stringify({ current: 'alice-password', password: 'alice-password-2' }));
    expect(change.status).toBe(200);
    expect((await fetch(`${url}/api/auth/session`, { headers: { cookie: session.cookie } })).status).toBe(401);
    const renewed = (change.headers.get('set-cookie') ?? '').split(';')[0];
    expect((await fetch(`${url}/api/auth/session`, { headers: { cookie: renewed } })).status).toBe(200);
    const out = await post(url, '/api/auth/signout', { cookie: renewed, 'x-csrf-token': ((await change.json()) as { csrfToken: string }).csrfToken, ...json }, '{}');
    expect([out.status, out.headers.get('set-cookie')]).toEqual([204, expect.stringMatching(/^sluice_session=;.*Max-Age=0/)]);
    expect((await fetch(`${url}/api/auth/session`, { headers: { cookie: renewed } })).status).toBe(401);
    expect(session.cookie).toMatch(/^sluice_session=/);
  });

  it('sets the session cookie HttpOnly and SameSite=Strict', async () => {
    const { url } = await start();
    const res = await post(url, '/api/auth/signin', json, JSON.stringify({ user: 'alice', password: 'alice-password' }));
    expect(res.headers.get('set-cookie')).toMatch(/^sluice_session=[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  });

  it('limits failed sign-ins per user name and per address: 429 with Retry-After, the right password too', async () => {
    const { url } = await start({ signInFailures: 3 });
    const attempt = (user: string, password: string) => post(url, '/api/auth/signin', json, JSON.stringify({ user, password }));
    for (let i = 0; i < 3; i++) expect((await attempt('alice', 'wrong')).status).toBe(401);
    const blocked = await attempt('alice', 'alice-password');
    expect([blocked.status, Number(blocked.headers.get('retry-after'))]).toEqual([429, expect.any(Number)]);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // the address is blocked too: another user name from here
    expect((await attempt('bob', 'whatever')).status).toBe(429);
  });

  it('counts sign-in attempts made in parallel: of 40 wrong passwords at once, only the limit is checked', async () => {
    const { url } = await start({ signInFailures: 10 });
    const statuses = await Promise.all(
      Array.from({ length: 40 }, (_, i) => post(url, '/api/auth/signin', json, JSON.stringify({ user: 'alice', password: `guess-${i}` })).then((r) => r.status)),
    );
    expect(statuses.filter((s) => s === 401).length).toBe(10);
    expect(statuses.filter((s) => s === 429).length).toBe(30);
  });

  it('makes one admin from one setup link, even with parallel requests', async () => {
    const dir = tempDir();
    const store = new SqliteControlStore(join(dir, 'sluice.db'));
    const checkpoints = new SqliteCheckpointStore(join(dir, 'state.db'));
    const server = createSluiceServer({ registry: createRegistry(), store, manager: new DeploymentManager({ store: checkpoints, cwd: dir }), cwd: dir, env: {} });
    const { port } = await server.listen(0, '127.0.0.1');
    open.push(async () => {
      await server.close();
      await checkpoints.close();
      store.close();
    });
    const token = server.context.auth.issueSetupToken();
    const setup = (user: string) => post(`http://127.0.0.1:${port}`, '/api/auth/setup', json, JSON.stringify({ token, user, password: `${user}-password-long` })).then((r) => r.status);
    const statuses = await Promise.all(['a1', 'a2', 'a3', 'a4', 'a5'].map(setup));
    expect(statuses.filter((s) => s === 201)).toEqual([201]);
    expect(await store.auth.countUsers()).toBe(1);
  });

  it('limits requests per principal: 429 with Retry-After, other principals unaffected', async () => {
    const { url, server } = await start({ requestsPerMinute: 5 });
    const a = await keyFor(server, 'a', 'viewer');
    const b = await keyFor(server, 'b', 'viewer');
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await fetch(`${url}/api/flows`, { headers: a.headers })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    const last = await fetch(`${url}/api/flows`, { headers: a.headers });
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await fetch(`${url}/api/flows`, { headers: b.headers })).status).toBe(200);
  });

  it('limits connection tests to 30 a minute per principal', async () => {
    const { url, server } = await start();
    const key = await adminKey(server);
    await post(url, '/api/connections', { ...key.headers, ...json }, JSON.stringify({ name: 'gone', type: 'sqlite', config: { path: 'missing.db' } }));
    const statuses: number[] = [];
    for (let i = 0; i < 31; i++) statuses.push((await post(url, '/api/connections/gone/test', key.headers)).status);
    expect(statuses.slice(0, 30).every((s) => s === 200)).toBe(true);
    expect(statuses[30]).toBe(429);
    expect((await fetch(`${url}/api/connections/gone`, { headers: key.headers })).status).toBe(200);
  });

  it('gives keys no more rights than their user; a viewer manages only their own keys', async () => {
    const { url, server } = await start();
    const viewer = await keyFor(server, 'vic', 'viewer');
    const mk = (body: unknown) => post(url, '/api/api-keys', { ...viewer.headers, ...json }, JSON.stringify(body));
    expect((await mk({ role: 'admin' })).status).toBe(400);
    expect((await mk({ user: 'alice' })).status).toBe(403);
    const own = await mk({ label: 'mine' });
    expect(own.status).toBe(201);
    const listed = (await (await fetch(`${url}/api/api-keys`, { headers: viewer.headers })).json()) as { user: string }[];
    expect(new Set(listed.map((k) => k.user))).toEqual(new Set(['vic']));
    // an editor's key whose user is demoted to viewer acts as a viewer
    const ed = await keyFor(server, 'eddie', 'editor');
    await server.context.auth.store.setRole('eddie', 'viewer');
    expect((await post(url, '/api/flows', { ...ed.headers, ...json }, JSON.stringify(flow('x')))).status).toBe(403);
  });
});

describe('the store', () => {
  it('adds the auth tables to a sluice.db made before them, keeping what it holds', async () => {
    const file = join(tempDir(), 'sluice.db');
    const before = new SqliteControlStore(file);
    await before.createFlow('kept', (v) => ({ ...flow('kept'), version: v }));
    await before.close();
    // as an older Sluice left it: no users, sessions, keys or audit
    const db = new Database(file);
    db.exec('DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; DROP TABLE audit; DROP TABLE api_keys; DROP TABLE sessions; DROP TABLE users;');
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name IN ('users', 'audit')").get()).toEqual({ n: 0 });
    db.close();
    const after = new SqliteControlStore(file);
    try {
      expect((await after.getFlow('kept'))?.version).toBe(1);
      expect(await after.auth.countUsers()).toBe(0);
      expect(await after.auth.createUser('first', 'admin', 'hash')).toBe(true);
      await after.auth.appendAudit({ user: 'first', action: 'test', target: null, address: null, details: null });
      expect((await after.auth.audit({ limit: 10 })).map((e) => e.action)).toEqual(['test']);
    } finally {
      await after.close();
    }
  });
});

describe('users and the audit log', () => {
  async function admin(url: string, session: SessionCredential, method: string, path: string, body?: unknown) {
    const res = await fetch(url + path, { method, headers: { ...session.headers, ...json }, body: body === undefined ? undefined : JSON.stringify(body) });
    return { status: res.status, json: res.status === 204 ? undefined : ((await res.json()) as any) };
  }

  it('keeps one admin at least', async () => {
    const { url, session } = await start();
    expect((await admin(url, session, 'PUT', '/api/users/alice', { role: 'editor' })).status).toBe(409);
    expect((await admin(url, session, 'DELETE', '/api/users/alice')).status).toBe(409);
    expect((await admin(url, session, 'POST', '/api/users', { name: 'bob', role: 'admin', password: 'short' })).json.error).toMatch(/at least 8/);
    expect((await admin(url, session, 'POST', '/api/users', { name: 'bob', role: 'admin', password: 'bob-password' })).status).toBe(201);
    expect((await admin(url, session, 'PUT', '/api/users/alice', { role: 'editor' })).status).toBe(200);
  });

  it('records who did what, when and from where; filters by user, action and time; refuses to change an entry', async () => {
    const { url, session, server, dir } = await start();
    const key = await keyFor(server, 'robot', 'editor');
    const t0 = new Date().toISOString();
    await post(url, '/api/auth/signin', json, JSON.stringify({ user: 'alice', password: 'nope' }));
    await admin(url, session, 'POST', '/api/flows', flow('audited'));
    await post(url, '/api/flows/audited/deploy', { ...key.headers, ...json }, JSON.stringify({ fromStart: true }));
    await admin(url, session, 'POST', '/api/connections', { name: 'db', type: 'postgres', config: { host: 'h', password: 'pw' } });
    await admin(url, session, 'DELETE', '/api/connections/db');
    await admin(url, session, 'POST', '/api/users', { name: 'carol', role: 'viewer', password: 'carol-password' });
    const all = (await admin(url, session, 'GET', `/api/audit?since=${encodeURIComponent(t0)}`)).json as { user: string; action: string; target: string; address: string; details: any }[];
    expect(all.map((e) => [e.user, e.action, e.target]).reverse()).toEqual([
      ['alice', 'auth.signin-failed', 'alice'],
      ['alice', 'flow.create', 'audited'],
      ['robot', 'flow.deploy', 'audited'],
      ['alice', 'connection.create', 'db'],
      ['alice', 'connection.delete', 'db'],
      ['alice', 'user.create', 'carol'],
    ]);
    expect(all.every((e) => e.address === '127.0.0.1' || e.address === '::ffff:127.0.0.1')).toBe(true);
    expect(all.find((e) => e.action === 'flow.deploy')!.details).toEqual({ via: 'key', version: 1, fromStart: true });
    expect(JSON.stringify(all)).not.toContain('pw"');
    const flows = (await admin(url, session, 'GET', '/api/audit?action=flow')).json as { action: string }[];
    expect(flows.map((e) => e.action)).toEqual(['flow.deploy', 'flow.create']);
    expect(((await admin(url, session, 'GET', '/api/audit?user=robot')).json as unknown[]).length).toBe(1);
    expect(((await admin(url, session, 'GET', `/api/audit?until=${encodeURIComponent(t0)}`)).json as { action: string }[]).map((e) => e.action)).not.toContain('flow.create');
    expect((await admin(url, session, 'GET', '/api/audit?since=yesterday')).status).toBe(400);
    const db = new Database(join(dir, 'sluice.db'));
    try {
      expect(() => db.prepare('UPDATE audit SET user = ?').run('nobody')).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM audit').run()).toThrow(/append-only/);
    } finally {
      db.close();
    }
  });
});

describe('roles beyond the route table', () => {
  const withConnection = (name: string, url: string) => ({
    ...flow(name),
    nodes: [
      { id: 'gen', type: 'core.generate', config: { dataset: 'counter', count: 3 } },
      { id: 'db', type: 'postgres.sink', config: { connection: 'prod-pg', table: 't' } },
    ],
    edges: [{ from: 'gen', to: 'db' }],
    connections: { 'prod-pg': { type: 'postgres', url } },
  });
  const importAs = (url: string, headers: Record<string, string>, doc: unknown) => post(url, '/api/flows/import', { ...headers, ...json }, JSON.stringify(doc));

  /** a socket subscribed to the flow `watched`, with the names of the events it got */
  const subscribed = async (url: string, headers: Record<string, string>) => {
    const s = ioClient(url, { transports: ['websocket'], reconnection: false, extraHeaders: headers });
    open.push(async () => void s.close());
    const events: string[] = [];
    s.onAny((event: string) => events.push(event));
    await new Promise<void>((resolve, reject) => (s.once('connect', resolve), s.once('connect_error', reject)));
    await s.emitWithAck('subscribe', { flowId: 'watched' });
    return { s, events };
  };

  it('refuses an editor an import that would create a stored connection; an admin creates it (audited); an editor may then match it, unchanged', async () => {
    const { url, server, store } = await start();
    const editor = await keyFor(server, 'eddie', 'editor');
    const admin = await adminKey(server);
    const res = await importAs(url, editor.headers, withConnection('taken', 'postgres://evil:pw@evil.example/db'));
    const body = (await res.json()) as { error: string; connections: string[] };
    expect([res.status, body.connections]).toEqual([403, ['prod-pg']]);
    expect(body.error).toMatch(/prod-pg.*an admin must import it, or create it first/);
    expect(await store.getConnection('prod-pg')).toBeUndefined();
    expect(await store.getFlow('taken')).toBeUndefined();

    expect((await importAs(url, admin.headers, withConnection('first', 'postgres://app:pw@db.example/app'))).status).toBe(201);
    const entries = await store.auth.audit({ limit: 10, action: 'connection' });
    expect(entries.map((e) => [e.user, e.action, e.target])).toEqual([['admin', 'connection.create', 'prod-pg']]);
    expect(entries[0].details).toMatchObject({ type: 'postgres', import: 'first' });

    const matched = await importAs(url, editor.headers, withConnection('second', 'postgres://evil:pw@evil.example/db'));
    expect(matched.status).toBe(201);
    expect(((await matched.json()) as { connections: { action: string }[] }).connections.map((c) => c.action)).toEqual(['matched']);
    expect((await store.getConnection('prod-pg'))!.config.url).toMatch(/db\.example\/app$/);
    expect(await store.auth.audit({ limit: 10, action: 'connection' })).toHaveLength(1); // matching creates nothing
  });

  it('streams test runs only to editors and admins: a subscribed viewer gets status, never preview:*', async () => {
    const { url, server } = await start();
    const admin = await adminKey(server);
    const editor = await keyFor(server, 'eddie', 'editor');
    const viewer = await keyFor(server, 'vera', 'viewer');
    expect((await post(url, '/api/flows', { ...admin.headers, ...json }, JSON.stringify(flow('watched')))).status).toBe(201);
    const v = await subscribed(url, viewer.headers);
    const e = await subscribed(url, editor.headers);
    const done = () => new Promise((resolve) => e.s.once('preview:done', resolve));
    // to the flow's subscribers (no socketId)
    let finished = done();
    expect((await post(url, '/api/flows/watched/preview', { ...editor.headers, ...json }, '{}')).status).toBe(202);
    await finished;
    // aimed at the viewer's socket: an editor cannot hand a test run to a viewer either
    finished = done();
    expect((await post(url, '/api/flows/watched/preview', { ...editor.headers, ...json }, JSON.stringify({ socketId: v.s.id }))).status).toBe(202);
    expect((await post(url, '/api/flows/watched/preview', { ...editor.headers, ...json }, '{}')).status).toBe(202);
    await finished;
    await new Promise((r) => setTimeout(r, 200));
    expect(e.events).toContain('preview:records');
    expect(v.events.filter((x) => x.startsWith('preview:'))).toEqual([]);
    expect(v.events).toContain('status');
  });

  it('stops streaming test runs to a subscribed editor whose role is lowered to viewer', async () => {
    const { url, server, session } = await start(undefined, undefined, 50);
    const admin = await adminKey(server);
    const editor = await keyFor(server, 'eddie', 'editor');
    expect((await post(url, '/api/flows', { ...admin.headers, ...json }, JSON.stringify(flow('watched')))).status).toBe(201);
    const a = await subscribed(url, admin.headers);
    const e = await subscribed(url, editor.headers);
    const put = await fetch(`${url}/api/users/eddie`, { method: 'PUT', headers: { ...session.headers, ...json }, body: JSON.stringify({ role: 'viewer' }) });
    expect(put.status).toBe(200);
    await new Promise((r) => setTimeout(r, 200)); // a few rechecks
    const finished = new Promise((resolve) => a.s.once('preview:done', resolve));
    expect((await post(url, '/api/flows/watched/preview', { ...admin.headers, ...json }, '{}')).status).toBe(202);
    await finished;
    await new Promise((r) => setTimeout(r, 100));
    expect(a.events).toContain('preview:records');
    expect(e.events.filter((x) => x.startsWith('preview:'))).toEqual([]);
  });
});
