/**
 * Users & API keys (admins): who may sign in and with which role, and the keys scripts use
 * (`Authorization: Bearer …`). A new key is shown once, here, and never again. The server has the last
 * word (it refuses removing or demoting the last admin): its message is shown as it is.
 * Test hooks: users-page, user-<name>, user-role-<name>, user-role-apply-<name>, user-remove-<name>, new-user-name,
 * new-user-role, new-user-password, new-user-submit, users-message, key-<id>, key-revoke-<id>,
 * new-key-user, new-key-role, new-key-label, new-key-submit, new-key-value, new-key-copy.
 */
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import type { ApiKeyInfo, Role, User } from '../api.js';
import { describeError } from '../store-flow.js';
import { useApi } from '../store.js';
import { BackLink, fmtTime } from './AdminCommon.js';
import { DataTable } from './DataTable.js';

const ROLES: Role[] = ['viewer', 'editor', 'admin'];
/** "a viewer", "an editor", "an admin" */
const aRole = (role: Role) => `${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}`;

export function UsersPage() {
  const api = useApi();
  const [users, setUsers] = useState<User[] | null>(null);
  const [keys, setKeys] = useState<ApiKeyInfo[] | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  // bumps with every refresh: a row whose role change was refused shows the stored role again
  const [generation, setGeneration] = useState(0);
  const fail = (err: unknown) => {
    const e = describeError(err);
    setMessage({ ok: false, text: [e.text, ...(e.details ?? [])].join(' — ') });
  };
  const refresh = useCallback(() => {
    setGeneration((g) => g + 1);
    api.users().then(setUsers, fail);
    api.apiKeys().then(setKeys, fail);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api]);
  useEffect(() => refresh(), [refresh]);

  const setRole = async (u: User, role: Role) => {
    try {
      await api.updateUser(u.name, { role });
      setMessage({ ok: true, text: `${u.name} is now ${aRole(role)}.` });
    } catch (err) {
      fail(err);
    }
    refresh();
  };
  const remove = async (u: User) => {
    if (!confirm(`Remove the user “${u.name}”? Their sessions end and their API keys stop working.`)) return;
    try {
      await api.deleteUser(u.name);
      setMessage({ ok: true, text: `${u.name} was removed.` });
    } catch (err) {
      fail(err);
    }
    refresh();
  };
  const revoke = async (k: ApiKeyInfo) => {
    if (!confirm(`Revoke the API key “${k.label || k.id}” of ${k.user}? Scripts using it get 401 from now on.`)) return;
    try {
      await api.revokeApiKey(k.id);
      setMessage({ ok: true, text: 'The key was revoked.' });
    } catch (err) {
      fail(err);
    }
    refresh();
  };

  return (
    <div className="page admin-page" data-testid="users-page">
      <div className="page-head">
        <BackLink />
        <h1>Users &amp; API keys</h1>
        <p className="muted">Viewers read flows; editors also change, test-run and deploy them; admins also manage connections, users and keys.</p>
      </div>
      {message && (
        <p className={`conn-message ${message.ok ? 'ok' : 'bad'}`} role={message.ok ? 'status' : 'alert'} data-testid="users-message">
          {message.text}
        </p>
      )}

      <section className="admin-card" aria-labelledby="users-h">
        <h2 id="users-h">Users</h2>
        <DataTable
          rows={users ?? []}
          rowKey={(u) => `${u.name}-${u.role}-${generation}`}
          rowProps={(u) => ({ 'data-testid': `user-${u.name}` })}
          columns={[
            { header: 'name', className: 'mono', cell: (u) => u.name },
            { header: 'role', cell: (u) => <RoleCell user={u} onRole={(role) => void setRole(u, role)} /> },
            { header: 'created', cell: (u) => fmtTime(u.createdAt) },
            { header: 'changed', cell: (u) => fmtTime(u.updatedAt) },
            {
              header: 'actions',
              hiddenHeader: true,
              className: 'actions',
              cell: (u) => (
                <button className="btn small danger" data-testid={`user-remove-${u.name}`} onClick={() => void remove(u)} aria-label={`Remove ${u.name}`}>
                  Remove
                </button>
              ),
            },
          ]}
        />
        {users === null && <p className="muted small">Loading…</p>}
        <NewUserForm
          onCreated={(u) => {
            setMessage({ ok: true, text: `${u.name} can now sign in as ${aRole(u.role)}.` });
            refresh();
          }}
          onError={fail}
        />
      </section>

      <section className="admin-card" aria-labelledby="keys-h">
        <h2 id="keys-h">API keys</h2>
        <p className="muted small">
          Scripts and agents send a key as <code>Authorization: Bearer …</code>. A key acts with its own role, at most its user’s.
        </p>
        <DataTable
          rows={keys ?? []}
          rowKey={(k) => k.id}
          rowProps={(k) => ({ 'data-testid': `key-${k.id}`, className: k.revokedAt ? 'revoked' : undefined })}
          empty={keys?.length === 0 ? 'No API keys yet.' : undefined}
          emptyClassName="muted small"
          columns={[
            { header: 'user', className: 'mono', cell: (k) => k.user },
            { header: 'role', cell: (k) => k.role },
            { header: 'label', cell: (k) => k.label },
            { header: 'created', cell: (k) => fmtTime(k.createdAt) },
            { header: 'last used', cell: (k) => (k.lastUsedAt ? fmtTime(k.lastUsedAt) : <span className="muted">never</span>) },
            { header: 'revoked', cell: (k) => (k.revokedAt ? fmtTime(k.revokedAt) : <span className="muted">—</span>) },
            {
              header: 'actions',
              hiddenHeader: true,
              className: 'actions',
              cell: (k) =>
                !k.revokedAt && (
                  <button className="btn small danger" data-testid={`key-revoke-${k.id}`} onClick={() => void revoke(k)} aria-label={`Revoke the key ${k.label || k.id} of ${k.user}`}>
                    Revoke
                  </button>
                ),
            },
          ]}
        />
        <NewKeyForm users={users ?? []} onCreated={refresh} onError={fail} />
      </section>
    </div>
  );
}

