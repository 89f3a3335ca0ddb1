/**
 * How the editor lays out a node's config form, declared in the node's zod schema with
 * `.meta(ui({ … }))`. The JSON Schema keeps the hint under the `ui` keyword and the editor's one form
 * renderer reads it for every node type, so no node ships UI code. Pure data: the runtime ignores it.
 *
 *   table: z.string().meta(ui({ widget: 'field', order: 1, help: 'the table to write' }))
 *   slide: duration.meta(ui({ widget: 'duration', showWhen: { type: 'hopping' }, group: 'window' }))
 *
 * The code, connection and secret widgets follow from the marks those fields already carry (CODE_MARK,
 * CONNECTION_MARK, `secret()`); a hint only names a widget where the schema alone cannot say it.
 */

/** the keyword the JSON Schema carries the hint under */
export const UI_KEYWORD = 'ui';

/**
 * code: the code editor; duration: one text box for `30s`, `5m` or plain milliseconds (no number /
 * string picker); field: the name of a field of the incoming records (offered from the data); fields:
 * a list of such names; connection: a flow connection picker; secret: a password box; textarea: long
 * text; text: a plain text box (where a shared field helper would pick another).
 */
export type UiWidget = 'code' | 'duration' | 'field' | 'fields' | 'connection' | 'secret' | 'textarea' | 'text';

type Scalar = string | number | boolean;
/** a value the other field must hold, one of several, or `{ not: … }` */
export type UiCondition = Scalar | readonly Scalar[] | { not: Scalar | readonly Scalar[] };

export interface UiHint {
  /** the field's label; by default its name in words (`keyColumn` → "Key column") */
  label?: string;
  /** one short line under the field; the description stays for the docs and the tooltip */
  help?: string;
  widget?: UiWidget;
  placeholder?: string;
  /**
   * show the field only while other fields hold these values (all must match). A key names a field of
   * the same object (`type`), or with a leading `/` a path from the top of the config (`/window/type`).
   * A hidden field's value is dropped from the config.
   */
  showWhen?: Record<string, UiCondition>;
  /** position among its siblings, lowest first; fields without one keep the schema's order, after them */
  order?: number;
  /** fields of one group are shown together under its name; the group `advanced` starts folded */
  group?: string;
  /** for a choice between shapes (a field name or an expression): what this option is called */
  title?: string;
  /** the field's value is the node's one-line summary on the canvas (by default: its first required text field) */
  summary?: boolean;
}

/** the `.meta()` argument for a hint: `.meta(ui({ widget: 'duration' }))`, or spread beside a mark */
export const ui = (hint: UiHint) => ({ [UI_KEYWORD]: hint }) as { ui: UiHint };

/** the group that starts folded in the form */
export const ADVANCED = 'advanced';

/** the value at `/a/b` (root-relative) or `a` (a sibling in `here`) */
function lookup(key: string, here: unknown, root: unknown): unknown {
  const [from, parts] = key.startsWith('/') ? [root, key.slice(1).split('/')] : [here, [key]];
  let at: unknown = from;
  for (const p of parts) at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[p] : undefined;
  return at;
}

const matches = (value: unknown, want: Scalar | readonly Scalar[]) => (Array.isArray(want) ? want.includes(value as Scalar) : value === want);

/**
 * whether a field with this hint shows, given the object it sits in and the whole config. A field whose
 * condition names a value that is absent compares with that field's default (`defaultOf`).
 */
export function isShown(hint: UiHint | undefined, here: unknown, root: unknown, defaultOf: (key: string) => unknown = () => undefined): boolean {
  if (!hint?.showWhen) return true;
  for (const [key, cond] of Object.entries(hint.showWhen)) {
    let value = lookup(key, here, root);
    if (value === undefined) value = defaultOf(key);
    const ok = typeof cond === 'object' && cond !== null && !Array.isArray(cond) ? !matches(value, (cond as { not: Scalar | readonly Scalar[] }).not) : matches(value, cond as Scalar | readonly Scalar[]);
    if (!ok) return false;
  }
  return true;
}
