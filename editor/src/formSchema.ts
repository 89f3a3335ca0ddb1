/**
 * From a node type's JSON Schema to the inspector's form, by the UI hints the schema declares
 * (runtime/flow/ui-hints.ts) and its marks (code, connection, secret), at any depth: which widget,
 * which fields show for which mode, labels and short help; one text box for a union of scalars (no
 * number / string picker); readable names for the choices of a oneOf; env placeholders kept editable;
 * defaults and hidden fields not written into the document; server issues placed on their fields.
 */
import type { ErrorSchema, RJSFSchema, UiSchema } from '@rjsf/utils';
import type { FlowIssue } from './api.js';
import { SECRET_KEYWORD } from '../../runtime/secrets.js';
import { isShown, UI_KEYWORD, type UiHint, type UiWidget } from '../../runtime/flow/ui-hints.js';

type Props = Record<string, RJSFSchema>;
const isSchema = (v: unknown): v is RJSFSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** user code: the node schema marks it `.meta({ code: true })` (runtime/flow/schema-marks.ts), which the JSON Schema keeps */
export const isCodeField = (prop: RJSFSchema) => prop.type === 'string' && (prop as { code?: unknown }).code === true;

/** the name of a flow connection: marked `.meta({ connection: true })` */
export const isConnectionField = (prop: RJSFSchema) => prop.type === 'string' && (prop as { connection?: unknown }).connection === true;

/** `… Example: (value) => …` in a description becomes the code editor's placeholder */
export const exampleOf = (description: unknown) => /Example:\s*(.+)$/s.exec(String(description ?? ''))?.[1]?.trim();

const ENV = /\$\{env:[^}]+\}/;

/** the UI hint a property declares with `.meta(ui({…}))` */
export const hintOf = (prop: unknown): UiHint | undefined => (isSchema(prop) ? ((prop as Record<string, unknown>)[UI_KEYWORD] as UiHint | undefined) : undefined);

/** the widget: the hint's, else what the field's marks say */
export function widgetOf(prop: RJSFSchema): UiWidget | undefined {
  const hinted = hintOf(prop)?.widget;
  if (hinted) return hinted;
  if (isCodeField(prop)) return 'code';
  if (isConnectionField(prop)) return 'connection';
  if (prop[SECRET_KEYWORD] === true) return 'secret';
  return undefined;
}

const SCALARS = new Set(['string', 'number', 'integer', 'boolean']);
const isPlainScalar = (o: unknown) => isSchema(o) && typeof o.type === 'string' && SCALARS.has(o.type) && o.const === undefined && !o.enum;
/** `"public.orders" | ["a", "b"]`: one value or a list of them, typed as one comma-separated text */
export const isOneOrList = (p: RJSFSchema) => {
  const options = (p.anyOf ?? p.oneOf) as unknown[] | undefined;
  return (
    !!options &&
    options.length === 2 &&
    options.some((o) => isPlainScalar(o) && (o as RJSFSchema).type === 'string') &&
    options.some((o) => isSchema(o) && o.type === 'array' && isSchema(o.items) && o.items.type === 'string')
  );
};
/** `30000 | "30s"`: a union whose every choice is a plain value (or one-or-a-list), edited in one text box */
export const isScalarUnion = (p: RJSFSchema) => {
  const options = (p.anyOf ?? p.oneOf) as unknown[] | undefined;
  return !!options && options.length > 0 && (options.every(isPlainScalar) || isOneOrList(p));
};

/** a field's name in words: `keyColumn` → "Key column", `pollIntervalMs` → "Poll interval (ms)" */
export function labelOf(name: string, prop?: RJSFSchema): string {
  const hinted = hintOf(prop)?.label;
  if (hinted) return hinted;
  let words = name.replace(/_/g, ' ').replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  let unit = '';
  const m = / (ms|mb)$/.exec(words);
  if (m) {
    unit = ` (${m[1] === 'mb' ? 'MB' : 'ms'})`;
    words = words.slice(0, -m[0].length);
  }
  return words.charAt(0).toUpperCase() + words.slice(1) + unit;
}

/** the first sentence of a description, as the one line under a field when the schema gives no help */
const firstLine = (d: unknown) => {
  const text = typeof d === 'string' ? d : '';
  const cut = /[.;](\s|$)/.exec(text);
  return cut && cut.index < text.length - 1 ? text.slice(0, cut.index) : text;
};

