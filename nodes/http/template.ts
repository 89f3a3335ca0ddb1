/**
 * `{field}` templates filled from a record, for URLs, headers and bodies written in the config: `{id}` is
 * a value field (`{customer.id}` a nested one), `{key}`, `{op}`, `{meta.table}` the record's own. In a URL
 * each value is percent-encoded; in a JSON body template a placeholder that is the whole string keeps the
 * value's JSON type (`{"amount": "{amount}"}` sends a number).
 */
import type { SluiceRecord } from '../../runtime/index.js';

const PLACEHOLDER = /\{([A-Za-z_$][\w$]*(?:\.[\w$]+)*)\}/g;
const WHOLE = /^\{([A-Za-z_$][\w$]*(?:\.[\w$]+)*)\}$/;

export function hasPlaceholders(text: string): boolean {
  return new RegExp(PLACEHOLDER.source).test(text);
}

/** the value a placeholder names, or undefined */
export function lookup(record: SluiceRecord, path: string): unknown {
  const [head, ...rest] = path.split('.');
  let v: unknown;
  if (head === 'key' && rest.length === 0) return record.key;
  if (head === 'op' && rest.length === 0) return record.op;
  if (head === 'meta') v = record.meta;
  else if (head === 'value') v = record.value ?? record.before;
  else {
    v = (record.value ?? record.before ?? {})[head];
  }
  for (const p of rest) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[p] : undefined;
  return v;
}

export class MissingField extends Error {}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** fills a URL or header template; `encode` percent-encodes each value (URLs). A missing field throws MissingField. */
export function render(template: string, record: SluiceRecord, encode: boolean): string {
  return template.replace(PLACEHOLDER, (_m, path: string) => {
    const v = lookup(record, path);
    if (v === undefined || v === null) throw new MissingField(`the record has no ${path}`);
    return encode ? encodeURIComponent(text(v)) : text(v);
  });
}

/** fills a JSON body template (a parsed JSON value): whole-string placeholders keep their type */
export function renderJson(template: unknown, record: SluiceRecord): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE.exec(template);
    if (whole) {
      const v = lookup(record, whole[1]);
      return v === undefined ? null : v;
    }
    return template.replace(PLACEHOLDER, (_m, path: string) => {
      const v = lookup(record, path);
      return v === undefined || v === null ? '' : text(v);
    });
  }
  if (Array.isArray(template)) return template.map((t) => renderJson(t, record));
  if (template !== null && typeof template === 'object') return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderJson(v, record)]));
  return template;
}
