/**
 * The one node component of the canvas: category colour, icon, id and type; input handles on the left,
 * output handles on the right (the error port in red); a badge for validation issues (message on
 * hover); counters from the test run or the live deployment; the error the node raised.
 */
import { memo, useMemo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import { inputsOf } from '../../../runtime/node-api.js';
import { summaryOf } from '../formSchema.js';
import type { PortInfo } from '../api.js';
import type { FlowNode } from '../doc.js';
import { Icon, iconOf } from '../nodeMeta.js';
import { canvasLocked, fmtCount, nodeCounts, nodeError, progressLine, sourceProgress, type Counts } from '../selectors.js';
import { useEditor } from '../store.js';
import { besideInCanvas } from '../layout.js';

function Badge({ id }: { id: string }) {
  const issues = useEditor((s) => s.issuesByNode[id]);
  if (!issues?.length) return null;
  const worst = issues.some((i) => i.severity === 'error') ? 'error' : 'warning';
  return (
    <div className={`node-badge ${worst}`} data-testid={`node-issues-${id}`} tabIndex={0} aria-label={`${issues.length} problem(s)`}>
      {issues.length}
      <div className="node-tip" role="tooltip">
        {issues.map((i, k) => (
          <div key={k} className={`tip-line ${i.severity}`}>
            {i.path.replace(/^nodes\[[^\]]+\]\.?/, '') && <span className="mono">{i.path.replace(/^nodes\[[^\]]+\]\.?/, '')}: </span>}
            {i.message}
          </div>
        ))}
      </div>
    </div>
  );
}

function CountsRow({ id, c, source }: { id: string; c: Counts; source: boolean }) {
  return (
    <div className={`node-counts ${c.source}`} data-testid={`node-count-${id}`}>
      {c.wouldWrite !== undefined ? (
        <span title="what this sink would write (nothing is written in a test run)">
          would write <b>{fmtCount(c.wouldWrite)}</b>
          {(c.wouldDelete ?? 0) > 0 && <> · delete {fmtCount(c.wouldDelete!)}</>}
        </span>
      ) : source ? (
        <span title="records read">
          read <b>{fmtCount(c.out)}</b>
        </span>
      ) : (
        <span title="records in → records out">
          <b>{fmtCount(c.in)}</b> → <b>{fmtCount(c.out)}</b>
        </span>
      )}
      {c.rate !== undefined && <span className="rate">{fmtCount(Math.round(c.rate))}/s</span>}
      {c.errors > 0 && <span className="err-count">{fmtCount(c.errors)} err</span>}
    </div>
  );
}

/** everything a node shows from the store, as flat values: one shallow-compared subscription per node */
function useNodeView(id: string, type: string) {
  return useEditor((s) => {
    const t = s.catalog[type];
    const c = nodeCounts(s, id);
    return {
      t,
      error: nodeError(s, id)?.message,
      testMark: s.testMarks[id],
      has: c !== null,
      in: c?.in ?? 0,
      out: c?.out ?? 0,
      errors: c?.errors ?? 0,
      rate: c?.rate,
      wouldWrite: c?.wouldWrite,
      wouldDelete: c?.wouldDelete,
      source: c?.source ?? 'preview',
      progress: (() => {
        const p = sourceProgress(s, id);
        return p ? progressLine(p) : undefined;
      })(),
    };
  });
}

/** the "+" beside an output: opens the node picker to add the next node, wired from this port */
function AddAfter({ id, port, top }: { id: string; port: string; top?: string }) {
  const openPicker = useEditor((s) => s.openPicker);
  return (
    <button
      type="button"
      className="handle-add nodrag nopan"
      style={top ? { top } : undefined}
      data-testid={`add-after-${id}${port === 'out' ? '' : `-${port}`}`}
      aria-label={`Add a node after ${id}${port === 'out' ? '' : ` (${port})`}`}
      title="Add the next node, wired from here"
      onClick={(e) => {
        e.stopPropagation();
        openPicker({ after: { source: id, port }, screen: besideInCanvas(e.currentTarget) });
      }}
    >
      +
    </button>
  );
}

function FlowNodeView({ id, data, selected }: NodeProps<FlowNode>) {
  const { t: type, error, has, progress, testMark, ...c } = useNodeView(id, data.type);
  const readOnly = useEditor(canvasLocked);
  const counts: Counts | null = has ? c : null;
  const category = type?.category ?? 'unknown';
  const inputs = type ? inputsOf(type, data.config) : DEFAULT_INPUTS;
  const outputs = type ? type.outputs : DEFAULT_OUTPUTS;
  const summary = useMemo(() => summaryOf(type?.configSchema, data.config), [type, data.config]);
  return (
    <div className={`flow-node cat-${category}${selected ? ' selected' : ''}${error ? ' has-error' : ''}${testMark ? ' test-failed' : ''}`} data-testid={`node-${id}`}>
      <div className="node-main">
        <span className="node-icon">
          <Icon name={iconOf(type)} />
        </span>
        <div className="node-text">
          <div className="node-id">{data.name || id}</div>
          <div className="node-type">{type?.title ?? data.type}</div>
        </div>
      </div>
      {summary && (
        <div className="node-summary" title={summary} data-testid={`node-summary-${id}`}>
          {summary}
        </div>
      )}
      {counts && <CountsRow id={id} c={counts} source={inputs.length === 0} />}
      {progress && (
        <div className="node-progress" data-testid={`node-progress-${id}`} title="tables done / tables, and rows read of the estimated rows">
          {progress}
        </div>
      )}
      {error && (
        <div className="node-error" title={error}>
          {error}
        </div>
      )}
      <Badge id={id} />
      {testMark && (
        <div className="node-test-mark" data-testid={`node-test-${id}`} tabIndex={0} aria-label={testMark}>
          test
          <div className="node-tip" role="tooltip">
            {testMark}
          </div>
        </div>
      )}
      {inputs.map((p, i) => (
        <Handle key={p.name} id={p.name} type="target" position={Position.Left} style={inputs.length > 1 ? { top: `${((i + 1) / (inputs.length + 1)) * 100}%` } : undefined} title={`input ${p.name}`} />
      ))}
      {outputs.map((p, i) => (
        <Handle
          key={p.name}
          id={p.name}
          type="source"
          position={Position.Right}
          className={p.name === 'error' ? 'handle-error' : undefined}
          style={outputs.length > 1 ? { top: `${((i + 1) / (outputs.length + 1)) * 100}%` } : undefined}
          title={`output ${p.name}${p.description ? `: ${p.description}` : ''}`}
        >
          {outputs.length > 1 && <span className="handle-label">{p.name}</span>}
        </Handle>
      ))}
      {!readOnly &&
        outputs.map((p, i) => p.name !== 'error' && <AddAfter key={p.name} id={id} port={p.name} top={outputs.length > 1 ? `${((i + 1) / (outputs.length + 1)) * 100}%` : undefined} />)}
    </div>
  );
}

const DEFAULT_INPUTS: PortInfo[] = [{ name: 'in' }];
const DEFAULT_OUTPUTS: PortInfo[] = [{ name: 'out' }];

/** module scope: React Flow must get the same object on every render */
export const nodeTypes = { flow: memo(FlowNodeView) };
