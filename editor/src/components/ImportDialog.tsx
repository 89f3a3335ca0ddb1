/**
 * Import a flow document: upload a file or paste YAML/JSON; the server parses and validates it. Its
 * connections are stored on the server; one created without its secrets is incomplete, and the dialog
 * then asks for them (saved into the connection, as the Connections page would). Its tests may come
 * along (a second file or paste: the FLOW.tests.yaml exported beside it), checked by the server with the
 * flow, which is then not imported if they do not fit it.
 */
import { useState } from 'react';
import { withUrlPassword } from '../../../runtime/redact.js';
import type { Api, ImportedConnection } from '../api.js';
import { describeError } from '../store-flow.js';
import { useApi, useEditor } from '../store.js';
import { Modal } from './Modal.js';

const isUrl = (v: unknown): v is string => typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v);

/** `config` with `value` at the dotted `path` (a URL field: as the URL's password) */
function withSecret(config: Record<string, unknown>, path: string, value: string): Record<string, unknown> {
  const [head, ...rest] = path.split('.');
  if (rest.length > 0) {
    const inner = config[head];
    return { ...config, [head]: withSecret(inner && typeof inner === 'object' ? (inner as Record<string, unknown>) : {}, rest.join('.'), value) };
  }
  const current = config[head];
  return { ...config, [head]: isUrl(current) ? withUrlPassword(current, encodeURIComponent(value)) : value };
}

/** saves the secrets typed for each incomplete connection */
async function completeConnections(api: Api, incomplete: ImportedConnection[], values: Record<string, string>): Promise<void> {
  const stored = await api.connections();
  for (const c of incomplete) {
    const current = stored.find((s) => s.name === c.name);
    if (!current) continue;
    let config = current.config;
    for (const m of c.missing) if (values[m.variable]) config = withSecret(config, m.field, values[m.variable]);
    await api.updateConnection(c.name, { name: c.name, type: c.type, config });
  }
}

const guessFormat = (text: string, fileName?: string): 'yaml' | 'json' => {
  if (fileName) return /\.json$/i.test(fileName) ? 'json' : 'yaml';
  return /^\s*[{[]/.test(text) ? 'json' : 'yaml';
};

export function ImportDialog({ onClose }: { onClose(): void }) {
  const { importText, dirty } = useEditor((s) => ({ importText: s.importText, dirty: s.dirty }));
  const [text, setText] = useState('');
  const [fileName, setFileName] = useState<string | undefined>();
  const [tests, setTests] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [busy, setBusy] = useState(false);
  const [incomplete, setIncomplete] = useState<ImportedConnection[]>([]);
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [error, setError] = useState<string | undefined>();
  const api = useApi();

  const submit = async () => {
    if (dirty && !confirm('The open flow has unsaved changes. Discard them and import?')) return;
    setBusy(true);
    const connections = await importText(text, { format: guessFormat(text, fileName), overwrite, ...(tests.trim() ? { tests } : {}) });
    setBusy(false);
    const missing = connections?.filter((c) => c.missing.length > 0) ?? [];
    if (missing.length > 0) setIncomplete(missing);
    else if (connections) onClose();
  };

  const complete = async () => {
    setBusy(true);
    try {
      await completeConnections(api, incomplete, secrets);
      onClose();
    } catch (err) {
      setError(describeError(err).text);
    } finally {
      setBusy(false);
    }
  };

  if (incomplete.length > 0) {
    return (
      <Modal title="Secrets of the imported connections" onClose={onClose} testId="import-secrets">
        <p className="muted small">These connections were created without their secrets: the flow cannot be deployed until they are set (here, or later under Connections).</p>
        {incomplete.flatMap((c) =>
          c.missing.map((m) => (
            <label key={m.variable} className="field">
              <span>
                {c.name} · {m.field === 'url' ? 'URL password' : m.field} <span className="muted mono small">{m.variable}</span>
              </span>
              <input
                type="password"
                autoComplete="new-password"
                data-testid={`import-secret-${m.variable}`}
                value={secrets[m.variable] ?? ''}
                onChange={(e) => setSecrets({ ...secrets, [m.variable]: e.target.value })}
              />
            </label>
          )),
        )}
        {error && <p className="error small">{error}</p>}
        <div className="row gap">
          <button className="btn" onClick={onClose}>
            Later
          </button>
          <button className="btn primary" disabled={busy} onClick={() => void complete()} data-testid="import-secrets-save">
            Save secrets
          </button>
        </div>
      </Modal>
    );
  }

  return (
    <Modal title="Import a flow" onClose={onClose} testId="import-dialog">
      <p className="muted small">A flow document in YAML or JSON, as exported. It becomes a new flow — or, with “replace”, a new version of the flow of the same name.</p>
      <FileOrText
        accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml"
        choose="Choose a file…"
        testId="import"
        placeholder={'apiVersion: sluice/v1\nname: my-flow\nnodes: …'}
        rows={12}
        value={text}
        onChange={(t, name) => {
          setText(t);
          setFileName(name);
        }}
      />
      <details className="import-tests">
        <summary>Tests (optional): the flow's FLOW.tests.yaml</summary>
        <p className="muted small">Imported with the flow (a test of the same name is replaced). If they do not fit the flow, nothing is imported.</p>
        <FileOrText
          accept=".yaml,.yml,application/yaml,text/yaml"
          choose="Choose a tests file…"
          testId="import-tests"
          label="Tests file (YAML)"
          placeholder={'tests:\n  - name: my-test\n    inputs: …'}
          rows={6}
          value={tests}
          onChange={(t) => setTests(t)}
        />
      </details>
      <div className="row between">
        <label className="check">
          <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} data-testid="import-overwrite" /> replace a flow of the same name (as a new version)
        </label>
        <div className="row gap">
          <button className="btn" onClick={onClose}>
            Cancel
          </button>
          <button className="btn primary" disabled={!text.trim() || busy} onClick={() => void submit()} data-testid="import-submit">
            {busy ? 'Importing…' : 'Import'}
          </button>
        </div>
      </div>
    </Modal>
  );
}

/**
 * A text the user pastes or loads from a file (the file's text replaces the box's; typing forgets the
 * file's name). `onChange` gets the text and the name of the file it came from, if it did.
 * Test ids: `<testId>-file` (the file input) and `<testId>-text` (the box).
 */
function FileOrText(props: {
  value: string;
  onChange: (text: string, fileName?: string) => void;
  accept: string;
  choose: string;
  testId: string;
  placeholder: string;
  rows: number;
  label?: string;
}) {
  const [fileName, setFileName] = useState<string | undefined>();
  return (
    <>
      <label className="file-drop">
        <input
          type="file"
          accept={props.accept}
          data-testid={`${props.testId}-file`}
          onChange={async (e) => {
            const f = e.target.files?.[0];
            if (!f) return;
            setFileName(f.name);
            props.onChange(await f.text(), f.name);
          }}
        />
        <span>{fileName ? `${fileName} loaded` : props.choose}</span>
      </label>
      <textarea
        className="mono import-text"
        data-testid={`${props.testId}-text`}
        aria-label={props.label}
        placeholder={props.placeholder}
        value={props.value}
        onChange={(e) => {
          setFileName(undefined);
          props.onChange(e.target.value);
        }}
        spellCheck={false}
        rows={props.rows}
      />
    </>
  );
}
