/**
 * The node reference (docs/nodes.md) written from the registered node types: each type's ports and its
 * config fields — type, default, required, secret / file / code / connection marks, description — read
 * from the JSON Schema the registry exports, the same one the editor renders its forms from. Nothing
 * here knows a node type: a new one is documented by registering it. `sluice nodes --markdown` prints it.
 */
import type { PortSpec } from './node-api.js';
import type { NodeTypeInfo } from './registry.js';
import { SECRET_KEYWORD, URL_PASSWORD_KEYWORD } from './secrets.js';

/** the command that writes docs/nodes.md; the staleness test names it */
export const NODE_REFERENCE_COMMAND = 'npm run docs';

type Schema = Record<string, unknown>;

const isSchema = (v: unknown): v is Schema => v !== null && typeof v === 'object' && !Array.isArray(v);

/** text for one table cell: no line breaks, pipes escaped */
const cell = (s: string) => s.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');

const code = (v: unknown) => `\`${typeof v === 'string' ? v : JSON.stringify(v)}\``;

/** the options of a union (anyOf / oneOf), or the schema alone */
function options(s: Schema): Schema[] {
  const list = (s.anyOf ?? s.oneOf) as unknown[] | undefined;
  return Array.isArray(list) ? list.filter(isSchema) : [s];
}

/** a short type: `string`, `integer`, `` `a` \| `b` ``, `string[]`, `object`, `map of string`, `string or string[]` */
export function typeText(s: Schema): string {
  if (Array.isArray(s.enum)) return s.enum.map(code).join(' | ');
  if ('const' in s) return code(s.const);
  const opts = options(s);
  if (opts.length > 1 || opts[0] !== s) return [...new Set(opts.map(typeText))].join(' or ');
  const t = s.type;
  if (Array.isArray(t)) return t.join(' or ');
  if (t === 'array') return isSchema(s.items) ? `${wrap(typeText(s.items))}[]` : 'array';
  if (t === 'object' && !isSchema(s.properties) && isSchema(s.additionalProperties)) return `map of ${typeText(s.additionalProperties)}`;
  return typeof t === 'string' ? t : 'any';
}

const wrap = (t: string) => (/ (or|\|) /.test(t) ? `(${t})` : t);

/** bounds and lengths worth knowing when filling a field */
function limits(s: Schema): string[] {
  const out: string[] = [];
  const range = (lo: unknown, hi: unknown, what: string) => {
    // zod's int() bounds every integer by the safe range: not worth a note
    if (lo === -Number.MAX_SAFE_INTEGER) lo = undefined;
    if (hi === Number.MAX_SAFE_INTEGER) hi = undefined;
    if (lo !== undefined && hi !== undefined) out.push(`${what}${lo}–${hi}`);
    else if (lo !== undefined) out.push(`${what}≥ ${lo}`);
    else if (hi !== undefined) out.push(`${what}≤ ${hi}`);
  };
  range(s.minimum ?? s.exclusiveMinimum, s.maximum ?? s.exclusiveMaximum, '');
  if (s.type === 'array') range(s.minItems, s.maxItems, 'items ');
  if (typeof s.pattern === 'string') out.push(`pattern ${code(s.pattern)}`);
  return out;
}

/** the marks a field's schema (or an option of it) carries: what the host treats specially */
function marks(s: Schema): string[] {
  const found = new Set<string>();
  for (const o of [s, ...options(s)]) {
    if (o[SECRET_KEYWORD]) found.add('secret');
    if (o[URL_PASSWORD_KEYWORD]) found.add('secret (URL password)');
    if (typeof o.file === 'string') found.add(`file (${o.file})`);
    if (o.code) found.add('code (sandboxed)');
    if (o.connection) found.add('connection name');
  }
  return [...found];
}

interface Row {
  path: string;
  type: string;
  default?: unknown;
  required: boolean;
  notes: string[];
  description: string;
}

/** the object schemas whose fields are listed under a field: its own, its items', its union options' */
function nested(s: Schema): Schema[] {
  const out: Schema[] = [];
  for (const o of options(s)) {
    if (isSchema(o.properties)) out.push(o);
    else if (o.type === 'array' && isSchema(o.items)) for (const i of options(o.items)) if (isSchema(i.properties)) out.push(i);
  }
  return out;
}

