/**
 * Who may use the server: users with scrypt password hashes, browser sessions and API keys (both kept
 * only as sha256 of the token), and the audit log (append-only). It lives beside the control store
 * (`ControlStore.auth`): SqliteAuthStore in sluice.db, PgAuthStore in the PostgreSQL schema.
 */

export const ROLES = ['viewer', 'editor', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** true when `role` may do what `needed` may */
export const roleAtLeast = (role: Role, needed: Role) => ROLES.indexOf(role) >= ROLES.indexOf(needed);
export const isRole = (v: unknown): v is Role => typeof v === 'string' && (ROLES as readonly string[]).includes(v);

export interface StoredUser {
  id: number;
  name: string;
  role: Role;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

export interface StoredSession {
  userId: number;
  user: string;
  role: Role;
  csrf: string;
  expiresAt: number;
}

export interface StoredKey {
  id: string;
  userId: number;
  user: string;
  /** the key's own role; what it may do is the lower of this and its user's role */
  role: Role;
  userRole: Role;
  label: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

export interface AuditEntry {
  id: number;
  at: number;
  user: string | null;
  action: string;
  target: string | null;
  address: string | null;
  details: Record<string, unknown> | null;
}

export interface AuditFilter {
  user?: string;
  action?: string;
  since?: number;
  until?: number;
  limit: number;
}

export interface AuthStore {
  countUsers(): Promise<number>;
  countAdmins(): Promise<number>;
  listUsers(): Promise<StoredUser[]>;
  getUser(name: string): Promise<StoredUser | undefined>;
  /** false when the name is taken */
  createUser(name: string, role: Role, passwordHash: string): Promise<boolean>;
  setRole(name: string, role: Role): Promise<boolean>;
  /** a new password also ends every session of the user */
  setPassword(name: string, passwordHash: string): Promise<boolean>;
  /** with the user go their sessions and keys */
  deleteUser(name: string): Promise<boolean>;

  /** also drops the sessions that have expired */
  createSession(tokenHash: string, userId: number, csrf: string, expiresAt: number): Promise<void>;
  getSession(tokenHash: string): Promise<StoredSession | undefined>;
  extendSession(tokenHash: string, expiresAt: number): Promise<void>;
  deleteSession(tokenHash: string): Promise<void>;

  createKey(id: string, userId: number, keyHash: string, role: Role, label: string): Promise<StoredKey>;
  keyByHash(keyHash: string): Promise<StoredKey | undefined>;
  getKey(id: string): Promise<StoredKey | undefined>;
  listKeys(): Promise<StoredKey[]>;
  touchKey(id: string, at: number): Promise<void>;
  /** false when there is no such key or it was revoked already */
  revokeKey(id: string): Promise<boolean>;

  appendAudit(e: Omit<AuditEntry, 'id' | 'at'> & { at?: number }): Promise<void>;
  /** newest first; `action: 'flow'` matches every `flow.*` */
  audit(f: AuditFilter): Promise<AuditEntry[]>;
}
