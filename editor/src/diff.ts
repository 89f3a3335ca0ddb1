/** Two versions of a flow compared node by node: added, removed, changed (which config fields), moved. */
import type { FlowDoc } from './api.js';

export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
}

export interface NodeDiff {
  id: string;
  type: string;
  kind: 'added' | 'removed' | 'changed' | 'moved' | 'same';
  changes: FieldChange[];
}

export interface FlowDiff {
  nodes: NodeDiff[];
  edgesAdded: string[];
  edgesRemoved: string[];
  settings: FieldChange[];
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
const edgeText = (e: { from: string; to: string; fromPort?: string; toPort?: string }) =>
  `${e.from}${e.fromPort ? `.${e.fromPort}` : ''} → ${e.to}${e.toPort ? `.${e.toPort}` : ''}`;

function fieldChanges(a: Record<string, unknown> = {}, b: Record<string, unknown> = {}, prefix = ''): FieldChange[] {
  const out: FieldChange[] = [];
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (!same(a[k], b[k])) out.push({ field: `${prefix}${k}`, before: a[k], after: b[k] });
  }
  return out;
}

export function diffFlows(a: FlowDoc, b: FlowDoc): FlowDiff {
  const before = new Map((a.nodes ?? []).map((n) => [n.id, n]));
  const after = new Map((b.nodes ?? []).map((n) => [n.id, n]));
  const nodes: NodeDiff[] = [];
  for (const [id, n] of after) {
    const o = before.get(id);
    if (!o) {
      nodes.push({ id, type: n.type, kind: 'added', changes: [] });
      continue;
    }
    const changes = [
      ...(o.type !== n.type ? [{ field: 'type', before: o.type, after: n.type }] : []),
      ...(o.name !== n.name ? [{ field: 'name', before: o.name, after: n.name }] : []),
      ...fieldChanges(o.config as Record<string, unknown>, n.config as Record<string, unknown>, 'config.'),
    ];
    const moved = !same(o.position, n.position);
    nodes.push({ id, type: n.type, kind: changes.length ? 'changed' : moved ? 'moved' : 'same', changes });
  }
  for (const [id, o] of before) if (!after.has(id)) nodes.push({ id, type: o.type, kind: 'removed', changes: [] });
  const ea = new Set((a.edges ?? []).map(edgeText));
  const eb = new Set((b.edges ?? []).map(edgeText));
  return {
    nodes,
    edgesAdded: [...eb].filter((e) => !ea.has(e)),
    edgesRemoved: [...ea].filter((e) => !eb.has(e)),
    settings: fieldChanges(a.settings as Record<string, unknown>, b.settings as Record<string, unknown>, 'settings.'),
  };
}
