/**
 * Validation of a flow document: structure, env placeholders, each node's config against its type's
 * schema, and the graph (ids, edges, ports, cycles, wiring). Pure, shared by runtime, server and editor.
 * Every issue names where it is: `nodes[enrich].config.keys[0]`, `edges[2].to`.
 */
import type { z } from 'zod';
import { Cron } from 'croner';
import type { FlowIssue } from '../errors.js';
import type { NodeType } from '../node-api.js';
import { inputsOf, isSinkType, isSourceType } from '../node-api.js';
import type { HostPolicy } from '../host-policy.js';
import type { NodeRegistry } from '../registry.js';
import { checkShape, LIMITS, quoteShort, shortKey } from './limits.js';
import { envRefusal, resolveEnv, type EnvGate, type EnvProblem } from './env.js';
import { inlineSecrets } from './inline-secrets.js';
import { markedFields } from './schema-marks.js';
import { parseFlowText } from './parse.js';
import { DEFAULT_IN, DEFAULT_OUT, flowSchema, type FlowDocument, type FlowEdge } from './schema.js';

export interface ValidateOptions {
  env?: Record<string, string | undefined>;
  /** what the host lets the flow reach (env names, files); absent: everything */
  policy?: HostPolicy;
  /** source text line lookup, when the document came from text */
  locate?: (path: (string | number)[]) => number | undefined;
}

export interface ResolvedEdge extends FlowEdge {
  fromPort: string;
  toPort: string;
  index: number;
}

export interface ValidationResult {
  issues: FlowIssue[];
  /** the document with env resolved and defaults applied; set when there is no error */
  flow?: FlowDocument;
  /** each node's config parsed by its type's schema */
  configs?: Map<string, unknown>;
  edges?: ResolvedEdge[];
}

export function hasErrors(issues: FlowIssue[]): boolean {
  return issues.some((i) => i.severity === 'error');
}

/** `['nodes', 3, 'config', 'keys', 0]` → `nodes[enrich].config.keys[0]` */
export function formatPath(path: readonly PropertyKey[], raw: unknown): string {
  let out = '';
  const nodes = (raw as { nodes?: unknown })?.nodes;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    if (i === 1 && path[0] === 'nodes' && typeof seg === 'number' && Array.isArray(nodes)) {
      const id = (nodes[seg] as { id?: unknown } | undefined)?.id;
      out += typeof id === 'string' && id && id.length <= LIMITS.nameLength ? `[${id}]` : `[${seg}]`;
    } else if (typeof seg === 'number') out += `[${seg}]`;
    else out += out ? `.${shortKey(String(seg))}` : shortKey(String(seg));
  }
  return out;
}

function nodeIdAt(path: readonly PropertyKey[], raw: unknown): string | undefined {
  if (path[0] !== 'nodes' || typeof path[1] !== 'number') return undefined;
  const id = ((raw as { nodes?: { id?: unknown }[] }).nodes?.[path[1]] as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' ? id : undefined;
}

/** a zod issue as one short line (shared with the server's request-body checks) */
export function zodMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && (issue as { input?: unknown }).input === undefined) return 'required';
  if (issue.code === 'invalid_key' && issue.issues[0]) return `the key: ${zodMessage(issue.issues[0])}`;
  if (issue.code === 'unrecognized_keys') {
    const shown = issue.keys.slice(0, 5).map((k) => quoteShort(k, 40));
    const more = issue.keys.length > shown.length ? ` and ${issue.keys.length - shown.length} more` : '';
    return `unknown field${issue.keys.length > 1 ? 's' : ''} ${shown.join(', ')}${more}`;
  }
  return issue.message;
}

export function validateFlowText(text: string, registry: NodeRegistry, options: ValidateOptions & { fileName?: string } = {}): ValidationResult {
  const parsed = parseFlowText(text, options.fileName);
  if (!parsed.ok) return { issues: parsed.issues };
  return validateFlow(parsed.parsed.value, registry, { ...options, locate: parsed.parsed.locate });
}

