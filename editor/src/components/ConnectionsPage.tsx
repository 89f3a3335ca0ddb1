/**
 * Connections: named hosts and credentials that flows refer to by name. Which fields are secret is the
 * connector's declaration (`x-secret` in its JSON Schema, runtime/secrets.ts), never a guess from a name.
 * Secrets are write-only: the server never sends them back (only `hasPassword: true`, and a URL's
 * password as `***`), and a save without a new value keeps them.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { secretFieldsOfJsonSchema } from '../../../runtime/secrets.js';
import type { Connection, ConnectionTest, ConnectionType } from '../api.js';
import { describeError } from '../store-flow.js';
import { useApi, useEditor } from '../store.js';

interface Row {
  key: string;
  value: string;
  /** a stored secret the server will not show: kept unless a new value is typed */
  stored?: boolean;
  /** the field's description from the connector's schema */
  help?: string;
}

const FLAG = /^has([A-Z].*)$/;

/** the top-level fields a connector declares secret (nested ones, such as tls.passphrase, sit in their object's JSON) */
function secretsOf(t: ConnectionType | undefined): Set<string> {
  return new Set(secretFieldsOfJsonSchema(t?.configSchema).paths);
}

function rowsOf(c: Connection | null): Row[] {
  if (!c) return [{ key: 'host', value: '' }];
  const rows: Row[] = [];
  for (const [k, v] of Object.entries(c.config)) {
    const flag = FLAG.exec(k);
    if (flag && v === true) rows.push({ key: flag[1][0].toLowerCase() + flag[1].slice(1), value: '', stored: true });
    else rows.push({ key: k, value: typeof v === 'string' ? v : JSON.stringify(v) });
  }
  return rows;
}

/** a new connection's rows: the connector's fields (but its `type`), each with its description */
function fieldsOf(t: ConnectionType | undefined): Row[] {
  const props = t?.configSchema.properties ?? {};
  const rows = Object.entries(props)
    .filter(([k, p]) => k !== 'type' && p.type !== 'object')
    .map(([k, p]) => ({ key: k, value: '', help: p.description }));
  return rows.length > 0 ? rows : [{ key: '', value: '' }];
}

function configOf(rows: Row[], secrets: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const r of rows) {
    if (!r.key.trim()) continue;
    // a field left empty is not set (the connector's own default applies); an unchanged stored secret
    // is left out too, and the server keeps it
    if (r.value === '') continue;
    let v: unknown = r.value;
    if (!secrets.has(r.key.trim()) && /^(-?\d+(\.\d+)?|true|false|null|\{.*\}|\[.*\])$/s.test(r.value.trim())) {
      try {
        v = JSON.parse(r.value);
      } catch {
        /* keep the text */
      }
    }
    out[r.key.trim()] = v;
  }
  return out;
}

