/**
 * `sluice positions FLOW [--set NODE=VALUE …]`: the committed positions of a headless flow (its
 * `--state` file), in words, with their history; and a change of them by hand while the flow is not
 * running, said before it is made (`--dry-run`). The flow file gives the node types; nothing connects.
 */
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { FlowValidationError, UserError } from '../errors.js';
import { parseFlowText } from '../flow/parse.js';
import type { NodeRegistry } from '../registry.js';
import { SqliteCheckpointStore } from '../state/sqlite-checkpoint-store.js';
import { changeNote, planPositionChange, positionsView, type PositionNode } from '../state/position-change.js';
import { readFlowFile } from './flow-file.js';

export interface PositionsOptions {
  state: string;
  set?: string[];
  resetState?: boolean;
  dryRun?: boolean;
  json?: boolean;
  history: number;
}

export async function positionsCommand(file: string, opts: PositionsOptions, registry: NodeRegistry): Promise<number> {
  const { name, nodes } = flowNodes(file, registry);
  const store = new SqliteCheckpointStore(resolve(opts.state));
  try {
    if (!opts.set?.length && !opts.resetState) {
      const view = positionsView(name, nodes, await store.load(name), await store.history(name, opts.history));
      if (opts.json) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      else {
        process.stdout.write(`${name}: ${view.committedAt ? `committed at ${view.committedAt}` : 'nothing committed yet'}\n`);
        for (const s of view.sources) process.stdout.write(`  ${s.node} (${s.type}): ${s.text}\n`);
        if (view.stateful.length) process.stdout.write(`  state kept for: ${view.stateful.join(', ')}\n`);
        if (view.history.length) process.stdout.write(`history, newest first:\n`);
        for (const h of view.history) process.stdout.write(`  ${h.at}  ${Object.entries(h.positions).map(([n, t]) => `${n}: ${t}`).join('; ')}${h.note ? `  (${h.note})` : ''}\n`);
      }
      return 0;
    }
    const request = { positions: Object.fromEntries((opts.set ?? []).map(assignment)), resetState: opts.resetState };
    const plan = planPositionChange(nodes, await store.load(name), request);
    if (!opts.dryRun) await store.rewrite(name, plan.checkpoint, changeNote(`${userInfo().username} (CLI)`, plan, opts.resetState));
    if (opts.json) process.stdout.write(`${JSON.stringify({ applied: !opts.dryRun, changes: plan.changes, warnings: plan.warnings }, null, 2)}\n`);
    else {
      for (const c of plan.changes) process.stdout.write(`${c.node}: ${c.from} → ${c.to}\n  ${c.effect}\n`);
      for (const w of plan.warnings) process.stdout.write(`warning: ${w}\n`);
      process.stdout.write(opts.dryRun ? 'dry run: nothing changed\n' : `saved in ${opts.state}: the next run of ${name} reads from there\n`);
    }
    return 0;
  } finally {
    await store.close();
  }
}

/** NODE=VALUE; VALUE `start` (or empty) is "from the beginning", JSON when it parses as an object, else the node's words */
function assignment(text: string): [string, unknown] {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new UserError(`--set ${JSON.stringify(text.slice(0, 80))}: expected NODE=VALUE, e.g. --set orders="LSN 16/B374D848"`);
  const node = text.slice(0, eq);
  const value = text.slice(eq + 1).trim();
  if (value === '' || value === 'start') return [node, null];
  if (value.startsWith('{')) {
    try {
      return [node, JSON.parse(value)];
    } catch {
      throw new UserError(`--set ${node}: ${JSON.stringify(value.slice(0, 80))} starts like JSON but is not JSON`);
    }
  }
  return [node, value];
}

function flowNodes(file: string, registry: NodeRegistry): { name: string; nodes: PositionNode[] } {
  const parsed = parseFlowText(readFlowFile(file), file);
  if (!parsed.ok) throw new FlowValidationError(parsed.issues, file);
  const doc = parsed.parsed.value as { name?: unknown; nodes?: unknown };
  if (typeof doc.name !== 'string' || !Array.isArray(doc.nodes)) throw new UserError(`${file}: a flow document needs a name and nodes (sluice validate ${file})`);
  const nodes: PositionNode[] = [];
  for (const n of doc.nodes as { id?: unknown; type?: unknown }[]) {
    const type = typeof n.type === 'string' ? registry.get(n.type) : undefined;
    if (typeof n.id === 'string' && type) nodes.push({ id: n.id, type });
  }
  return { name: doc.name, nodes };
}
