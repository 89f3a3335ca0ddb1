/**
 * The HTTP edge of authentication: security headers on every response, the Host check of a server
 * bound to loopback (DNS rebinding), and the /api guard: who is asking (session cookie or bearer key),
 * the rate limit per principal, the cross-site checks on state-changing browser requests (Origin,
 * Content-Type, CSRF token), the role the route needs (policy.ts) and the audit line it records.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Request, RequestHandler, Response } from 'express';
import { roleAtLeast, type AuthStore } from '../store/auth-store.js';
import { matchPolicy, type Access, type RoutePolicy } from './policy.js';
import { RateLimiter } from './rate-limit.js';
import { sameSecret } from './crypto.js';
import { CSRF_HEADER, type AuthService, type Principal } from './service.js';

export const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  // React Flow and CodeMirror set inline styles
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  next();
};

/** 127.0.0.0/8, ::1, localhost */
export function isLoopbackAddress(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h) || h === '::ffff:127.0.0.1';
}

/** a Host header names a loopback name: localhost, *.localhost, 127.x.x.x, [::1] (with any port) */
export function isLoopbackHost(hostHeader: string | undefined): boolean {
  if (!hostHeader) return false;
  const name = hostHeader.startsWith('[') ? hostHeader.slice(0, hostHeader.indexOf(']') + 1) : hostHeader.replace(/:\d*$/, '');
  return isLoopbackAddress(name) || name.toLowerCase().endsWith('.localhost');
}

export const REBINDING_MESSAGE = 'this server listens on loopback only: the Host header must be localhost or 127.0.0.1 (a name that resolves here is refused: DNS rebinding; behind a proxy, start it with --public-url)';

/** where the server is reached: what the Host and Origin checks accept */
export interface Site {
  /** true while the server listens on loopback only: then Host must be a loopback name or a public host */
  loopbackOnly(): boolean;
  /** host[:port] (lower case) of the public URLs a reverse proxy serves it at (`--public-url`) */
  publicHosts: ReadonlySet<string>;
  /** a public URL is https: the session cookie gets `Secure` */
  secureCookies: boolean;
}

export function siteOf(publicUrls: string[], loopbackOnly: () => boolean): Site {
  const urls = publicUrls.map((u) => new URL(u));
  return { loopbackOnly, publicHosts: new Set(urls.map((u) => u.host.toLowerCase())), secureCookies: urls.some((u) => u.protocol === 'https:') };
}

export const hostAllowed = (site: Site, host: string | undefined) =>
  !site.loopbackOnly() || isLoopbackHost(host) || (host !== undefined && site.publicHosts.has(host.toLowerCase()));

/** refuses a request whose Host is not a loopback name (or a public URL's) while bound to loopback */
export function hostCheck(site: Site): RequestHandler {
  return (req, res, next) => {
    if (hostAllowed(site, req.headers.host)) return next();
    res.status(421).type('text/plain').send(`${REBINDING_MESSAGE}\n`);
  };
}

/** undefined when the request's Origin (if any) is this server's own (its Host, or a public URL); else why not */
export function foreignOrigin(headers: IncomingHttpHeaders, site: Site): string | undefined {
  const origin = headers.origin;
  if (origin === undefined) return undefined;
  let host: string;
  try {
    host = new URL(origin).host.toLowerCase();
  } catch {
    return `Origin ${origin} is not a URL`;
  }
  return host === (headers.host ?? '').toLowerCase() || site.publicHosts.has(host) ? undefined : `cross-site request from ${origin} refused`;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const BODY_TYPES = /^(application\/json|multipart\/form-data)(;|$)/i;

/** express's Request with what the guard found out */
export const principalOf = (res: Response): Principal | undefined => res.locals.principal as Principal | undefined;

function deny(res: Response, status: number, error: string, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ error });
}

const requires = (access: Access) => (access === 'signed-in' || access === 'public' ? undefined : access);

