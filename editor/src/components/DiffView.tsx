/** A version diff, node by node. */
import type { FlowDiff } from '../diff.js';

const show = (v: unknown) => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

export function DiffView({ a, b, diff }: { a: number; b: number; diff: FlowDiff }) {
  const changed = diff.nodes.filter((n) => n.kind !== 'same');
  const unchanged = diff.nodes.length - changed.length;
  return (
    <div className="diff" data-testid="diff">
      <h4>
        v{a} → v{b}
      </h4>
      {changed.length === 0 && diff.edgesAdded.length === 0 && diff.edgesRemoved.length === 0 && diff.settings.length === 0 && <p className="muted">No differences.</p>}
      <ul>
        {changed.map((n) => (
          <li key={n.id} className={`diff-${n.kind}`} data-testid={`diff-node-${n.id}`}>
            <span className="diff-kind">{n.kind}</span> <span className="mono">{n.id}</span> <span className="muted small">{n.type}</span>
            {n.changes.map((c) => (
              <div key={c.field} className="diff-change">
                <span className="mono">{c.field}</span>
                <span className="diff-before">{show(c.before)}</span>
                <span className="diff-after">{show(c.after)}</span>
              </div>
            ))}
          </li>
        ))}
        {diff.settings.map((c) => (
          <li key={c.field} className="diff-changed">
            <span className="diff-kind">changed</span> <span className="mono">{c.field}</span>
            <div className="diff-change">
              <span className="diff-before">{show(c.before)}</span>
              <span className="diff-after">{show(c.after)}</span>
            </div>
          </li>
        ))}
        {diff.edgesAdded.map((e) => (
          <li key={`+${e}`} className="diff-added">
            <span className="diff-kind">wire added</span> <span className="mono">{e}</span>
          </li>
        ))}
        {diff.edgesRemoved.map((e) => (
          <li key={`-${e}`} className="diff-removed">
            <span className="diff-kind">wire removed</span> <span className="mono">{e}</span>
          </li>
        ))}
      </ul>
      {unchanged > 0 && <p className="muted small">{unchanged} node(s) unchanged.</p>}
    </div>
  );
}