/** the properties of an object schema and of each of its oneOf/anyOf/allOf choices */
function propertiesOf(s: RJSFSchema): Props {
  const out: Props = { ...((s.properties ?? {}) as Props) };
  for (const key of ['oneOf', 'anyOf', 'allOf'] as const) {
    for (const option of (s[key] ?? []) as unknown[]) if (isSchema(option)) Object.assign(out, propertiesOf(option));
  }
  return out;
}

/** a field that takes any JSON value (no type, no choices): edited as JSON text */
const isAnyValue = (p: RJSFSchema) => p.type === undefined && !p.oneOf && !p.anyOf && !p.allOf && !p.enum && !p.properties && !p.$ref;

const DURATION_PLACEHOLDER = 'e.g. 30s, 5m, 1h or 500 (ms)';

/** the widget part of one field's ui schema */
function widgetUi(prop: RJSFSchema): UiSchema {
  const hint = hintOf(prop);
  const widget = widgetOf(prop);
  const placeholder = hint?.placeholder;
  if (isScalarUnion(prop)) {
    return { 'ui:field': 'scalar', 'ui:fieldReplacesAnyOrOneOf': true, 'ui:placeholder': placeholder ?? (widget === 'duration' ? DURATION_PLACEHOLDER : '') };
  }
  switch (widget) {
    case 'code':
      return { 'ui:widget': 'code', 'ui:placeholder': placeholder ?? exampleOf(prop.description) ?? '' };
    case 'connection':
      return { 'ui:widget': 'connection' };
    // a field the node type declares secret (runtime/secrets.ts) is typed into a password input
    case 'secret':
      return { 'ui:widget': 'password' };
    case 'field':
      return prop.type === 'string' ? { 'ui:widget': 'field', ...(placeholder ? { 'ui:placeholder': placeholder } : {}) } : {};
    case 'duration':
      return { 'ui:placeholder': placeholder ?? DURATION_PLACEHOLDER };
    case 'textarea':
      return { 'ui:widget': 'textarea' };
    default:
      return placeholder ? { 'ui:placeholder': placeholder } : {};
  }
}

/** a union of shapes (a field name or an expression): each choice's own widgets, and a label for its select */
function choicesUi(s: RJSFSchema): UiSchema {
  const key = s.oneOf ? 'oneOf' : s.anyOf ? 'anyOf' : undefined;
  if (!key || isScalarUnion(s)) return {};
  const options = (s[key] as unknown[]).filter(isSchema);
  // the property whose constant tells the choices apart (mode: lookup | nest) names the select
  const discriminator = options.flatMap((o) => Object.entries((o.properties ?? {}) as Props)).find(([, p]) => isSchema(p) && p.const !== undefined)?.[0];
  return {
    [key]: options.map((o) => ({ ...uiFor(o), ...widgetUi(o), ...(typeof o.title === 'string' ? { 'ui:title': o.title } : {}) })),
    'ui:choiceLabel': discriminator ? labelOf(discriminator) : 'Kind',
  };
}

function uiFor(s: RJSFSchema): UiSchema {
  const ui: UiSchema = { ...choicesUi(s) };
  for (const [name, prop] of Object.entries(propertiesOf(s))) {
    if (!isSchema(prop)) continue;
    const words = { 'ui:title': labelOf(name, prop), 'ui:help': hintOf(prop)?.help ?? firstLine(prop.description) };
    // a constant is the choice of a oneOf (mode: lookup), picked with the choice's select
    if (prop.const !== undefined) ui[name] = { 'ui:widget': 'hidden' };
    else if (isAnyValue(prop)) ui[name] = { ...words, 'ui:field': 'json' };
    else if (prop.type === 'array' && isSchema(prop.items)) {
      const items = { ...uiFor(prop.items), ...widgetUi(prop.items), 'ui:choiceLabel': labelOf(name, prop) };
      if (widgetOf(prop) === 'fields' && (prop.items as RJSFSchema).type === 'string') items['ui:widget'] = 'field';
      ui[name] = Object.keys(items).length ? { ...words, items } : words;
    } else ui[name] = { ...uiFor(prop), ...words, ...widgetUi(prop) };
  }
  return ui;
}