export function ConnectionsPage() {
  const api = useApi();
  const [types, setTypes] = useState<ConnectionType[]>([]);
  useEffect(() => {
    api.connectionTypes().then(setTypes, () => setTypes([]));
  }, [api]);
  const openFlow = useEditor((s) => s.flowId);
  const [list, setList] = useState<Connection[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [editing, setEditing] = useState<Connection | null | 'new'>(null);
  // the form is made anew when another connection is picked, not when the one in it is saved
  const [formKey, setFormKey] = useState(0);
  const pick = (c: Connection | 'new' | null) => {
    setEditing(c);
    setFormKey((k) => k + 1);
  };
  const refresh = useCallback(() => api.connections().then(setList, (e: Error) => setError(e.message)), [api]);
  useEffect(() => void refresh(), [refresh]);

  return (
    <div className="page connections-page" data-testid="connections-page">
      <div className="page-head">
        <a href={openFlow ? `#/flow/${encodeURIComponent(openFlow)}` : '#/'} className="link">
          ← Back to the editor
        </a>
        <h1>Connections</h1>
        <p className="muted">Hosts and credentials, referenced from flows by name, so that a flow document never holds a secret.</p>
      </div>
      <div className="conn-layout">
        <div className="conn-list">
          <button className="btn small primary" onClick={() => pick('new')} data-testid="btn-new-connection">
            + New connection
          </button>
          {error && <p className="err-text small">{error}</p>}
          {list?.length === 0 && <p className="muted small">No connections yet. Create one to use it in a source or sink.</p>}
          <ul>
            {list?.map((c) => (
              <li key={c.id} className={editing !== 'new' && editing?.id === c.id ? 'on' : ''} onClick={() => pick(c)} data-testid={`connection-${c.name}`}>
                <b>{c.name}</b> <span className="muted small">{c.type}</span>
              </li>
            ))}
          </ul>
        </div>
        <div className="conn-form">
          {editing === null ? (
            <p className="muted">Select a connection, or create one.</p>
          ) : (
            <ConnectionForm
              key={formKey}
              conn={editing === 'new' ? null : editing}
              types={types}
              onSaved={(c) => {
                void refresh();
                setEditing(c);
              }}
              onDeleted={() => {
                void refresh();
                pick(null);
              }}
            />
          )}
        </div>
      </div>
    </div>
  );
}

function ConnectionForm({ conn, types, onSaved, onDeleted }: { conn: Connection | null; types: ConnectionType[]; onSaved(c: Connection): void; onDeleted(): void }) {
  const api = useApi();
  const [name, setName] = useState(conn?.name ?? '');
  const [type, setType] = useState(conn?.type ?? '');
  const [rows, setRows] = useState<Row[]>(() => rowsOf(conn));
  const typeOf = (t: string) => types.find((c) => c.type === t || c.aliases.includes(t));
  // a new connection starts with the fields of the first type; choosing a type while nothing is typed yet shows its fields
  useEffect(() => {
    if (conn || type || types.length === 0) return;
    setType(types[0].type);
    setRows(fieldsOf(types[0]));
  }, [conn, type, types]);
  const chooseType = (t: string) => {
    setType(t);
    if (!conn && rows.every((r) => r.value === '')) setRows(fieldsOf(typeOf(t)));
    else {
      // keep what is typed, add the new type's fields that are missing
      const have = new Set(rows.map((r) => r.key));
      setRows((rs) => [...rs, ...fieldsOf(typeOf(t)).filter((r) => r.key && !have.has(r.key))]);
    }
  };
  const [message, setMessage] = useState<{ ok: boolean; text: string; hint?: string } | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (i: number, patch: Partial<Row>) => setRows((r) => r.map((row, k) => (k === i ? { ...row, ...patch } : row)));
  const secrets = useMemo(() => secretsOf(typeOf(type)), [type, types]); // eslint-disable-line react-hooks/exhaustive-deps -- typeOf reads types
  const isSecret = (r: Row) => Boolean(r.stored) || secrets.has(r.key.trim());
  const body = useMemo(() => ({ name: name.trim(), type: type.trim(), config: configOf(rows, secrets) }), [name, type, rows, secrets]);

  const save = async (): Promise<Connection | null> => {
    setBusy(true);
    try {
      const saved = conn ? await api.updateConnection(conn.id, body) : await api.createConnection(body);
      setRows(rowsOf(saved)); // secrets typed in are now stored: shown as such, never echoed
      setMessage({ ok: true, text: 'Saved.' });
      onSaved(saved);
      return saved;
    } catch (err) {
      const e = describeError(err);
      setMessage({ ok: false, text: [e.text, ...(e.details ?? [])].join(' — ') });
      return null;
    } finally {
      setBusy(false);
    }
  };

  const test = async () => {
    const saved = conn && !rows.some((r) => r.value && !r.stored) && body.name === conn.name ? conn : await save();
    if (!saved) return;
    setBusy(true);
    try {
      const r: ConnectionTest = await api.testConnection(saved.id);
      setMessage(r.ok ? { ok: true, text: r.message ?? 'Connected.' } : { ok: false, text: r.error, hint: r.hint });
    } catch (err) {
      setMessage({ ok: false, text: describeError(err).text });
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!conn || !confirm(`Delete the connection “${conn.name}”? Flows that use it will fail to validate.`)) return;
    try {
      await api.deleteConnection(conn.id);
      onDeleted();
    } catch (err) {
      setMessage({ ok: false, text: describeError(err).text });
    }
  };

  return (
    <form className="conn-edit" onSubmit={(e) => (e.preventDefault(), void save())}>
      <div className="field">
        <label className="field-label" htmlFor="conn-name">
          name
        </label>
        <input id="conn-name" data-testid="conn-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="shop-pg" required />
        <div className="field-help">flows refer to the connection by this name</div>
      </div>
      <div className="field">
        <label className="field-label" htmlFor="conn-type">
          type
        </label>
        <select id="conn-type" data-testid="conn-type" value={type} onChange={(e) => chooseType(e.target.value)} required>
          {type && !typeOf(type) && <option value={type}>{type} (no connector)</option>}
          {types.map((t) => (
            <option key={t.type} value={t.type}>
              {t.title}
            </option>
          ))}
        </select>
      </div>
      <fieldset className="array-field">
        <legend className="field-label">settings</legend>
        {rows.map((r, i) => (
          <div className="kv-row" key={i}>
            <input className="kv-key mono" value={r.key} onChange={(e) => set(i, { key: e.target.value })} placeholder="field" aria-label="field" />
            <input
              className="kv-value"
              type={isSecret(r) ? 'password' : 'text'}
              value={r.value}
              onChange={(e) => set(i, { value: e.target.value })}
              placeholder={r.stored ? '•••••• stored — type to replace' : (r.help ?? (isSecret(r) ? 'secret' : 'value'))}
              title={r.help}
              aria-label={`${r.key} value`}
              autoComplete="new-password"
              data-secret={isSecret(r) ? 'true' : undefined}
            />
            {isSecret(r) && (
              <span className="muted small" title="The connector declares this field secret: stored encrypted, never sent back to the browser">
                secret
              </span>
            )}
            <button type="button" className="icon-btn danger" onClick={() => setRows((rs) => rs.filter((_, k) => k !== i))} aria-label="Remove">
              ×
            </button>
          </div>
        ))}
        <button type="button" className="btn small ghost" onClick={() => setRows((rs) => [...rs, { key: '', value: '' }])}>
          + Add a setting
        </button>
      </fieldset>
      {message && (
        <div className={`conn-message ${message.ok ? 'ok' : 'bad'}`} data-testid="conn-message">
          {message.text}
          {message.hint && <div className="muted small">{message.hint}</div>}
        </div>
      )}
      <div className="row gap">
        <button className="btn primary" type="submit" disabled={busy || !body.name || !body.type} data-testid="conn-save">
          Save
        </button>
        <button className="btn" type="button" disabled={busy || !body.name || !body.type} onClick={() => void test()} data-testid="conn-test">
          Test connection
        </button>
        {conn && (
          <button className="btn danger ghost" type="button" onClick={() => void remove()}>
            Delete
          </button>
        )}
      </div>
    </form>
  );
}
