/**
 * `{ ...value, [field]: v }` for every enriched record of a lookup, made cheaply. The values of a flow
 * mostly share one set of fields: for it, a generated object literal copies the fields and adds `field`
 * in one allocation, as runtime/records.ts valueMaker builds rows. Other values take Object.assign,
 * which is faster than the spread on the objects JSON.parse makes (`npm run bench -- denormalize.lookup`).
 * Values are JSON-like objects: symbol-keyed fields, which JSON cannot carry, are not copied.
 */
import type { Value } from '../../../runtime/index.js';

interface Copier {
  /** whether `o` is a plain object whose enumerable fields are exactly this copier's, in order */
  fits(o: Value): boolean;
  copy(o: Value, v: unknown): Value;
}

/** field sets with a copier at most: values of more shapes than this take Object.assign */
const MAX_COPIERS = 8;

export class FieldAdder {
  /** most recently made first */
  private readonly copiers: Copier[] = [];

  constructor(private readonly field: string) {}

  /** a new object: `value`'s own enumerable fields, then `field` = v (in its place when value has it) */
  with(value: Value, v: unknown): Value {
    const cs = this.copiers;
    for (let i = 0; i < cs.length; i++) if (cs[i].fits(value)) return cs[i].copy(value, v);
    if (cs.length < MAX_COPIERS && this.field !== '__proto__' && Object.getPrototypeOf(value) === Object.prototype) {
      const keys = Object.keys(value);
      if (!keys.includes('__proto__')) {
        const c = copierOf(keys, this.field);
        cs.unshift(c);
        if (c.fits(value)) return c.copy(value, v); // not when value inherits enumerable fields
      }
    }
    return withField(value, this.field, v);
  }
}

/** the copier of values whose fields are `keys` (none of them `__proto__`, which a literal would take as the prototype) */
function copierOf(keys: string[], field: string): Copier {
  // names reach the code only as JSON string literals; for-in lists own then inherited enumerable fields
  const P = Object.prototype;
  const fits = new Function('K', 'P', 'o', 'if (Object.getPrototypeOf(o) !== P) return false; let i = 0; for (const k in o) if (k !== K[i++]) return false; return i === K.length;');
  const copy = new Function('o', 'v', `return { ${[...keys.map((k) => `${JSON.stringify(k)}: o[${JSON.stringify(k)}]`), `${JSON.stringify(field)}: v`].join(', ')} };`);
  return { fits: fits.bind(null, keys, P) as Copier['fits'], copy: copy as Copier['copy'] };
}

/**
 * The general path. Object.assign would call the __proto__ setter for an own `__proto__` field, so such
 * a value (and such a field) takes the spread.
 */
export function withField(value: Value, field: string, v: unknown): Value {
  if (field === '__proto__' || Object.hasOwn(value, '__proto__')) return { ...value, [field]: v };
  const out: Value = Object.assign({}, value);
  out[field] = v;
  return out;
}
