/** Import a flow document: upload a file or paste YAML/JSON; the server parses and validates it. */
import { useState } from 'react';
import { useEditor } from '../store.js';
import { Modal } from './Modal.js';

const guessFormat = (text: string, fileName?: string): 'yaml' | 'json' => {
  if (fileName) return /\.json$/i.test(fileName) ? 'json' : 'yaml';
  return /^\s*[{[]/.test(text) ? 'json' : 'yaml';
};

export function ImportDialog({ onClose }: { onClose(): void }) {
  const { importText, dirty } = useEditor((s) => ({ importText: s.importText, dirty: s.dirty }));
  const [text, setText] = useState('');
  const [fileName, setFileName] = useState<string | undefined>();
  const [overwrite, setOverwrite] = useState(false);
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    if (dirty && !confirm('The open flow has unsaved changes. Discard them and import?')) return;
    setBusy(true);
    const ok = await importText(text, { format: guessFormat(text, fileName), overwrite });
    setBusy(false);
    if (ok) onClose();
  };

  return (
    <Modal title="Import a flow" onClose={onClose} testId="import-dialog">
      <p className="muted small">A flow document in YAML or JSON, as exported. It becomes a new flow — or, with “replace”, a new version of the flow of the same name.</p>
      <label className="file-drop">
        <input
          type="file"
          accept=".yaml,.yml,.json,application/json,application/yaml,text/yaml"
          data-testid="import-file"
          onChange={async (e) => {
            const f = e.target.files?.[0];
            if (!f) return;
            setFileName(f.name);
            setText(await f.text());
          }}
        />
        <span>{fileName ? `${fileName} loaded` : 'Choose a file…'}</span>
      </label>
      <textarea
        className="mono import-text"
        data-testid="import-text"
        placeholder={'apiVersion: sluice/v1\nname: my-flow\nnodes: …'}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          setFileName(undefined);
        }}
        spellCheck={false}
        rows={12}
      />
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
