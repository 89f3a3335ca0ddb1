/**
 * Fields a config schema marks with zod `.meta()`: `{ code: true }` on user code (map and filter code,
 * expressions, custom reducers), `{ file: 'read' | 'write' | 'pem' }` on filesystem paths (`pem`: a
 * path or the PEM text itself), `{ connection: true }` on the name of a flow connection. One
 * declaration read by flow validation (env placeholders refused in code, paths confined to the host's
 * file roots) and, through the exported JSON Schema, by the editor (the code widget, the connection picker).
 */
import { z } from 'zod';

export interface MarkedField {
  /** where in the value: `['measures', 0, 'add']` */
  path: (string | number)[];
  value: unknown;
  meta: Record<string, unknown>;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

type Def = { type: string } & Record<string, unknown>;
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional']);

/** an object option of a union whose literal fields (`type: sqlite`) say it is not the one `value` is */
function ruledOut(option: z.ZodType, value: unknown): boolean {
  let s = option;
  while (WRAPPERS.has(defOf(s).type)) s = defOf(s).innerType as z.ZodType;
  const def = defOf(s);
  if (def.type !== 'object') return false;
  if (!isObject(value)) return true;
  for (const [key, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
    const fd = defOf(field);
    if (fd.type === 'literal' && key in value && !(fd.values as unknown[]).includes(value[key])) return true;
  }
  return false;
}

/**
 * Every field of `value` whose schema carries `.meta({ [mark]: … })`, with its path and value. Walks the
 * schema beside the value (raw or parsed), so only fields present in the value are returned; in a
 * union, every option the value may be (literal discriminators rule options out).
 */
export function markedFields(schema: z.ZodType, value: unknown, mark: string): MarkedField[] {
  const out = new Map<string, MarkedField>();
  const walk = (s: z.ZodType, v: unknown, path: (string | number)[], depth: number): void => {
    if (depth > 64 || v === undefined) return;
    const meta = z.globalRegistry.get(s) as Record<string, unknown> | undefined;
    if (meta && meta[mark] !== undefined) {
      out.set(JSON.stringify(path), { path, value: v, meta });
      return;
    }
    const def = defOf(s);
    if (WRAPPERS.has(def.type)) return walk(def.innerType as z.ZodType, v, path, depth + 1);
    switch (def.type) {
      case 'pipe':
        walk(def.in as z.ZodType, v, path, depth + 1);
        walk(def.out as z.ZodType, v, path, depth + 1);
        return;
      case 'lazy':
        return walk((def.getter as () => z.ZodType)(), v, path, depth + 1);
      case 'object':
        if (!isObject(v)) return;
        for (const [k, field] of Object.entries(def.shape as Record<string, z.ZodType>)) {
          if (Object.hasOwn(v, k)) walk(field, v[k], [...path, k], depth + 1);
        }
        return;
      case 'array':
        if (Array.isArray(v)) v.forEach((item, i) => walk(def.element as z.ZodType, item, [...path, i], depth + 1));
        return;
      case 'record':
        if (isObject(v)) for (const [k, item] of Object.entries(v)) walk(def.valueType as z.ZodType, item, [...path, k], depth + 1);
        return;
      case 'union':
        for (const option of def.options as z.ZodType[]) if (!ruledOut(option, v)) walk(option, v, path, depth + 1);
        return;
      case 'intersection':
        walk(def.left as z.ZodType, v, path, depth + 1);
        walk(def.right as z.ZodType, v, path, depth + 1);
        return;
      default:
        return;
    }
  };
  walk(schema, value, [], 0);
  return [...out.values()];
}

/** `.meta()` marks, typed: import these rather than writing the objects by hand */
export const CODE_MARK = { code: true } as const;
export const CONNECTION_MARK = { connection: true } as const;
export const fileMark = (mode: 'read' | 'write' | 'pem') => ({ file: mode }) as const;
