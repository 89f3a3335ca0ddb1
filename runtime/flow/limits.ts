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

/**
 * The first thing in `value` that is not plain, bounded JSON data: nesting deeper than `depth`, a key
 * that reaches a prototype, a string over `stringLength`, a number that is not finite, a value JSON has
 * no word for (a YAML `!!set`, `!!binary`, `!!timestamp` …). Walks without recursion, so any depth is safe.
 */
export function checkShape(value: unknown, limits: Pick<typeof LIMITS, 'depth' | 'stringLength'> = LIMITS): ShapeProblem | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  while (stack.length > 0) {
    const { value: v, path } = stack.pop()!;
    if (typeof v === 'string') {
      if (v.length > limits.stringLength) return { path, message: `a string of ${v.length} characters: at most ${limits.stringLength}` };
      continue;
    }
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return { path, message: `${String(v)} is not a number JSON can hold: use a finite number` };
      continue;
    }
    if (v === null || v === undefined || typeof v === 'boolean') continue; // undefined: absent, as JSON.stringify drops it
    if (typeof v !== 'object') return { path, message: `a ${typeof v} is not plain data` };
    if (path.length >= limits.depth) return { path, message: `nested more than ${limits.depth} levels deep` };
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push({ value: v[i], path: [...path, i] });
      continue;
    }
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) return { path, message: `a ${typeName(v)} is not plain data (a YAML tag such as !!set, !!binary or !!timestamp?)` };
    const keys = Object.keys(v);
    for (let i = keys.length - 1; i >= 0; i--) {
      const k = keys[i];
      if (FORBIDDEN_KEYS.has(k)) return { path: [...path, k], message: `"${k}" is not allowed as a key` };
      stack.push({ value: (v as Record<string, unknown>)[k], path: [...path, k] });
    }
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
