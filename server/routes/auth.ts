/**
 * Sign-in and sessions (/api/auth/*), users (/api/users, admins), API keys (/api/api-keys: everyone
 * their own, admins anyone's) and the audit log (/api/audit, admins). Who may call what is in
 * auth/policy.ts; this file does the work.
 */
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { LIMITS, quoteShort } from '../../runtime/host.js';
import { addressOf, principalOf } from '../auth/guard.js';
import type { Site } from '../auth/site.js';
import { hashPassword, verifyPassword } from '../auth/crypto.js';
import { NAME_RE, SESSION_COOKIE, SESSION_IDLE_MS, passwordProblem, type AuthService, type Principal } from '../auth/service.js';
import { parseInput } from '../body.js';
import { iso } from '../context.js';
import { badRequest, conflict, HttpError, notFound } from '../http-errors.js';
import { ROLES, roleAtLeast, type AuditEntry, type StoredKey, type StoredUser } from '../store/auth-store.js';

const role = z.enum(ROLES).describe('viewer, editor or admin');
const userName = z.string().regex(NAME_RE, 'must be 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
const password = z
  .string()
  .superRefine((v, c) => {
    const problem = passwordProblem(v);
    if (problem) c.addIssue({ code: 'custom', message: problem });
  });

const signInSchema = z.object({ user: z.string().min(1).max(LIMITS.nameLength, `at most ${LIMITS.nameLength} characters`), password: z.string().max(1024) }).strict();
const setupSchema = z.object({ token: z.string().min(1).max(256), user: userName.default('admin'), password }).strict();
const passwordSchema = z.object({ current: z.string().max(1024), password }).strict();
const createUserSchema = z.object({ name: userName, role, password }).strict();
const updateUserSchema = z.object({ role: role.optional(), password: password.optional() }).strict();
const createKeySchema = z
  .object({
    user: userName.optional().describe("whose key; default: the caller's (admins may name anyone)"),
    role: role.optional().describe("default: the user's role; never above it"),
    label: z.string().max(LIMITS.nameLength, `at most ${LIMITS.nameLength} characters`).default('').describe('what the key is for'),
  })
  .strict();
const auditQuery = z.object({
  user: z.string().max(LIMITS.nameLength).optional(),
  action: z.string().max(LIMITS.nameLength).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(200),
});

export const userView = (u: StoredUser) => ({ name: u.name, role: u.role, createdAt: iso(u.createdAt), updatedAt: iso(u.updatedAt) });
export const keyView = (k: StoredKey) => ({
  id: k.id,
  user: k.user,
  role: k.role,
  label: k.label,
  createdAt: iso(k.createdAt),
  lastUsedAt: k.lastUsedAt === null ? null : iso(k.lastUsedAt),
  revokedAt: k.revokedAt === null ? null : iso(k.revokedAt),
});
const auditView = (e: AuditEntry) => ({ ...e, at: iso(e.at) });

function setSessionCookie(req: Request, res: Response, token: string, site: Site): void {
  const secure = req.secure || site.secureCookies ? '; Secure' : '';
  res.setHeader('Set-Cookie', `${SESSION_COOKIE}=${token}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_IDLE_MS / 1000}${secure}`);
}

const clearSessionCookie = (res: Response) => res.setHeader('Set-Cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`);

export function authRoutes(auth: AuthService, site: Site): Router {
  const r = Router();
  const store = auth.store;
  const me = (res: Response) => principalOf(res) as Principal; // the guard let only principals through
  const audit = (req: Request, user: string | null, action: string, target: string | null, details?: Record<string, unknown>) =>
    store.appendAudit({ user, action, target, address: addressOf(req), details: details ?? null });
  const requireUser = async (name: string) => {
    const u = await store.getUser(name);
    if (!u) throw notFound(`no user named ${quoteShort(name)}`);
    return u;
  };
  /** the last admin cannot be removed or demoted: nobody could manage users then */
  const keepAnAdmin = async (u: StoredUser, what: string) => {
    if (u.role === 'admin' && (await store.countAdmins()) === 1) throw conflict(`${u.name} is the only admin: make another admin before you ${what}`);
  };

  // ---- sessions --------------------------------------------------------------------------------

  r.post('/auth/signin', async (req, res) => {
    const body = parseInput(signInSchema, req.body);
    const result = await auth.signIn(body.user, body.password, addressOf(req));
    if (!result.ok) {
      await audit(req, body.user, 'auth.signin-failed', body.user, result.retryAfter ? { limited: true } : undefined);
      if (result.retryAfter) {
        res.setHeader('Retry-After', String(result.retryAfter));
        throw new HttpError(429, `too many failed sign-ins: try again in ${result.retryAfter} s`);
      }
      throw new HttpError(401, 'wrong user name or password');
    }
    await audit(req, result.user.name, 'auth.signin', result.user.name);
    setSessionCookie(req, res, result.token, site);
    res.json({ user: result.user.name, role: result.user.role, via: 'session', csrfToken: result.csrf });
  });

  r.post('/auth/setup', async (req, res) => {
    const body = parseInput(setupSchema, req.body);
    if ((await store.countUsers()) > 0) throw conflict('the server has users already: sign in instead');
    if (!auth.takeSetupToken(body.token)) throw new HttpError(403, 'the setup link is wrong or used: take the one the server printed at its start');
    let created = false;
    try {
      created = await auth.createUser(body.user, 'admin', body.password);
    } finally {
      if (created) auth.consumeSetupToken();
      else await auth.restoreSetupToken();
    }
    if (!created) throw conflict(`a user named ${body.user} exists`);
    const user = (await store.getUser(body.user))!;
    await audit(req, user.name, 'auth.setup', user.name);
    const session = await auth.startSession(user);
    setSessionCookie(req, res, session.token, site);
    res.status(201).json({ user: user.name, role: user.role, via: 'session', csrfToken: session.csrf });
  });

  r.get('/auth/session', (_req, res) => {
    const p = me(res);
    res.json({ user: p.user, role: p.role, via: p.via, ...(p.csrf ? { csrfToken: p.csrf } : {}), ...(p.keyId ? { keyId: p.keyId } : {}) });
  });

  r.post('/auth/signout', async (req, res) => {
    const p = me(res);
    await auth.endSession(p);
    await audit(req, p.user, 'auth.signout', p.user);
    clearSessionCookie(res);
    res.status(204).end();
  });

  r.post('/auth/password', async (req, res) => {
    const p = me(res);
    const body = parseInput(passwordSchema, req.body);
    const user = await requireUser(p.user);
    if (!(await verifyPassword(body.current, user.passwordHash))) throw badRequest('current: wrong password', [{ path: 'current', message: 'wrong password' }]);
    await store.setPassword(user.name, await hashPassword(body.password)); // ends every session of the user
    await audit(req, user.name, 'auth.password', user.name);
    if (p.via !== 'session') return void res.status(204).end();
    const session = await auth.startSession(user);
    setSessionCookie(req, res, session.token, site);
    res.json({ user: user.name, role: user.role, via: 'session', csrfToken: session.csrf });
  });

  // ---- users (admins) ---------------------------------------------------------------------------

  r.get('/users', async (_req, res) => {
    res.json((await store.listUsers()).map(userView));
  });

  r.post('/users', async (req, res) => {
    const body = parseInput(createUserSchema, req.body);
    if (!(await auth.createUser(body.name, body.role, body.password))) throw conflict(`a user named ${body.name} exists`);
    res.status(201).json(userView((await store.getUser(body.name))!));
  });

  r.put('/users/:name', async (req, res) => {
    const user = await requireUser(req.params.name as string);
    const body = parseInput(updateUserSchema, req.body);
    if (body.role !== undefined && body.role !== 'admin') await keepAnAdmin(user, 'change its role');
    if (body.role !== undefined) await store.setRole(user.name, body.role);
    if (body.password !== undefined) await store.setPassword(user.name, await hashPassword(body.password));
    res.json(userView((await store.getUser(user.name))!));
  });

  r.delete('/users/:name', async (req, res) => {
    const user = await requireUser(req.params.name as string);
    await keepAnAdmin(user, 'remove it');
    await store.deleteUser(user.name);
    res.status(204).end();
  });

  // ---- API keys ---------------------------------------------------------------------------------

  const visible = (p: Principal, k: StoredKey) => p.role === 'admin' || k.user === p.user;

  r.get('/api-keys', async (_req, res) => {
    const p = me(res);
    res.json((await store.listKeys()).filter((k) => visible(p, k)).map(keyView));
  });

  r.post('/api-keys', async (req, res) => {
    const p = me(res);
    const body = parseInput(createKeySchema, req.body);
    const name = body.user ?? p.user;
    if (name !== p.user && p.role !== 'admin') throw new HttpError(403, 'only an admin may create a key for another user');
    const user = await requireUser(name);
    const keyRole = body.role ?? user.role;
    if (!roleAtLeast(user.role, keyRole)) throw badRequest(`role: ${name} is ${user.role}: a key cannot have more rights than its user`, [{ path: 'role', message: `at most ${user.role}` }]);
    if (!roleAtLeast(p.role, keyRole)) throw badRequest(`role: you are ${p.role}: you cannot make a key with more rights`, [{ path: 'role', message: `at most ${p.role}` }]);
    const { key, id } = await auth.createKey(user, keyRole, body.label);
    res.status(201).json({ ...keyView((await store.getKey(id))!), key });
  });

  r.delete('/api-keys/:id', async (req, res) => {
    const p = me(res);
    const k = await store.getKey(req.params.id as string);
    if (!k || !visible(p, k)) throw notFound(`no API key ${quoteShort(req.params.id)}`);
    await store.revokeKey(k.id);
    res.status(204).end();
  });

  // ---- audit (admins) ---------------------------------------------------------------------------

  r.get('/audit', async (req, res) => {
    const q = parseInput(auditQuery, req.query, 'query');
    const ms = (s?: string) => (s === undefined ? undefined : Date.parse(s));
    res.json((await store.audit({ user: q.user, action: q.action, since: ms(q.since), until: ms(q.until), limit: q.limit })).map(auditView));
  });

  return r;
}