/** every field of an object schema, nested fields as `a.b` (`a[].b` inside a list), each path once */
export function fieldRows(schema: Schema, prefix = '', seen = new Map<string, Row>(), depth = 0): Row[] {
  const rows: Row[] = [];
  if (depth > 8 || !isSchema(schema.properties)) return rows;
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  for (const [name, raw] of Object.entries(schema.properties)) {
    if (!isSchema(raw)) continue;
    const path = `${prefix}${name}`;
    const known = seen.get(path);
    if (known) {
      // the same field in another shape of a union: it may take other values there (`mode: nest`)
      const type = typeText(raw);
      if (!known.type.split(' or ').includes(type)) known.type += ` or ${type}`;
    } else {
      const description = typeof raw.description === 'string' ? raw.description : (options(raw).find((o) => typeof o.description === 'string')?.description as string | undefined) ?? '';
      const row: Row = { path, type: typeText(raw), default: raw.default, required: required.has(name), notes: [...marks(raw), ...limits(raw)], description };
      seen.set(path, row);
      rows.push(row);
    }
    const isList = options(raw).some((o) => o.type === 'array');
    for (const inner of nested(raw)) rows.push(...fieldRows(inner, `${path}${isList ? '[]' : ''}.`, seen, depth + 1));
  }
  return rows;
}

function ports(list: PortSpec[]): string {
  if (list.length === 0) return 'none';
  return list.map((p) => `${code(p.name)}${p.required ? ' (required)' : ''}${p.description ? `: ${p.description}` : ''}`).join('; ');
}

function section(t: NodeTypeInfo): string {
  const lines = [`## ${t.type}`, '', `**${t.title}** (${t.category}). ${t.description}`, ''];
  lines.push(`- Inputs: ${ports(t.inputs)}`);
  if (t.inputsBy) {
    for (const [value, list] of Object.entries(t.inputsBy.cases)) lines.push(`  - with ${code(t.inputsBy.field)} ${code(value)}: ${ports(list)}`);
  }
  lines.push(`- Outputs: ${ports(t.outputs)}`, '');
  const seen = new Map<string, Row>();
  // a config that is a union (one shape per mode) lists the fields of every shape
  const rows = isSchema(t.configSchema) ? nested(t.configSchema).flatMap((shape) => fieldRows(shape, '', seen)) : [];
  if (rows.length === 0) {
    lines.push('No config fields.', '');
    return lines.join('\n');
  }
  lines.push('| field | type | default | required | notes | description |', '|---|---|---|---|---|---|');
  for (const r of rows) {
    const dflt = r.default === undefined ? '' : code(r.default);
    lines.push(`| ${cell(code(r.path))} | ${cell(r.type)} | ${cell(dflt)} | ${r.required ? 'yes' : ''} | ${cell(r.notes.join(', '))} | ${cell(r.description)} |`);
  }
  lines.push('');
  return lines.join('\n');
}

/** the whole reference, one section per node type in catalog order */
export function nodeReference(catalog: NodeTypeInfo[]): string {
  const head = [
    '# Node reference',
    '',
    `<!-- Written from the node types' config schemas by \`sluice nodes --markdown\`; do not edit by hand: run \`${NODE_REFERENCE_COMMAND}\`. -->`,
    '',
    'Every node type the runtime registers, with its ports and config fields. A field marked *secret* is',
    'handled as a secret (see the README\'s Security section); *file* paths go through the host\'s file roots;',
    '*code* runs in the sandbox; a *connection name* refers to the flow\'s `connections:`. Nested fields are',
    'written `a.b` (`a[].b` for the fields of each item of a list).',
    '',
    ...catalog.map((t) => `- [${t.type}](#${t.type.replace(/[^a-z0-9-]/gi, '').toLowerCase()}): ${t.title}`),
    '',
  ];
  return `${[...head, ...catalog.map(section)].join('\n').trimEnd()}\n`;
}