/** "Option 1 / Option 2" say nothing: a choice is named by its constant (mode: lookup) or its type */
function nameChoices(s: RJSFSchema): void {
  for (const key of ['oneOf', 'anyOf'] as const) {
    for (const option of (s[key] ?? []) as unknown[]) {
      if (!isSchema(option)) continue;
      const hinted = hintOf(option)?.title;
      if (hinted) option.title = hinted;
      if (option.title) continue;
      const constant = Object.values((option.properties ?? {}) as Props).find((p) => isSchema(p) && typeof p.const === 'string')?.const;
      if (typeof constant === 'string') option.title = constant;
      else if (typeof option.description === 'string' && option.description.length <= 40) option.title = option.description;
      else if (typeof option.type === 'string') option.title = option.type === 'object' ? 'settings' : option.type;
    }
  }
  for (const value of Object.values(s)) {
    if (Array.isArray(value)) value.forEach((v) => isSchema(v) && nameChoices(v));
    else if (isSchema(value)) nameChoices(value);
  }
}

export function formFor(configSchema: Record<string, unknown>, config: Record<string, unknown>): { schema: RJSFSchema; uiSchema: UiSchema } {
  const { $schema: _drop, ...rest } = configSchema as RJSFSchema & { $schema?: string };
  const schema: RJSFSchema = structuredClone(rest);
  nameChoices(schema);
  const props = (schema.properties ?? {}) as Props;
  // `${env:NAME}` in a number or boolean field: keep it editable as text rather than lose it
  for (const [name, prop] of Object.entries(props)) {
    const v = config[name];
    if (isSchema(prop) && typeof v === 'string' && ENV.test(v) && prop.type !== 'string') {
      props[name] = { type: 'string', title: prop.title, description: `${prop.description ?? ''} (set from the environment)`.trim() };
    }
  }
  return { schema, uiSchema: { ...uiFor(schema), 'ui:submitButtonOptions': { norender: true } } };
}

/** true when the schema has nothing to fill in */
export const hasNoSettings = (schema: RJSFSchema) => Object.keys(propertiesOf(schema)).length === 0;

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The config to store after a form change: what the form filled in by itself stays out of the document
 * unless the document held it before — a value equal to its default, and an optional object holding
 * nothing but defaults (`tls: { rejectUnauthorized: true }` would turn TLS on).
 */
export function pruneDefaults(next: Record<string, unknown>, before: Record<string, unknown>, schema: RJSFSchema): Record<string, unknown> {
  const props = propertiesOf(schema);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(next ?? {})) {
    if (v === undefined) continue;
    const p = props[k];
    const had = isPlainObject(before) && k in before;
    if (!had && p?.default !== undefined && deepEqual(v, p.default)) continue;
    if (isPlainObject(v) && p && (p.properties || p.oneOf || p.anyOf)) {
      const inner = pruneDefaults(v, isPlainObject(before?.[k]) ? before[k] : {}, p);
      if (!had && Object.keys(inner).length === 0) continue;
      out[k] = inner;
      continue;
    }
    out[k] = v;
  }
  return out;
}

/** server issues `nodes[x].config.keys[0]` → rjsf's error schema, so each shows under its field */
export function errorsFor(issues: readonly FlowIssue[] | undefined, nodeId: string): { fieldErrors: ErrorSchema; other: FlowIssue[] } {
  const fieldErrors: Record<string, unknown> = {};
  const other: FlowIssue[] = [];
  const prefix = `nodes[${nodeId}].config.`;
  for (const issue of issues ?? []) {
    if (!issue.path.startsWith(prefix)) {
      other.push(issue);
      continue;
    }
    const path = issue.path.slice(prefix.length).split(/[.[\]]+/).filter(Boolean);
    let at = fieldErrors as Record<string, unknown>;
    for (const seg of path) at = (at[seg] ??= {}) as Record<string, unknown>;
    ((at.__errors ??= []) as string[]).push(issue.message);
  }
  return { fieldErrors: fieldErrors as ErrorSchema, other };
}

/** the default of the field a `showWhen` key names: a sibling, or `/a/b` from the top of the config */
function defaultAt(key: string, siblings: Props, rootSchema: RJSFSchema): unknown {
  if (!key.startsWith('/')) return siblings[key]?.default;
  let at: RJSFSchema | undefined = rootSchema;
  for (const part of key.slice(1).split('/')) at = at ? propertiesOf(at)[part] : undefined;
  return at?.default;
}

/** whether a property shows, given the object it sits in and the whole config */
export function shows(prop: RJSFSchema | undefined, here: unknown, siblings: Props, root: unknown, rootSchema: RJSFSchema): boolean {
  return isShown(hintOf(prop), here, root, (key) => defaultAt(key, siblings, rootSchema));
}

