/**
 * From a node type's JSON Schema to the inspector's form: which fields get the code editor or the
 * connection picker (at any depth: aggregate measures, denormalize lookups), readable names for the
 * choices of a oneOf, env placeholders kept editable, defaults not written into the document unasked,
 * and server validation issues placed on the fields they name.
 */
import type { ErrorSchema, RJSFSchema, UiSchema } from '@rjsf/utils';
import type { FlowIssue } from './api.js';
import { SECRET_KEYWORD } from '../../runtime/secrets.js';

type Props = Record<string, RJSFSchema>;
const isSchema = (v: unknown): v is RJSFSchema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** user code: the node schema marks it `.meta({ code: true })` (runtime/flow/schema-marks.ts), which the JSON Schema keeps */
export const isCodeField = (prop: RJSFSchema) => prop.type === 'string' && (prop as { code?: unknown }).code === true;

/** the name of a flow connection: marked `.meta({ connection: true })` */
export const isConnectionField = (prop: RJSFSchema) => prop.type === 'string' && (prop as { connection?: unknown }).connection === true;

/** `… Example: (value) => …` in a description becomes the code editor's placeholder */
export const exampleOf = (description: unknown) => /Example:\s*(.+)$/s.exec(String(description ?? ''))?.[1]?.trim();

const ENV = /\$\{env:[^}]+\}/;

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

function uiFor(s: RJSFSchema): UiSchema {
  const ui: UiSchema = {};
  for (const [name, prop] of Object.entries(propertiesOf(s))) {
    if (!isSchema(prop)) continue;
    // a constant is the choice of a oneOf (mode: lookup), picked with the choice's select
    if (prop.const !== undefined) ui[name] = { 'ui:widget': 'hidden' };
    else if (isAnyValue(prop)) ui[name] = { 'ui:field': 'json' };
    // a field the node type declares secret (runtime/secrets.ts) is typed into a password input
    else if (prop[SECRET_KEYWORD] === true) ui[name] = { 'ui:widget': 'password' };
    else if (isCodeField(prop)) ui[name] = { 'ui:widget': 'code', 'ui:placeholder': exampleOf(prop.description) ?? '' };
    else if (isConnectionField(prop)) ui[name] = { 'ui:widget': 'connection' };
    else if (prop.type === 'array' && isSchema(prop.items)) {
      const items = uiFor(prop.items);
      if (Object.keys(items).length) ui[name] = { items };
    } else {
      const nested = uiFor(prop);
      if (Object.keys(nested).length) ui[name] = nested;
    }
  }
  return ui;
}

/** "Option 1 / Option 2" say nothing: a choice is named by its constant (mode: lookup) or its type */
function nameChoices(s: RJSFSchema): void {
  for (const key of ['oneOf', 'anyOf'] as const) {
    for (const option of (s[key] ?? []) as unknown[]) {
      if (!isSchema(option) || option.title) continue;
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
