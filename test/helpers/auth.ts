/**
 * Credentials for tests, the one place that knows how to get them:
 * - a spawned server (server-process.ts `startServer`) is started with SLUICE_ADMIN_PASSWORD and hands
 *   back `server.admin` (an admin API key and its headers) and `server.fetch(path, init)`, which sends them;
 * - an in-process server (createSluiceServer): `await adminKey(server)` (or `keyFor(server, name, role)`)
 *   makes the user in its store and an API key: `fetch(url, { headers: cred.headers })`;
 * - over HTTP with a password: `signIn(url)` → the session cookie and CSRF token as headers (what a
 *   browser sends); `signInBrowser(context, url)` puts that session into a Playwright browser context.
 */
import type { BrowserContext } from 'playwright-core';
import type { SluiceServer } from '../../server/server.js';
import type { Role } from '../../server/store/auth-store.js';

/** the admin every spawned test server starts with (SLUICE_ADMIN_USER / SLUICE_ADMIN_PASSWORD) */
export const TEST_ADMIN = { user: 'admin', password: 'test-admin-password' };

export interface Credential {
  user: string;
  role: Role;
  /** the API key (bearer) */
  key: string;
  /** `{ authorization: 'Bearer …' }`: add to a request */
  headers: Record<string, string>;
}

export interface SessionCredential {
  user: string;
  role: Role;
  cookie: string;
  csrf: string;
  /** `{ cookie, 'x-csrf-token' }`: add to a request (writes also need a JSON Content-Type) */
  headers: Record<string, string>;
}

/** in process: the user (made with a random password when missing) and a new API key of theirs */
export async function keyFor(server: SluiceServer, name: string, role: Role): Promise<Credential> {
  const auth = server.context.auth;
  if (!(await auth.store.getUser(name))) await auth.createUser(name, role, `pw-${name}-${Math.random().toString(36).slice(2)}`);
  const user = (await auth.store.getUser(name))!;
  const { key } = await auth.createKey(user, role, 'test');
  return { user: name, role, key, headers: { authorization: `Bearer ${key}` } };
}

/** in process: an admin API key */
export const adminKey = (server: SluiceServer) => keyFor(server, 'admin', 'admin');

/** signs in over HTTP (POST /api/auth/signin) */
export async function signIn(url: string, user = TEST_ADMIN.user, password = TEST_ADMIN.password): Promise<SessionCredential> {
  const res = await fetch(`${url}/api/auth/signin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
  if (res.status !== 200) throw new Error(`sign-in of ${user} at ${url}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { role: Role; csrfToken: string };
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0];
  return { user, role: body.role, cookie, csrf: body.csrfToken, headers: { cookie, 'x-csrf-token': body.csrfToken } };
}

/** over HTTP: a new API key of the signed-in user (POST /api/api-keys) */
export async function createKey(url: string, session: SessionCredential, body: { user?: string; role?: Role; label?: string } = {}): Promise<Credential> {
  const res = await fetch(`${url}/api/api-keys`, { method: 'POST', headers: { ...session.headers, 'content-type': 'application/json' }, body: JSON.stringify({ label: 'test', ...body }) });
  if (res.status !== 201) throw new Error(`creating an API key at ${url}: ${res.status} ${await res.text()}`);
  const k = (await res.json()) as { key: string; user: string; role: Role };
  return { user: k.user, role: k.role, key: k.key, headers: { authorization: `Bearer ${k.key}` } };
}

/** a Playwright browser context signed in (its session cookie set) at `url` */
export async function signInBrowser(context: BrowserContext, url: string, user = TEST_ADMIN.user, password = TEST_ADMIN.password): Promise<SessionCredential> {
  const session = await signIn(url, user, password);
  const [name, value] = session.cookie.split('=');
  await context.addCookies([{ name, value, url, httpOnly: true, sameSite: 'Strict' }]);
  return session;
}
