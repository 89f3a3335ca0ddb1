/**
 * The node picker: opened from a node's "+" (on an output), from a wire dropped on empty canvas, or with
 * N on the selected node. Type to filter, Enter or a click adds the node, wired after the node it was
 * opened from and placed to its right (or where the wire was dropped).
 */
import { useMemo, useState } from 'react';
import type { NodeTypeInfo } from '../api.js';
import { NODE_W, freeSpot, placeAfter, revealAdded } from '../layout.js';
import { useReactFlow } from '@xyflow/react';
import type { FlowEdge, FlowNode } from '../doc.js';
import { Icon, iconOf } from '../nodeMeta.js';
import { useEditor, useStoreApi, type PickerState } from '../store.js';

const matches = (t: NodeTypeInfo, q: string) => !q || `${t.type} ${t.title} ${t.category}`.toLowerCase().includes(q);
const ORDER = ['transform', 'aggregate', 'denormalize', 'sink', 'source'];

export function NodePicker() {
  const picker = useEditor((s) => s.picker);
  // a new panel (fresh search) each time the picker opens
  return picker ? <PickerPanel key={JSON.stringify(picker)} picker={picker} /> : null;
}

function PickerPanel({ picker }: { picker: PickerState }) {
  const store = useStoreApi();
  const rf = useReactFlow<FlowNode, FlowEdge>();
  const { catalog, closePicker } = useEditor((s) => ({ catalog: s.catalog, closePicker: s.closePicker }));
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const q = query.trim().toLowerCase();
  const types = useMemo(
    () =>
      Object.values(catalog)
        // after a node: only types that take input
        .filter((t) => (!picker.after || t.inputs.length > 0 || t.inputsBy) && matches(t, q))
        .sort((a, b) => ORDER.indexOf(a.category) - ORDER.indexOf(b.category) || (a.title < b.title ? -1 : 1)),
    [catalog, picker, q],
  );
  const pick = (type: string) => {
    const s = store.getState();
    const source = picker.after ? s.nodes.find((n) => n.id === picker.after!.source) : undefined;
    const at = picker.at ? freeSpot({ x: Math.round(picker.at.x - NODE_W / 2), y: Math.round(picker.at.y - 24) }, s.nodes) : source ? placeAfter(source, s.nodes) : freeSpot({ x: 80, y: 80 }, s.nodes);
    closePicker();
    if (s.addNode(type, at, picker.after)) revealAdded(rf, at);
  };

  return (
    <div className="node-picker" role="dialog" aria-label="Add a node" data-testid="node-picker" style={{ left: picker.screen.x, top: picker.screen.y }}>
      <input
        // focused as it mounts: what is typed right after the picker opens goes into the search
        autoFocus
        type="search"
        aria-label="Search node types to add"
        placeholder={picker.after ? `Add after ${picker.after.source}…` : 'Add a node…'}
        value={query}
        data-testid="node-picker-search"
        onChange={(e) => {
          setQuery(e.target.value);
          setActive(0);
        }}
        onKeyDown={(e) => {
          if (e.key === 'Escape') closePicker();
          else if (e.key === 'ArrowDown') setActive((a) => Math.min(a + 1, types.length - 1));
          else if (e.key === 'ArrowUp') setActive((a) => Math.max(a - 1, 0));
          else if (e.key === 'Enter' && types[active]) pick(types[active].type);
          else return;
          e.preventDefault();
        }}
        onBlur={(e) => {
          if (!e.currentTarget.parentElement?.contains(e.relatedTarget as Node | null)) closePicker();
        }}
      />
      <ul className="node-picker-list" aria-label="Node types">
        {types.length === 0 && <li className="muted small pad">No node matches “{query}”.</li>}
        {types.map((t, i) => (
          <li key={t.type}>
            <button type="button" className={`node-picker-item cat-${t.category}${i === active ? ' active' : ''}`} data-testid={`pick-${t.type}`} onClick={() => pick(t.type)} onMouseEnter={() => setActive(i)}>
              <Icon name={iconOf(t)} />
              <span>{t.title}</span>
              <span className="muted small">{t.category}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