export function apiGuard(auth: AuthService, store: AuthStore, site: Site): RequestHandler {
  const routeLimits = new Map<RoutePolicy, RateLimiter>();
  const routeLimit = (policy: RoutePolicy, per: number) => {
    let l = routeLimits.get(policy);
    if (!l) routeLimits.set(policy, (l = new RateLimiter({ max: per, windowMs: 60_000 })));
    return l;
  };
  return (req, res, next) => {
    const unsafe = !SAFE.has(req.method);
    if (unsafe) {
      const foreign = foreignOrigin(req.headers, site);
      if (foreign) return deny(res, 403, foreign);
    }
    const hasKey = req.headers.authorization !== undefined;
    const principal = auth.authenticate(req.headers.cookie, req.headers.authorization);
    const wait = auth.requests.hit(principal ? `user:${principal.user}` : `addr:${req.ip}`);
    if (wait !== undefined) return deny(res, 429, `too many requests: try again in ${wait} s`, { 'Retry-After': String(wait) });

    const path = `${req.baseUrl}${req.path}`;
    const match = matchPolicy(req.method, req.path);
    const access: Access = match?.policy.access ?? 'admin'; // a route without a policy is for admins only
    // browser forms can POST across sites without a pre-flight: only JSON (or multipart) bodies
    if (unsafe && req.method !== 'DELETE' && (access === 'public' || principal?.via === 'session') && !BODY_TYPES.test(req.headers['content-type'] ?? '')) {
      return deny(res, 415, `${req.method} ${path} from a browser needs a JSON body (Content-Type: application/json)`);
    }
    if (access === 'public') return next();
    if (!principal) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="sluice"');
      const error = hasKey ? 'the API key is unknown or revoked' : 'sign in first (a session cookie, or Authorization: Bearer <API key>)';
      // the editor's sign-in page says where the setup link is when nobody can sign in yet
      res.status(401).json(store.countUsers() === 0 ? { error, setupRequired: true } : { error });
      return;
    }
    if (unsafe && principal.via === 'session') {
      const token = req.headers[CSRF_HEADER];
      if (typeof token !== 'string' || !sameSecret(token, principal.csrf ?? '')) return deny(res, 403, `missing or wrong ${CSRF_HEADER} header (GET /api/auth/session gives the token)`);
    }
    const needed = requires(access);
    if (needed && !roleAtLeast(principal.role, needed)) return deny(res, 403, `${req.method} ${path} needs the ${needed} role (${principal.user} is ${principal.role})`);
    const perMinute = match?.policy.perMinute;
    const routeWait = perMinute === undefined ? undefined : routeLimit(match!.policy, perMinute).hit(principal.user);
    if (routeWait !== undefined) return deny(res, 429, `${req.method} ${path}: at most ${perMinute} a minute: try again in ${routeWait} s`, { 'Retry-After': String(routeWait) });
    res.locals.principal = principal;
    if (match?.policy.audit) auditOnSuccess(store, req, res, principal, match.policy.audit, match.params);
    next();
  };
}

/** the address a request came from, for the audit log and the sign-in limit */
export const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

function auditOnSuccess(store: AuthStore, req: Request, res: Response, p: Principal, action: string, params: Record<string, string>): void {
  let answer: Record<string, unknown> | undefined;
  const json = res.json.bind(res);
  res.json = (body: unknown) => {
    if (body && typeof body === 'object') answer = body as Record<string, unknown>;
    return json(body);
  };
  res.on('finish', () => {
    if (res.statusCode >= 400) return;
    const target = params.id ?? params.name ?? (answer?.id as string | undefined) ?? (answer?.name as string | undefined) ?? null;
    const details: Record<string, unknown> = { via: p.via };
    if (typeof answer?.version === 'number') details.version = answer.version;
    const body = req.body as Record<string, unknown> | undefined;
    if (body && typeof body === 'object' && body.fromStart === true) details.fromStart = true;
    if (typeof answer?.role === 'string') details.role = answer.role;
    store.appendAudit({ user: p.user, action, target, address: addressOf(req), details });
  });
}
