/** Export the saved flow: the variables its connections' secrets need where it runs, and the downloads. */
import { useEffect, useState } from 'react';
import type { ExportVariable } from '../api.js';
import { describeError } from '../store-flow.js';
import { useApi } from '../store.js';
import { Modal } from './Modal.js';

export function ExportDialog({ flowId, onClose }: { flowId: string; onClose(): void }) {
  const api = useApi();
  const [variables, setVariables] = useState<ExportVariable[] | undefined>();
  const [error, setError] = useState<string | undefined>();
  useEffect(() => {
    api.exportInfo(flowId, 'yaml').then(
      (r) => setVariables(r.variables),
      (e: unknown) => setError(describeError(e).text),
    );
  }, [api, flowId]);

  return (
    <Modal title={`Export ${flowId}`} onClose={onClose} testId="export-dialog">
      <p className="muted small">
        The file carries the connections the flow uses; each secret is an <code>{'${env:NAME}'}</code> placeholder, never the value. Set these
        variables where it runs (<code>sluice run --env-file FILE</code>), or give them when importing it into another server.
      </p>
      {error && <p className="error small">{error}</p>}
      {variables && variables.length === 0 && <p className="small" data-testid="export-no-variables">No variables: the flow uses no secret.</p>}
      {variables && variables.length > 0 && (
        <ul className="mono small" data-testid="export-variables">
          {variables.map((v) => (
            <li key={v.name}>
              {v.name} <span className="muted">— {v.connection !== undefined ? `connection ${v.connection}` : `node ${v.node}`}, {v.field}</span>
            </li>
          ))}
        </ul>
      )}
      <div className="row gap">
        <a className="btn primary" href={api.exportUrl(flowId, 'yaml')} download data-testid="export-download-yaml">
          Download YAML
        </a>
        <a className="btn" href={api.exportUrl(flowId, 'json')} download data-testid="export-download-json">
          Download JSON
        </a>
      </div>
    </Modal>
  );
}
