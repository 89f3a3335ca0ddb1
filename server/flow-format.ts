/**
 * Flow documents as the server keeps and exports them: keys in one stable order (the order of the flow
 * schema; fields it does not know keep theirs), YAML or JSON text that parses back to the same document.
 * Parsing and validation are the runtime's (runtime/flow/parse.ts, validate.ts); nothing is re-checked here.
 */
import { Document, isMap, isSeq, visit } from 'yaml';

export type Doc = Record<string, unknown>;

const DOC_KEYS = ['apiVersion', 'name', 'version', 'description', 'settings', 'connections', 'nodes', 'edges'];
const NODE_KEYS = ['id', 'type', 'name', 'description', 'config', 'position'];
const EDGE_KEYS = ['from', 'fromPort', 'to', 'toPort'];
const POSITION_KEYS = ['x', 'y'];

function ordered(value: unknown, keys: readonly string[]): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const obj = value as Doc;
  const out: Doc = {};
  for (const k of keys) if (k in obj) out[k] = obj[k];
  for (const k of Object.keys(obj)) if (!(k in out)) out[k] = obj[k];
  return out;
}

/**
 * The document as stored: JSON-clean (what JSON can hold; `undefined` dropped), keys in the stable
 * order, `version` set to the version being saved (the server owns it).
 */
export function canonicalDocument(raw: Doc, version?: number): Doc {
  const clean = JSON.parse(JSON.stringify(raw)) as Doc;
  if (version !== undefined) clean.version = version;
  const doc = ordered(clean, DOC_KEYS) as Doc;
  if (Array.isArray(doc.nodes)) {
    doc.nodes = doc.nodes.map((n) => {
      const node = ordered(n, NODE_KEYS) as Doc;
      if (node && typeof node === 'object' && 'position' in node) node.position = ordered(node.position, POSITION_KEYS);
      return node;
    });
  }
  if (Array.isArray(doc.edges)) doc.edges = doc.edges.map((e) => ordered(e, EDGE_KEYS));
  return doc;
}

/** YAML with edges and positions on one line each, as a person would write them */
export function toYaml(doc: Doc): string {
  const yaml = new Document(doc);
  visit(yaml, {
    Pair(_, pair, path) {
      const key = (pair.key as { value?: unknown } | null)?.value;
      if (key === 'position' && isMap(pair.value)) pair.value.flow = true;
      // path.length 2: a key of the document itself (Document → root map)
      if (key === 'edges' && path.length === 2 && isSeq(pair.value)) {
        for (const item of pair.value.items) if (isMap(item)) item.flow = true;
      }
    },
  });
  return yaml.toString({ lineWidth: 0 });
}

export function toJson(doc: Doc): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
