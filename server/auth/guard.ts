/**
 * The /api guard: who is asking (session cookie or bearer key), the rate limit per principal, the
 * cross-site checks on state-changing browser requests (Origin, Content-Type, CSRF token), the role the
 * route needs and its own limit (policy.ts), and the audit line a successful call records.
 */
import type { Request, RequestHandler, Response } from 'express';
import { roleAtLeast, type AuthStore } from '../store/auth-store.js';
import { sameSecret } from './crypto.js';
import { matchPolicy, type Access, type RoutePolicy } from './policy.js';
import { RateLimiter } from './rate-limit.js';
import { CSRF_HEADER, type AuthService, type Principal } from './service.js';
import { foreignOrigin, type Site } from './site.js';
import type { ServerLog } from '../log.js';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);
const BODY_TYPES = /^(application\/json|multipart\/form-data)(;|$)/i;

/** the principal the guard let through (kept in res.locals) */
export const principalOf = (res: Response): Principal | undefined => res.locals.principal as Principal | undefined;

function deny(res: Response, status: number, error: string, headers: Record<string, string> = {}): void {
  for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
  res.status(status).json({ error });
}

const requires = (access: Access) => (access === 'signed-in' || access === 'public' ? undefined : access);

export function apiGuard(auth: AuthService, store: AuthStore, site: Site, log: ServerLog): RequestHandler {
  const routeLimits = new Map<RoutePolicy, RateLimiter>();
  const routeLimit = (policy: RoutePolicy, per: number) => {
    let l = routeLimits.get(policy);
    if (!l) routeLimits.set(policy, (l = new RateLimiter({ max: per, windowMs: 60_000 })));
    return l;
  };
  return async (req, res, next) => {
    const unsafe = !SAFE.has(req.method);
    if (unsafe) {
      const foreign = foreignOrigin(req.headers, site);
      if (foreign) return deny(res, 403, foreign);
    }
    const hasKey = req.headers.authorization !== undefined;
    const principal = await auth.authenticate(req.headers.cookie, req.headers.authorization);
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
      res.status(401).json((await store.countUsers()) === 0 ? { error, setupRequired: true } : { error });
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
    if (match?.policy.audit) auditOnSuccess(store, log, req, res, principal, match.policy.audit, match.params);
    next();
  };
}

/** the address a request came from, for the audit log and the sign-in limit */
export const addressOf = (req: Request) => req.ip ?? req.socket.remoteAddress ?? 'unknown';

function auditOnSuccess(store: AuthStore, log: ServerLog, req: Request, res: Response, p: Principal, action: string, params: Record<string, string>): void {
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
    // a flow test saved or deleted: which
    if (params.test) details.test = params.test;
    else if (action.startsWith('flow.test.') && typeof answer?.name === 'string') details.test = answer.name;
    // a change of positions: what was set, and whether it was only a dry run
    if (Array.isArray(answer?.changes)) Object.assign(details, { changes: answer.changes, applied: answer.applied });
    // dead letters replayed or discarded: which, and what came of them
    if (typeof answer?.replayed === 'number') Object.assign(details, { ids: body?.ids, replayed: answer.replayed, failedAgain: answer.failedAgain });
    if (typeof answer?.discarded === 'number') Object.assign(details, { ids: body?.ids, discarded: answer.discarded });
    // after the answer: nothing can wait for it, so a failed write is logged (a lost line must be seen)
    store.appendAudit({ user: p.user, action, target, address: addressOf(req), details }).catch((err: Error) => log.error(`audit log: ${action} by ${p.user} on ${target ?? '-'} was not recorded: ${err.message}`));
  });
}
