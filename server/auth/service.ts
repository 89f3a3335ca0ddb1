/**
 * Who is asking, and the sign-in that makes a session: one place for the HTTP routes, the guard
 * middleware and the socket.io handshake. Sessions and API keys are looked up by the sha256 of their
 * token; a key may do what the lower of its own role and its user's current role allows.
 */
import { randomBytes } from 'node:crypto';
import { roleAtLeast, type AuthStore, type Role, type StoredUser } from '../store/auth-store.js';
import { DUMMY_HASH, hashPassword, randomToken, sameSecret, sha256, verifyPassword } from './crypto.js';
import { RateLimiter } from './rate-limit.js';

export const SESSION_COOKIE = 'sluice_session';
export const CSRF_HEADER = 'x-csrf-token';
/** a session ends after this long without a request */
export const SESSION_IDLE_MS = 12 * 60 * 60 * 1000;
const KEY_PREFIX = 'sluice_';

export interface Principal {
  user: string;
  userId: number;
  role: Role;
  via: 'session' | 'key';
  /** sessions: the token the CSRF header must carry */
  csrf?: string;
  sessionHash?: string;
  keyId?: string;
}

export interface AuthLimits {
  /** failed sign-ins per user name and per address, per window */
  signInFailures: number;
  signInWindowMs: number;
  /** requests per principal (or per address, without one) per minute */
  requestsPerMinute: number;
}

export const DEFAULT_LIMITS: AuthLimits = { signInFailures: 10, signInWindowMs: 15 * 60_000, requestsPerMinute: 1200 };

export type SignIn = { ok: true; user: StoredUser; token: string; csrf: string } | { ok: false; retryAfter?: number };

export const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
export const PASSWORD_MIN = 8;

/** a cookie value as sent: percent-decoded when it is well-formed, as it is otherwise (`%` alone, `%E0`: never a 500) */
function decodeCookie(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (header ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = decodeCookie(part.slice(i + 1).trim());
  }
  return out;
}

export function bearerOf(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

export class AuthService {
  readonly requests: RateLimiter;
  private readonly failuresByUser: RateLimiter;
  private readonly failuresByAddress: RateLimiter;
  private setupToken?: string;
  private takenSetupToken?: string;

  constructor(readonly store: AuthStore, readonly limits: AuthLimits = DEFAULT_LIMITS) {
    this.requests = new RateLimiter({ max: limits.requestsPerMinute, windowMs: 60_000 });
    this.failuresByUser = new RateLimiter({ max: limits.signInFailures, windowMs: limits.signInWindowMs });
    this.failuresByAddress = new RateLimiter({ max: limits.signInFailures, windowMs: limits.signInWindowMs });
  }

  /**
   * the principal of a request's cookie or bearer key (a bearer key wins); undefined when neither is
   * valid. `use: false` only checks: the session's idle time and the key's last use stay as they are.
   */
  async authenticate(cookieHeader: string | undefined, authorization: string | undefined, bearer = bearerOf(authorization), use = true): Promise<Principal | undefined> {
    if (bearer !== undefined) return this.fromKey(bearer, use);
    const token = parseCookies(cookieHeader)[SESSION_COOKIE];
    return token ? this.fromSession(token, use) : undefined;
  }

  private async fromSession(token: string, use: boolean): Promise<Principal | undefined> {
    const hash = sha256(token);
    const s = await this.store.getSession(hash);
    const now = Date.now();
    if (!s) return undefined;
    if (s.expiresAt <= now) {
      await this.store.deleteSession(hash);
      return undefined;
    }
    // slide the idle timeout, writing at most once a minute
    if (use && s.expiresAt - now < SESSION_IDLE_MS - 60_000) await this.store.extendSession(hash, now + SESSION_IDLE_MS);
    return { user: s.user, userId: s.userId, role: s.role, via: 'session', csrf: s.csrf, sessionHash: hash };
  }

  private async fromKey(key: string, use: boolean): Promise<Principal | undefined> {
    if (!key.startsWith(KEY_PREFIX)) return undefined;
    const k = await this.store.keyByHash(sha256(key));
    if (!k || k.revokedAt !== null) return undefined;
    const now = Date.now();
    if (use && (k.lastUsedAt === null || now - k.lastUsedAt > 60_000)) await this.store.touchKey(k.id, now); // "last used", to the minute
    const role = roleAtLeast(k.userRole, k.role) ? k.role : k.userRole;
    return { user: k.user, userId: k.userId, role, via: 'key', keyId: k.id };
  }

  /** checks the password, counting failures per user name and per address; a success starts a session */
  async signIn(name: string, password: string, address: string): Promise<SignIn> {
    // every attempt counts before the (slow, awaited) password check, so parallel guesses cannot all
    // pass the limit before the first failure is counted; a success is taken back from both counts
    const byUser = this.failuresByUser.hit(name);
    const byAddress = this.failuresByAddress.hit(address);
    const wait = byUser ?? byAddress;
    if (wait !== undefined) return { ok: false, retryAfter: wait };
    const user = await this.store.getUser(name);
    const good = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
    if (!user || !good) return { ok: false };
    this.failuresByUser.reset(name);
    this.failuresByAddress.unhit(address);
    return { ok: true, user, ...(await this.startSession(user)) };
  }

  async startSession(user: StoredUser): Promise<{ token: string; csrf: string }> {
    const token = randomToken();
    const csrf = randomToken();
    await this.store.createSession(sha256(token), user.id, csrf, Date.now() + SESSION_IDLE_MS);
    return { token, csrf };
  }

  async endSession(p: Principal): Promise<void> {
    if (p.sessionHash) await this.store.deleteSession(p.sessionHash);
  }

  /** a new key for the user: returns it once (only its hash is kept) */
  async createKey(user: StoredUser, role: Role, label: string): Promise<{ key: string; id: string }> {
    const id = randomBytes(5).toString('hex');
    const key = `${KEY_PREFIX}${randomToken(32)}`;
    await this.store.createKey(id, user.id, sha256(key), role, label);
    return { key, id };
  }

  async createUser(name: string, role: Role, password: string): Promise<boolean> {
    return this.store.createUser(name, role, await hashPassword(password));
  }

  // ---- the one-time setup link (first start, no users) ---------------------------------------------

  /** a new setup token, valid until the first admin is made */
  issueSetupToken(): string {
    this.setupToken = randomToken();
    return this.setupToken;
  }

  /** the token matches (the caller checks that there are no users yet) */
  setupTokenValid(token: string): boolean {
    return this.setupToken !== undefined && sameSecret(token, this.setupToken);
  }

  /**
   * Takes the setup token if `token` is it: true once, at once (before any await), so parallel set-up
   * requests with the same link make one admin. The route checks that there are no users first.
   * `restoreSetupToken` gives it back when making the admin failed.
   */
  takeSetupToken(token: string): boolean {
    if (!this.setupTokenValid(token)) return false;
    this.setupToken = undefined;
    this.takenSetupToken = token;
    return true;
  }

  async restoreSetupToken(): Promise<void> {
    const taken = this.takenSetupToken;
    this.takenSetupToken = undefined;
    if (taken !== undefined && (await this.store.countUsers()) === 0) this.setupToken = taken;
  }

  consumeSetupToken(): void {
    this.takenSetupToken = undefined;
    this.setupToken = undefined;
  }
}

/** one line on why a password is refused, or undefined */
export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_MIN) return `must be at least ${PASSWORD_MIN} characters`;
  if (password.length > 1024) return 'must be at most 1024 characters';
  return undefined;
}