export function validateFlow(raw: unknown, registry: NodeRegistry, options: ValidateOptions = {}): ValidationResult {
  const issues: FlowIssue[] = [];
  const locate = options.locate ?? (() => undefined);
  const add = (path: (string | number)[], message: string, severity: 'error' | 'warning' = 'error', nodeId?: string) =>
    issues.push({ path: formatPath(path, raw), message, severity, nodeId: nodeId ?? nodeIdAt(path, raw), line: locate(path) });

  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    add([], 'a flow document must be an object with apiVersion, name, nodes and edges');
    return { issues };
  }
  // 0. plain, bounded data: deeper steps recurse and echo what they find
  const shape = checkShape(raw);
  if (shape) {
    add(shape.path, shape.message);
    return { issues };
  }

  // 1. ${env:NAME} placeholders
  const envProblems: EnvProblem[] = [];
  const resolved = resolveEnv(raw, options.env ?? {}, envProblems, [], envGate(raw as Record<string, unknown>, registry, options.policy));
  for (const p of envProblems) add(p.path, p.message ?? `environment variable ${p.name} is not set`);

  // 2. document structure
  const structure = flowSchema.safeParse(resolved, { reportInput: true });
  if (!structure.success) {
    for (const zi of structure.error.issues) add(zi.path as (string | number)[], zodMessage(zi));
    return { issues };
  }
  const flow = structure.data;

  // 3. nodes: ids, types, configs
  const types = new Map<string, NodeType>();
  const configs = new Map<string, unknown>();
  const seen = new Map<string, number>();
  flow.nodes.forEach((node, i) => {
    if (seen.has(node.id)) add(['nodes', i, 'id'], `duplicate node id "${node.id}" (also nodes[${seen.get(node.id)}])`, 'error', node.id);
    else seen.set(node.id, i);
    const type = registry.get(node.type);
    if (!type) {
      const family = node.type.split('.')[0];
      const near = registry.list().filter((t) => t.type.startsWith(`${family}.`)).map((t) => t.type);
      add(['nodes', i, 'type'], `unknown node type "${node.type}"${near.length ? ` (known in ${family}: ${near.join(', ')})` : ' (see `sluice nodes`)'}`);
      return;
    }
    types.set(node.id, type);
    const config = type.configSchema.safeParse(node.config, { reportInput: true });
    if (config.success) configs.set(node.id, config.data);
    else for (const zi of config.error.issues) add(['nodes', i, 'config', ...(zi.path as (string | number)[])], zodMessage(zi));
  });

  // 3a. secrets written out in the document (as sent: before env placeholders are resolved)
  if (options.policy?.inlineSecrets === 'refuse') {
    for (const { path, message } of inlineSecrets(raw as Record<string, unknown>, registry)) add(path, message);
  }

  // 3b. file paths (nodes and connections) inside the host's file roots
  if (options.policy?.files) {
    for (const { path, message } of fileProblems(flow, configs, types, registry, options.policy)) add(path, message);
  }

  // 4. edges: endpoints and ports
  const edges: ResolvedEdge[] = [];
  const indexOf = (id: string) => flow.nodes.findIndex((n) => n.id === id);
  flow.edges.forEach((edge, i) => {
    let ok = true;
    for (const end of ['from', 'to'] as const) {
      if (!seen.has(edge[end])) {
        add(['edges', i, end], `no node with id "${edge[end]}"`);
        ok = false;
      }
    }
    if (!ok) return;
    const fromType = types.get(edge.from);
    const toType = types.get(edge.to);
    if (!fromType || !toType) return; // unknown type already reported
    if (isSinkType(fromType)) {
      add(['edges', i, 'from'], `"${edge.from}" is a sink (${fromType.type}): it has no output to wire`, 'error', edge.from);
      ok = false;
    }
    if (isSourceType(toType)) {
      add(['edges', i, 'to'], `"${edge.to}" is a source (${toType.type}): it takes no input`, 'error', edge.to);
      ok = false;
    }
    if (!ok) return;
    const fromPort = edge.fromPort ?? (fromType.outputs.some((p) => p.name === DEFAULT_OUT) ? DEFAULT_OUT : fromType.outputs[0].name);
    if (!fromType.outputs.some((p) => p.name === fromPort)) {
      add(['edges', i, 'fromPort'], `"${edge.from}" (${fromType.type}) has no output port "${fromPort}"; ports: ${fromType.outputs.map((p) => p.name).join(', ')}`);
      return;
    }
    const toInputs = inputsOf(toType, configs.get(edge.to));
    let toPort = edge.toPort;
    if (toPort === undefined) {
      if (toInputs.length === 1) toPort = toInputs[0].name;
      else if (toInputs.some((p) => p.name === DEFAULT_IN)) toPort = DEFAULT_IN;
      else {
        add(['edges', i], `"${edge.to}" (${toType.type}) has several inputs: name one with toPort (${toInputs.map((p) => p.name).join(', ')})`);
        return;
      }
    }
    if (!toInputs.some((p) => p.name === toPort)) {
      const hint = toInputs === toType.inputs ? '' : ' with this config';
      add(['edges', i, 'toPort'], `"${edge.to}" (${toType.type}) has no input port "${toPort}"${hint}; ports: ${toInputs.map((p) => p.name).join(', ')}`);
      return;
    }
    if (edges.some((e) => e.from === edge.from && e.to === edge.to && e.fromPort === fromPort && e.toPort === toPort)) {
      add(['edges', i], `duplicate edge ${edge.from} → ${edge.to}: records would arrive twice`);
      return;
    }
    edges.push({ ...edge, fromPort, toPort, index: i });
  });

  // 5. required inputs wired, outputs going somewhere
  for (const [id, type] of types) {
    const i = indexOf(id);
    const inputs = inputsOf(type, configs.get(id));
    for (const port of inputs) {
      if (port.required !== false && !edges.some((e) => e.to === id && e.toPort === port.name)) {
        add(['nodes', i], inputs.length === 1 ? `input is not wired: connect a node into "${id}"` : `input port "${port.name}" is not wired${port.description ? ` (${port.description})` : ''}`);
      }
    }
    if (!isSinkType(type) && !edges.some((e) => e.from === id && e.fromPort !== 'error')) {
      add(['nodes', i], `output is not wired: the records of "${id}" go nowhere`, 'warning');
    }
  }

  // 5a. a schedule that can be read
  if (flow.settings.schedule) for (const p of scheduleProblems(flow.settings.schedule)) add(['settings', 'schedule', p.field], p.message);

  // 6. cycles
  const cycle = findCycle(flow.nodes.map((n) => n.id), edges);
  if (cycle) add(['edges'], `cycle: ${cycle.join(' → ')} (a flow must be a directed acyclic graph)`, 'error', cycle[0]);

  if (hasErrors(issues)) return { issues };
  return { issues, flow, configs, edges };
}

