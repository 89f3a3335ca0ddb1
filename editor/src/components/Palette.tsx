/**
 * Node types by category, searchable; drag one onto the canvas, or double-click / Enter to add it
 * (after the selected node, wired from it, when one is selected).
 */
import { useMemo, useState, type DragEvent } from 'react';
import { useReactFlow } from '@xyflow/react';
import type { NodeTypeInfo } from '../api.js';
import { NODE_W, freeSpot, placeAfter, revealAdded } from '../layout.js';
import { CATEGORIES, Icon, iconOf } from '../nodeMeta.js';
import { useEditor, useStoreApi, VIEWER_REASON } from '../store.js';
import { canvasLocked } from '../selectors.js';
import { DND_TYPE } from './Canvas.js';

// a plain comparison: localeCompare's first call sets up a collator, which costs ~30 ms at start
const byTitle = (a: NodeTypeInfo, b: NodeTypeInfo) => {
  const x = a.title.toLowerCase();
  const y = b.title.toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
};
const matches = (t: NodeTypeInfo, q: string) => !q || `${t.type} ${t.title} ${t.description} ${t.category}`.toLowerCase().includes(q);

export function Palette() {
  const { catalog, catalogError, addNode, readOnly } = useEditor((s) => ({ catalog: s.catalog, catalogError: s.catalogError, addNode: s.addNode, readOnly: canvasLocked(s) }));
  const rf = useReactFlow();
  const store = useStoreApi();
  const [query, setQuery] = useState('');
  const q = query.trim().toLowerCase();
  const groups = useMemo(() => {
    const all = Object.values(catalog);
    return CATEGORIES.map((c) => ({ ...c, types: all.filter((t) => t.category === c.id && matches(t, q)).sort(byTitle) }));
  }, [catalog, q]);
  const total = groups.reduce((n, g) => n + g.types.length, 0);

  /** with one node selected, the new one goes to its right, wired from it; else in the middle of the view; never on top of another */
  const add = (type: string) => {
    const s = store.getState();
    const selected = s.nodes.filter((n) => n.selected);
    const t = s.catalog[type];
    if (selected.length === 1 && t && (t.inputs.length > 0 || t.inputsBy) && (s.catalog[selected[0].data.type]?.outputs.length ?? 1) > 0) {
      const at = placeAfter(selected[0], s.nodes);
      if (addNode(type, at, { source: selected[0].id, port: 'out' })) revealAdded(rf, at);
      return;
    }
    const rect = document.querySelector('.canvas')?.getBoundingClientRect();
    if (!rect) return;
    const p = rf.screenToFlowPosition({ x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 });
    addNode(type, freeSpot({ x: Math.round(p.x - NODE_W / 2), y: Math.round(p.y - 30) }, s.nodes));
  };

  const onDragStart = (e: DragEvent, type: string) => {
    e.dataTransfer.setData(DND_TYPE, type);
    e.dataTransfer.effectAllowed = 'move';
  };

  return (
    <aside className="palette" data-testid="palette">
      <div className="palette-search">
        <input id="palette-search" type="search" placeholder="Search nodes  /" value={query} onChange={(e) => setQuery(e.target.value)} aria-label="Search node types" />
      </div>
      <div className="palette-list">
        {catalogError && <p className="err-text small pad">Cannot load node types: {catalogError}</p>}
        {!catalogError && Object.keys(catalog).length === 0 && <p className="muted small pad">Loading node types…</p>}
        {Object.keys(catalog).length > 0 && total === 0 && <p className="muted small pad">No node matches “{query}”.</p>}
        {groups.map(
          (g) =>
            g.types.length > 0 && (
              <section key={g.id} className="palette-group">
                <h3 title={g.hint}>{g.label}</h3>
                {g.types.map((t) => (
                  <div
                    key={t.type}
                    className={`palette-item cat-${t.category}`}
                    data-testid={`palette-${t.type}`}
                    draggable={!readOnly}
                    tabIndex={0}
                    role="button"
                    aria-disabled={readOnly || undefined}
                    title={readOnly ? `${t.description}\n\n${VIEWER_REASON}.` : `${t.description}\n\nDrag onto the canvas, or double-click to add (after the selected node, wired).`}
                    onDragStart={(e) => onDragStart(e, t.type)}
                    onDoubleClick={() => add(t.type)}
                    onKeyDown={(e) => e.key === 'Enter' && add(t.type)}
                  >
                    <span className="palette-icon">
                      <Icon name={iconOf(t)} />
                    </span>
                    <span className="palette-text">
                      <span className="palette-title">{t.title}</span>
                      <span className="palette-desc">{t.description}</span>
                    </span>
                  </div>
                ))}
              </section>
            ),
        )}
      </div>
    </aside>
  );
}
