/**
 * The auth store on SQLite, in the control store's database (sluice.db). The audit log is
 * append-only: triggers refuse UPDATE and DELETE. The tables are created when missing, so an existing
 * sluice.db gains them on its first start with this version.
 */
import type Database from 'better-sqlite3';
import type { AuditEntry, AuditFilter, AuthStore, Role, StoredKey, StoredSession, StoredUser } from './auth-store.js';

export class SqliteAuthStore implements AuthStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS api_keys (
        id TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        key_hash TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
      );
      CREATE TABLE IF NOT EXISTS audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        user TEXT,
        action TEXT NOT NULL,
        target TEXT,
        address TEXT,
        details TEXT
      );
      CREATE INDEX IF NOT EXISTS audit_at ON audit(at);
      CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
      CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    `);
    const userCols = 'id, name, role, password_hash, created_at, updated_at';
    const keyCols = `k.id, k.user_id, u.name AS user, k.role, u.role AS user_role, k.label, k.created_at, k.last_used_at, k.revoked_at`;
    this.s = {
      countUsers: db.prepare('SELECT count(*) AS n FROM users'),
      countAdmins: db.prepare("SELECT count(*) AS n FROM users WHERE role = 'admin'"),
      users: db.prepare(`SELECT ${userCols} FROM users ORDER BY name`),
      user: db.prepare(`SELECT ${userCols} FROM users WHERE name = ?`),
      insertUser: db.prepare('INSERT INTO users (name, role, password_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?)'),
      setRole: db.prepare('UPDATE users SET role = ?, updated_at = ? WHERE name = ?'),
      setPassword: db.prepare('UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?'),
      deleteUser: db.prepare('DELETE FROM users WHERE name = ?'),
      insertSession: db.prepare('INSERT INTO sessions (token_hash, user_id, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)'),
      session: db.prepare(`SELECT s.user_id, u.name AS user, u.role, s.csrf, s.expires_at FROM sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = ?`),
      extendSession: db.prepare('UPDATE sessions SET expires_at = ? WHERE token_hash = ?'),
      deleteSession: db.prepare('DELETE FROM sessions WHERE token_hash = ?'),
      deleteUserSessions: db.prepare('DELETE FROM sessions WHERE user_id = ?'),
      purgeSessions: db.prepare('DELETE FROM sessions WHERE expires_at < ?'),
      insertKey: db.prepare('INSERT INTO api_keys (id, user_id, key_hash, role, label, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      keyByHash: db.prepare(`SELECT ${keyCols} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?`),
      keyById: db.prepare(`SELECT ${keyCols} FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.id = ?`),
      keys: db.prepare(`SELECT ${keyCols} FROM api_keys k JOIN users u ON u.id = k.user_id ORDER BY k.created_at, k.id`),
      touchKey: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
      revokeKey: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      insertAudit: db.prepare('INSERT INTO audit (at, user, action, target, address, details) VALUES (?, ?, ?, ?, ?, ?)'),
    };
  }

  // ---- users -----------------------------------------------------------------------------------

  async countUsers(): Promise<number> {
    return (this.s.countUsers.get() as { n: number }).n;
  }

  async countAdmins(): Promise<number> {
    return (this.s.countAdmins.get() as { n: number }).n;
  }

  async listUsers(): Promise<StoredUser[]> {
    return (this.s.users.all() as UserRow[]).map(toUser);
  }

  async getUser(name: string): Promise<StoredUser | undefined> {
    const row = this.s.user.get(name) as UserRow | undefined;
    return row ? toUser(row) : undefined;
  }

  /** false when the name is taken */
  async createUser(name: string, role: Role, passwordHash: string): Promise<boolean> {
    const now = Date.now();
    try {
      this.s.insertUser.run(name, role, passwordHash, now, now);
      return true;
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') return false;
      throw err;
    }
  }

  async setRole(name: string, role: Role): Promise<boolean> {
    return this.s.setRole.run(role, Date.now(), name).changes > 0;
  }

  /** a new password also ends every session of the user */
  async setPassword(name: string, passwordHash: string): Promise<boolean> {
    return this.db.transaction(() => {
      const user = this.s.user.get(name) as UserRow | undefined;
      if (!user) return false;
      this.s.setPassword.run(passwordHash, Date.now(), name);
      this.s.deleteUserSessions.run(user.id);
      return true;
    })();
  }

  /** with the user go their sessions and keys */
  async deleteUser(name: string): Promise<boolean> {
    return this.s.deleteUser.run(name).changes > 0;
  }

  // ---- sessions --------------------------------------------------------------------------------

  async createSession(tokenHash: string, userId: number, csrf: string, expiresAt: number): Promise<void> {
    const now = Date.now();
    this.s.purgeSessions.run(now);
    this.s.insertSession.run(tokenHash, userId, csrf, now, expiresAt);
  }

  async getSession(tokenHash: string): Promise<StoredSession | undefined> {
    const r = this.s.session.get(tokenHash) as { user_id: number; user: string; role: Role; csrf: string; expires_at: number } | undefined;
    return r ? { userId: r.user_id, user: r.user, role: r.role, csrf: r.csrf, expiresAt: r.expires_at } : undefined;
  }

  async extendSession(tokenHash: string, expiresAt: number): Promise<void> {
    this.s.extendSession.run(expiresAt, tokenHash);
  }

  async deleteSession(tokenHash: string): Promise<void> {
    this.s.deleteSession.run(tokenHash);
  }

  // ---- API keys --------------------------------------------------------------------------------

  async createKey(id: string, userId: number, keyHash: string, role: Role, label: string): Promise<StoredKey> {
    this.s.insertKey.run(id, userId, keyHash, role, label, Date.now());
    return (await this.getKey(id))!;
  }

  async keyByHash(keyHash: string): Promise<StoredKey | undefined> {
    const r = this.s.keyByHash.get(keyHash) as KeyRow | undefined;
    return r ? toKey(r) : undefined;
  }

  async getKey(id: string): Promise<StoredKey | undefined> {
    const r = this.s.keyById.get(id) as KeyRow | undefined;
    return r ? toKey(r) : undefined;
  }

  async listKeys(): Promise<StoredKey[]> {
    return (this.s.keys.all() as KeyRow[]).map(toKey);
  }

  async touchKey(id: string, at: number): Promise<void> {
    this.s.touchKey.run(at, id);
  }

  /** false when there is no such key or it was revoked already */
  async revokeKey(id: string): Promise<boolean> {
    return this.s.revokeKey.run(Date.now(), id).changes > 0;
  }

  // ---- audit -----------------------------------------------------------------------------------

  async appendAudit(e: Omit<AuditEntry, 'id' | 'at'> & { at?: number }): Promise<void> {
    this.s.insertAudit.run(e.at ?? Date.now(), e.user, e.action, e.target, e.address, e.details ? JSON.stringify(e.details) : null);
  }

  /** newest first */
  async audit(f: AuditFilter): Promise<AuditEntry[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.user !== undefined) (where.push('user = ?'), args.push(f.user));
    if (f.action !== undefined) {
      // `flow` matches flow.save, flow.delete …; `flow.save` only itself
      where.push('(action = ? OR action LIKE ?)');
      args.push(f.action, `${f.action.replace(/[%_\\]/g, '\\$&')}.%`);
    }
    if (f.since !== undefined) (where.push('at >= ?'), args.push(f.since));
    if (f.until !== undefined) (where.push('at <= ?'), args.push(f.until));
    const sql = `SELECT id, at, user, action, target, address, details FROM audit ${where.length ? `WHERE ${where.join(' AND ').replace('LIKE ?', "LIKE ? ESCAPE '\\'")}` : ''} ORDER BY id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, f.limit) as (Omit<AuditEntry, 'details'> & { details: string | null })[];
    return rows.map((r) => ({ ...r, details: r.details ? (JSON.parse(r.details) as Record<string, unknown>) : null }));
  }
}

interface UserRow {
  id: number;
  name: string;
  role: Role;
  password_hash: string;
  created_at: number;
  updated_at: number;
}

interface KeyRow {
  id: string;
  user_id: number;
  user: string;
  role: Role;
  user_role: Role;
  label: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

const toUser = (r: UserRow): StoredUser => ({ id: r.id, name: r.name, role: r.role, passwordHash: r.password_hash, createdAt: r.created_at, updatedAt: r.updated_at });

const toKey = (r: KeyRow): StoredKey => ({
  id: r.id,
  userId: r.user_id,
  user: r.user,
  role: r.role,
  userRole: r.user_role,
  label: r.label,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});