/** the config without the values of fields their hint hides now (a window size while the window type is none) */
export function dropHidden(value: unknown, schema: RJSFSchema, root: unknown = value, rootSchema: RJSFSchema = schema): unknown {
  if (Array.isArray(value)) return isSchema(schema.items) ? value.map((v) => dropHidden(v, schema.items as RJSFSchema, root, rootSchema)) : value;
  if (!isPlainObject(value)) return value;
  const props = propertiesOf(schema);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const p = props[k];
    if (p && !shows(p, value, props, root, rootSchema)) continue;
    out[k] = p ? dropHidden(v, p, root, rootSchema) : v;
  }
  return out;
}

/** a validation message as a sentence about the field: `required` → "Path is required" */
export function inWords(label: string, message: string): string {
  const sentence = (t: string) => t.charAt(0).toUpperCase() + t.slice(1);
  if (message === 'required' || /^Too small: expected string to have >=1 characters?$/.test(message)) return `${label} is required`;
  if (/^required\b/.test(message)) return `${label} is ${message}`;
  let m = /^Too small: expected array to have >=(\d+) items?$/.exec(message);
  if (m) return `${label} needs at least ${m[1]} item${m[1] === '1' ? '' : 's'}`;
  m = /^Invalid option: expected one of (.+)$/.exec(message);
  if (m) return `${label} must be one of ${m[1].replace(/\|/g, ', ')}`;
  m = /^Invalid input: expected (\w+), received (\w+)$/.exec(message);
  if (m) return `${label} must be ${/^[aeiou]/.test(m[1]) ? 'an' : 'a'} ${m[1]}, not ${/^[aeiou]/.test(m[2]) ? 'an' : 'a'} ${m[2]}`;
  m = /^Too (small|big): expected (?:number|int) to be ([<>]=?)\s*(\S+)$/.exec(message);
  if (m) return `${label} must be ${m[2].startsWith('>') ? 'at least' : 'at most'} ${m[3]}`;
  if (message === 'Invalid input') return `${label} does not have a value of an accepted form`;
  if (/^(must|does|only|is|needs|cannot|puts)\b/.test(message)) return `${label} ${message}`;
  return `${label}: ${message.length > 0 ? message.charAt(0).toLowerCase() + message.slice(1) : message}`.replace(/^./, (c) => sentence(c));
}

/** `['measures', 0, 'name']` → `nodes[agg].config.measures[0].name`, the path validation reports */
export function rawPath(nodeId: string, path: readonly (string | number)[]): string {
  return `nodes[${nodeId}].config` + path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
}

/** a value in a few words: `orders`, `country, region`, `2 items` */
function brief(v: unknown): string | undefined {
  if (typeof v === 'string' || typeof v === 'number') return String(v);
  if (Array.isArray(v)) {
    const names = v.map((x) => (typeof x === 'string' ? x : x && typeof x === 'object' && typeof (x as { name?: unknown }).name === 'string' ? (x as { name: string }).name : undefined));
    return names.every((n) => n !== undefined) && names.length > 0 ? names.join(', ') : v.length ? `${v.length} items` : undefined;
  }
  return undefined;
}

/**
 * A node's config in one line for the canvas: the fields its schema marks `summary`, else its first
 * required text field that has a value (not code, a connection or a secret; a path only when nothing
 * else): `table: orders`, `group by: country`.
 */
export function summaryOf(configSchema: Record<string, unknown> | undefined, config: Record<string, unknown>): string | undefined {
  if (!configSchema) return undefined;
  const props = propertiesOf(configSchema as RJSFSchema);
  const marked = Object.keys(props).filter((k) => hintOf(props[k])?.summary);
  const required = new Set<string>(((configSchema as RJSFSchema).required as string[] | undefined) ?? []);
  const plain = (k: string) => {
    const p = props[k];
    const w = widgetOf(p);
    return (p.type === 'string' || isOneOrList(p)) && w !== 'code' && w !== 'connection' && w !== 'secret';
  };
  // a path (marked `file`) says less than a table or a topic: it comes last
  const isFile = (k: string) => (props[k] as { file?: unknown }).file !== undefined;
  const has = (k: string) => brief(config[k] ?? props[k].default) !== undefined;
  const candidates = Object.keys(props).filter((k) => required.has(k) && plain(k) && has(k));
  const keys = marked.length ? marked : [...candidates.filter((k) => !isFile(k)), ...candidates.filter(isFile)].slice(0, 1);
  const parts = keys.flatMap((k) => {
    const v = brief(config[k] ?? props[k].default);
    return v ? [`${labelOf(k, props[k]).toLowerCase()}: ${v}`] : [];
  });
  return parts.length ? parts.join(' · ') : undefined;
}