/** the cron pattern and time zone of a schedule, checked by the library that runs them (croner) */
function scheduleProblems(s: { cron: string; timezone?: string }): { field: string; message: string }[] {
  try {
    new Cron(s.cron, { paused: true }).stop();
  } catch (err) {
    return [{ field: 'cron', message: `${(err as Error).message.replace(/^CronPattern: /, '')} (e.g. "0 * * * *": every hour)` }];
  }
  if (s.timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: s.timezone });
    } catch {
      return [{ field: 'timezone', message: `unknown time zone ${JSON.stringify(s.timezone)}: an IANA name such as "Europe/Paris" or "UTC"` }];
    }
  }
  return [];
}

const startsWith = (path: (string | number)[], prefix: (string | number)[]) => prefix.every((seg, i) => path[i] === seg);

/** where the raw document holds user code (fields marked `.meta({ code: true })`), as paths */
function codePaths(raw: Record<string, unknown>, registry: NodeRegistry): (string | number)[][] {
  const nodes = Array.isArray(raw.nodes) ? (raw.nodes as unknown[]) : [];
  return nodes.flatMap((node, i) => {
    const n = node as { type?: unknown; config?: unknown } | null;
    const type = typeof n?.type === 'string' ? registry.get(n.type) : undefined;
    if (!type || n?.config === undefined) return [];
    return markedFields(type.configSchema, n.config, 'code').map((f) => ['nodes', i, 'config', ...f.path]);
  });
}

/** under an env policy: refused names, and any placeholder inside code */
function envGate(raw: Record<string, unknown>, registry: NodeRegistry, policy: HostPolicy | undefined): EnvGate | undefined {
  const env = policy?.env;
  if (!env) return undefined;
  const code = codePaths(raw, registry);
  return (name, path) =>
    code.some((c) => startsWith(path, c))
      ? `\${env:${name}} cannot be used in code: user code never reads the host's environment (pass the value through a config field, or compute it in the code)`
      : envRefusal(env, name);
}

/**
 * every path field (marked `.meta({ file })`) the host's file policy refuses: in the nodes' configs,
 * and in the connections they use (named by fields marked `.meta({ connection })`; the server adds all
 * its stored connections to the document, and one unused bad entry must not block every flow)
 */
function fileProblems(
  flow: FlowDocument,
  configs: Map<string, unknown>,
  types: Map<string, NodeType>,
  registry: NodeRegistry,
  policy: HostPolicy,
): { path: (string | number)[]; message: string }[] {
  const files = policy.files!;
  const out: { path: (string | number)[]; message: string }[] = [];
  const check = (schema: z.ZodType, value: unknown, at: (string | number)[]) => {
    for (const f of markedFields(schema, value, 'file')) {
      if (typeof f.value !== 'string') continue;
      if (f.meta.file === 'pem' && f.value.includes('-----BEGIN')) continue; // the PEM text itself, not a path
      const r = files.check(f.value, f.meta.file === 'write' ? 'write' : 'read');
      if (!r.ok) out.push({ path: [...at, ...f.path], message: r.message });
    }
  };
  const used = new Set<string>();
  flow.nodes.forEach((node, i) => {
    const type = types.get(node.id);
    if (!type || !configs.has(node.id)) return;
    check(type.configSchema, configs.get(node.id), ['nodes', i, 'config']);
    for (const f of markedFields(type.configSchema, configs.get(node.id), 'connection')) if (typeof f.value === 'string') used.add(f.value);
  });
  for (const name of used) {
    const entry = flow.connections?.[name];
    const connector = entry && registry.connector(entry.type);
    if (connector) check(connector.entrySchema, entry, ['connections', name]);
  }
  return out;
}

export function findCycle(ids: string[], edges: { from: string; to: string }[]): string[] | undefined {
  const next = new Map<string, string[]>();
  for (const e of edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const state = new Map<string, 1 | 2>(); // 1 on the stack, 2 done
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    state.set(id, 1);
    stack.push(id);
    for (const to of next.get(id) ?? []) {
      if (state.get(to) === 1) return [...stack.slice(stack.indexOf(to)), to];
      if (!state.has(to)) {
        const found = visit(to);
        if (found) return found;
      }
    }
    stack.pop();
    state.set(id, 2);
    return undefined;
  };
  for (const id of ids) {
    if (!state.has(id)) {
      const found = visit(id);
      if (found) return found;
    }
  }
  return undefined;
}
