/** Every validation issue of the document; a click selects the node it belongs to. */
import { useReactFlow } from '@xyflow/react';
import type { FlowEdge, FlowNode } from '../doc.js';
import { focusNode } from '../layout.js';
import { useEditor } from '../store.js';

export function ProblemsPanel() {
  const { issues, selectNode, empty } = useEditor((s) => ({ issues: s.issues, selectNode: s.selectNode, empty: s.nodes.length === 0 }));
  const rf = useReactFlow<FlowNode, FlowEdge>();
  if (empty) return <div className="panel-empty">Problems with the flow show here as you edit.</div>;
  if (issues.length === 0) return <div className="panel-empty">No problems: the flow is valid.</div>;
  return (
    <ul className="problems" data-testid="problems">
      {issues.map((i, k) => {
        const node = i.nodeId ?? /^nodes\[([^\]]+)\]/.exec(i.path)?.[1];
        return (
          <li
            key={k}
            className={`${i.severity}${node ? ' clickable' : ''}`}
            onClick={() => {
              if (!node) return;
              selectNode(node);
              focusNode(rf, node);
            }}
          >
            <span className={`dot ${i.severity}`} />
            {i.path && <span className="mono path">{i.path}</span>}
            <span>{i.message}</span>
          </li>
        );
      })}
    </ul>
  );
}
