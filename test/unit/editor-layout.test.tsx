/**
 * Large flows on the canvas (editor/src/layout.ts): nodes carry their size and handles before they are
 * drawn, so React Flow draws the edges of the 500-node flow without measuring every node, and does not
 * draw them a second time when the nodes in view are measured at the declared size.
 */
import { describe, expect, it } from 'vitest';
import type { NodeTypeInfo } from '../../editor/src/api.js';
import type { FlowNode } from '../../editor/src/doc.js';
import { declaredHandles, NODE_H, NODE_W, predeclare } from '../../editor/src/layout.js';

const port = (name: string) => ({ name });
const denormalize = {
  type: 'core.denormalize',
  category: 'denormalize',
  title: 'Denormalize',
  description: '',
  inputs: [port('in')],
  inputsBy: { field: 'mode', cases: { lookup: [port('in')], nest: [port('parent'), port('child')] } },
  outputs: [port('out'), port('error')],
  configSchema: {},
} as unknown as NodeTypeInfo;

describe('declared handles of a large flow', () => {
  it('follow the config like the node does: a nest denormalize has parent and child inputs', () => {
    const ids = (config: unknown) => declaredHandles('d', denormalize, config).map((h) => `${h.type}:${h.id}`);
    expect(ids({ mode: 'nest' })).toEqual(['target:parent', 'target:child', 'source:out', 'source:error']);
    expect(ids({ mode: 'lookup' })).toEqual(['target:in', 'source:out', 'source:error']);
  });

  it('sit where the browser lays out `top: n%` of the 52 px between the borders (1/64 px, rounded down)', () => {
    const [parent, child, out, error] = declaredHandles('d', denormalize, { mode: 'nest' });
    // 3 px top border + floor64(52 / 3) - 4.5 (half a handle): what React Flow measures in Chromium
    expect([parent.y, child.y, out.y, error.y]).toEqual([15.828125, 33.15625, 15.828125, 33.15625]);
    expect(declaredHandles('m', { ...denormalize, inputsBy: undefined }, {})[0].y).toBe(24.5);
  });

  it('marks the nodes measured at the drawn size, so React Flow does not measure and redraw them', () => {
    const node: FlowNode = { id: 'd', type: 'flow', position: { x: 0, y: 0 }, data: { type: 'core.denormalize', config: { mode: 'nest' } } };
    const [n] = predeclare([node], { 'core.denormalize': denormalize });
    expect(n.measured).toEqual({ width: NODE_W, height: NODE_H });
    expect(n.handles?.map((h) => h.id)).toEqual(['parent', 'child', 'out', 'error']);
  });
});
