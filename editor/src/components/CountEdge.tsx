/** The one edge component: a bezier wire with the number of records that crossed it as its label. */
import { memo } from 'react';
import { BaseEdge, EdgeLabelRenderer, getBezierPath, type EdgeProps } from '@xyflow/react';
import type { FlowEdge } from '../doc.js';
import { edgeCount, fmtCount } from '../selectors.js';
import { useEditor } from '../store.js';

function CountEdgeView({ id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, markerEnd, style, selected }: EdgeProps<FlowEdge>) {
  const [path, labelX, labelY] = getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition });
  const count = useEditor((s) => edgeCount(s, id));
  // on a short wire the middle is crowded by the handles and their 25 px hit areas: the label (17 px
  // high, up to ~60 wide) sits above them, so it never covers a handle
  const lift = Math.abs(targetX - sourceX) < 110 && Math.abs(targetY - sourceY) < 40 ? 24 : 0;
  return (
    <>
      <BaseEdge id={id} path={path} markerEnd={markerEnd} style={style} className={selected ? 'selected' : undefined} />
      {count !== undefined && (
        <EdgeLabelRenderer>
          <div
            className="edge-count"
            data-testid={`edge-count-${id}`}
            style={{ transform: `translate(-50%, -50%) translate(${labelX}px, ${labelY - lift}px)` }}
            title={`${count.toLocaleString('en-US')} records`}
          >
            {fmtCount(count)}
          </div>
        </EdgeLabelRenderer>
      )}
    </>
  );
}

export const edgeTypes = { count: memo(CountEdgeView) };
