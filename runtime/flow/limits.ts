/**
 * Limits on what a flow document, a request body or a flow file may be, in one place for the server
 * and the CLI: a mistake or a hostile input gets one clear line (400, or exit 2), never a stack
 * overflow, a memory blow-up or a 5xx. Pure: no Node built-ins, so the editor may import it.
 */

export const LIMITS = {
  /** flow names, node ids and types, edge ends and ports, connection names: anything that becomes a key or a URL segment */
  nameLength: 128,
  /** nesting of objects and arrays in a document or body (a flow needs about 10) */
  depth: 64,
  /** YAML alias uses per document (anchors repeated with `*name`): stops "billion laughs" */
  aliases: 100,
  /** characters in one string value (code fields included) */
  stringLength: 1_000_000,
  /** bytes of a flow text or a request body */
  textBytes: 5 * 1024 * 1024,
  /** lexical tokens of a YAML text (the largest flow, 1,000 nodes and 5,000 edges, takes about 200,000): bounds the parse time */
  yamlTokens: 500_000,
  /** nodes and edges in one flow */
  nodes: 1000,
  edges: 5000,
} as const;

/** keys that would reach an object's prototype when copied into a plain object */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export interface ShapeProblem {
  /** where, as raw path segments (array indexes, object keys) */
  path: (string | number)[];
  message: string;
}

const typeName = (v: object) => (v.constructor && v.constructor !== Object ? v.constructor.name : 'object');

/** one object or array being walked: where it is (through its parent) and how far its children are done */
interface Frame {
  node: Record<string, unknown> | unknown[];
  keys: string[] | undefined;
  next: number;
  depth: number;
  key: string | number | undefined;
  parent: Frame | undefined;
}

const CONTAINER = Symbol('container');

/** what is wrong with one value, ignoring its children; CONTAINER for a plain object or array */
function problemOf(v: unknown, limits: Pick<typeof LIMITS, 'stringLength'>): string | typeof CONTAINER | undefined {
  if (typeof v === 'string') return v.length > limits.stringLength ? `a string of ${v.length} characters: at most ${limits.stringLength}` : undefined;
  if (typeof v === 'number') return Number.isFinite(v) ? undefined : `${String(v)} is not a number JSON can hold: use a finite number`;
  if (v === null || v === undefined || typeof v === 'boolean') return undefined; // undefined: absent, as JSON.stringify drops it
  if (typeof v !== 'object') return `a ${typeof v} is not plain data`;
  if (Array.isArray(v)) return CONTAINER;
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return `a ${typeName(v)} is not plain data (a YAML tag such as !!set, !!binary or !!timestamp?)`;
  return CONTAINER;
}

function pathTo(frame: Frame | undefined, last: string | number): (string | number)[] {
  const path = [last];
  for (let f = frame; f && f.key !== undefined; f = f.parent) path.push(f.key);
  return path.reverse();
}

/**
 * The first thing in `value` that is not plain, bounded JSON data: nesting deeper than `depth`, a key
 * that reaches a prototype, a string over `stringLength`, a number that is not finite, a value JSON has
 * no word for (a YAML `!!set`, `!!binary`, `!!timestamp` …). Walks without recursion, in memory that
 * grows with the depth only, so any input is safe.
 */
export function checkShape(value: unknown, limits: Pick<typeof LIMITS, 'depth' | 'stringLength'> = LIMITS): ShapeProblem | undefined {
  const top = problemOf(value, limits);
  if (top !== CONTAINER) return top === undefined ? undefined : { path: [], message: top };
  const frame = (node: object, depth: number, key: string | number | undefined, parent: Frame | undefined): Frame => ({
    node: node as Frame['node'],
    keys: Array.isArray(node) ? undefined : Object.keys(node),
    next: 0,
    depth,
    key,
    parent,
  });
  const stack: Frame[] = [frame(value as object, 0, undefined, undefined)];
  while (stack.length > 0) {
    const f = stack[stack.length - 1];
    const size = f.keys ? f.keys.length : (f.node as unknown[]).length;
    if (f.next >= size) {
      stack.pop();
      continue;
    }
    const key = f.keys ? f.keys[f.next] : f.next;
    f.next++;
    if (typeof key === 'string' && FORBIDDEN_KEYS.has(key)) return { path: pathTo(f, key), message: `"${key}" is not allowed as a key` };
    const child = (f.node as Record<string | number, unknown>)[key];
    const problem = problemOf(child, limits);
    if (problem === CONTAINER) {
      if (f.depth + 1 >= limits.depth) return { path: pathTo(f, key), message: `nested more than ${limits.depth} levels deep` };
      stack.push(frame(child as object, f.depth + 1, key, f));
    } else if (problem !== undefined) return { path: pathTo(f, key), message: problem };
  }
  return undefined;
}

/** `['nodes', 3, 'config']` → `nodes[3].config`; a very deep one is cut after its first 8 steps */
export function shapePath(path: readonly (string | number)[]): string {
  let out = '';
  for (const seg of path.slice(0, 8)) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${shortKey(seg)}` : shortKey(seg);
  return path.length > 8 ? `${out}…` : out;
}

/** a key in a path, cut short when it is longer than any valid name */
export const shortKey = (k: string) => (k.length > LIMITS.nameLength ? `${k.slice(0, 40)}…` : k);

/** a value echoed in a message, cut short so that a gigantic input never makes a gigantic error line */
export function quoteShort(value: unknown, max = 60): string {
  const s = typeof value === 'string' ? value : String(value);
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s) + (s.length > max ? ` (${s.length} characters)` : '');
}