/** a user: the role is picked, then applied with its button (arrowing through the list changes nothing) */
/** a user's role, changed in place and applied with a button (its state starts again when the role changed) */
function RoleCell({ user: u, onRole }: { user: User; onRole(role: Role): void }) {
  const [role, setRole] = useState<Role>(u.role);
  return (
    <>
      <select aria-label={`Role of ${u.name}`} data-testid={`user-role-${u.name}`} value={role} onChange={(e) => setRole(e.target.value as Role)}>
        {ROLES.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>{' '}
      {role !== u.role && (
        <button className="btn small primary" data-testid={`user-role-apply-${u.name}`} onClick={() => onRole(role)} aria-label={`Make ${u.name} ${aRole(role)}`}>
          Apply
        </button>
      )}
    </>
  );
}

function NewUserForm({ onCreated, onError }: { onCreated(u: User): void; onError(err: unknown): void }) {
  const api = useApi();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    api
      .createUser({ name: name.trim(), role, password })
      .then((u) => {
        setName('');
        setPassword('');
        onCreated(u);
      }, onError)
      .finally(() => setBusy(false));
  };
  return (
    <form className="admin-form" onSubmit={submit} aria-label="Add a user">
      <h3>Add a user</h3>
      <label>
        Name
        <input data-testid="new-user-name" value={name} onChange={(e) => setName(e.target.value)} autoComplete="off" required maxLength={64} />
      </label>
      <label>
        Role
        <select data-testid="new-user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <label>
        Initial password
        <input data-testid="new-user-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={8} />
      </label>
      <button className="btn primary" data-testid="new-user-submit" type="submit" disabled={busy || !name.trim() || !password}>
        Add user
      </button>
    </form>
  );
}

function NewKeyForm({ users, onCreated, onError }: { users: User[]; onCreated(): void; onError(err: unknown): void }) {
  const api = useApi();
  const [user, setUser] = useState(api.me?.user ?? '');
  const [role, setRole] = useState<Role | ''>('');
  const [label, setLabel] = useState('');
  const [created, setCreated] = useState<(ApiKeyInfo & { key: string }) | null>(null);
  const [copied, setCopied] = useState(false);
  const [busy, setBusy] = useState(false);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setCopied(false);
    api
      .createApiKey({ user: user || undefined, role: role || undefined, label: label.trim() || undefined })
      .then((k) => {
        setCreated(k);
        setLabel('');
        onCreated();
      }, onError)
      .finally(() => setBusy(false));
  };
  const copy = () => {
    if (!created) return;
    navigator.clipboard?.writeText(created.key).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  };
  return (
    <form className="admin-form" onSubmit={submit} aria-label="Create an API key">
      <h3>Create an API key</h3>
      <label>
        For user
        <select data-testid="new-key-user" value={user} onChange={(e) => setUser(e.target.value)}>
          {!users.some((u) => u.name === user) && user && <option value={user}>{user}</option>}
          {users.map((u) => (
            <option key={u.name} value={u.name}>
              {u.name} ({u.role})
            </option>
          ))}
        </select>
      </label>
      <label>
        Role
        <select data-testid="new-key-role" value={role} onChange={(e) => setRole(e.target.value as Role | '')}>
          <option value="">the user’s role</option>
          {ROLES.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
      </label>
      <label>
        Label
        <input data-testid="new-key-label" value={label} onChange={(e) => setLabel(e.target.value)} placeholder="nightly export" autoComplete="off" maxLength={128} />
      </label>
      <button className="btn primary" data-testid="new-key-submit" type="submit" disabled={busy || !user}>
        Create key
      </button>
      {created && (
        <div className="new-key" role="status" data-testid="new-key">
          <label>
            The new key of {created.user} ({created.role})
            <input data-testid="new-key-value" className="mono" readOnly value={created.key} onFocus={(e) => e.currentTarget.select()} />
          </label>
          <button type="button" className="btn small" data-testid="new-key-copy" onClick={copy}>
            {copied ? 'Copied' : 'Copy'}
          </button>
          <p className="warn-text small">Copy it now: you will not see it again. Only a hash of it is stored.</p>
          <button type="button" className="btn small ghost" onClick={() => setCreated(null)}>
            Done, hide it
          </button>
        </div>
      )}
    </form>
  );
}
