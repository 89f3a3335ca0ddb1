/** What an empty canvas says: how to begin. */
import { useEditor } from '../store.js';

export function EmptyCanvas() {
  const { catalogError, readOnly } = useEditor((s) => ({ catalogError: s.catalogError, readOnly: s.readOnly }));
  return (
    <div className="empty-canvas" data-testid="empty-canvas">
      <div className="empty-card">
        <h2>Start a flow</h2>
        {catalogError ? (
          <p className="err-text">The node types could not be loaded: {catalogError}. Is the Sluice server running?</p>
        ) : readOnly ? (
          <p>You are signed in as a viewer: you can open saved flows and watch them run, but not change them.</p>
        ) : (
          <ol>
            <li>
              Drag a <b>source</b> from the palette on the left (try <i>Generate</i>).
            </li>
            <li>Add a transform and a sink, and wire them from the right edge of one node to the left edge of the next.</li>
            <li>
              Press <kbd>Test run</kbd> to see the records at every node. Nothing is written.
            </li>
          </ol>
        )}
        <p className="muted small">
          {readOnly ? 'Open' : 'Or open'} a saved flow (<a href="#/flows">Flows</a>){readOnly ? '.' : ' or import a YAML/JSON document.'}
        </p>
      </div>
    </div>
  );
}
