/**
 * A flow's committed positions in words, and a change of them by hand (rewind or skip ahead) planned
 * before it is made: for each source what it will replay or skip, and a warning for each stateful node
 * whose state was taken at the old positions. The same for the server (GET/PUT /api/flows/:id/positions)
 * and the CLI (`sluice positions`). Nothing here runs a node: the node types' PositionText does the words.
 */
import { UserError } from '../errors.js';
import type { NodeType, PositionText } from '../node-api.js';
import { isSourceType } from '../node-api.js';
import type { Checkpoint, PositionHistoryEntry } from './checkpoint-store.js';
import type { PositionChange, PositionChangeRequest, PositionsView } from './operations-wire.js';

export type { PositionChange, PositionChangeAnswer, PositionChangeRequest, PositionsView, SourcePositionView } from './operations-wire.js';

/** a node of the flow as far as positions go */
export interface PositionNode {
  id: string;
  type: NodeType;
}

export interface PositionChangePlan {
  changes: PositionChange[];
  warnings: string[];
  /** the checkpoint to write */
  checkpoint: Omit<Checkpoint, 'updatedAt'>;
}

/** JSON, for node types that declare no words for their positions */
const AS_JSON: PositionText = {
  describe: (p) => JSON.stringify(p),
  parse: (text) => {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error('expected the position as JSON, as GET …/positions shows it');
    }
  },
};

export const positionTextOf = (t: NodeType): PositionText => t.position ?? AS_JSON;

const FROM_START = 'nothing committed: from the beginning';

function describe(t: NodeType, position: unknown): string {
  if (position === undefined || position === null) return FROM_START;
  try {
    return positionTextOf(t).describe(position);
  } catch {
    return JSON.stringify(position);
  }
}

export function positionsView(flow: string, nodes: PositionNode[], checkpoint: Checkpoint | undefined, history: PositionHistoryEntry[]): PositionsView {
  const sources = nodes.filter((n) => isSourceType(n.type));
  const view: PositionsView = {
    flow,
    sources: sources.map((n) => {
      const position = checkpoint?.positions[n.id] ?? null;
      const example = positionTextOf(n.type).example;
      return { node: n.id, type: n.type.type, position, text: describe(n.type, position), ...(example ? { example } : {}) };
    }),
    stateful: Object.keys(checkpoint?.state ?? {}),
    history: history.map((h) => ({
      at: new Date(h.at).toISOString(),
      ...(h.note ? { note: h.note } : {}),
      positions: Object.fromEntries(sources.map((n) => [n.id, describe(n.type, h.positions[n.id])])),
    })),
  };
  if (checkpoint) view.committedAt = new Date(checkpoint.updatedAt).toISOString();
  return view;
}

/** the new positions read from the request, and what they will do; a UserError naming the node when one cannot be read */
export function planPositionChange(nodes: PositionNode[], checkpoint: Checkpoint | undefined, request: PositionChangeRequest): PositionChangePlan {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const positions = { ...(checkpoint?.positions ?? {}) };
  const changes: PositionChange[] = [];
  const caveats: string[] = [];
  const asked = Object.entries(request.positions);
  if (asked.length === 0 && !request.resetState) throw new UserError('positions: name at least one source node and its new position (or null for its beginning)');
  for (const [id, value] of asked) {
    const node = byId.get(id);
    if (!node) throw new UserError(`positions.${id}: the flow has no node ${JSON.stringify(id)}; its sources are ${sourceList(nodes)}`);
    if (!isSourceType(node.type)) throw new UserError(`positions.${id}: node ${id} (${node.type.type}) is not a source: only sources have positions (${sourceList(nodes)})`);
    const text = positionTextOf(node.type);
    let next: unknown = value;
    if (typeof value === 'string') {
      try {
        next = text.parse ? text.parse(value) : value;
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new UserError(`positions.${id}: ${JSON.stringify(value.slice(0, 100))} is not a ${node.type.type} position: ${why}${text.example ? ` (e.g. ${text.example})` : ''}`);
      }
    }
    const before = checkpoint?.positions[id];
    if (next === null || next === undefined) delete positions[id];
    else positions[id] = next;
    const effect = effectOf(text, before, next);
    changes.push({ node: id, from: describe(node.type, before), to: describe(node.type, next), effect });
    if (text.rewindCaveat && !effect.startsWith('skip') && !effect.startsWith('no change')) caveats.push(`${id}: ${text.rewindCaveat}`);
  }
  const stateful = Object.keys(checkpoint?.state ?? {});
  const warnings: string[] = [...caveats];
  if (stateful.length > 0 && asked.length > 0 && !request.resetState) {
    warnings.push(
      `${stateful.join(', ')} keep${stateful.length === 1 ? 's its' : ' their'} state, taken at the old positions: records replayed are counted in ${stateful.length === 1 ? 'it' : 'them'} again, records skipped stay counted (resetState: true forgets the state)`,
    );
  }
  return { changes, warnings, checkpoint: { positions, state: request.resetState ? {} : { ...(checkpoint?.state ?? {}) } } };
}

function effectOf(text: PositionText, before: unknown, after: unknown): string {
  const none = (p: unknown) => p === undefined || p === null;
  if (none(after)) return none(before) ? 'no change: already from the beginning' : 'everything is read again from the beginning';
  if (none(before)) return 'the source starts here instead of at its beginning: what comes before is skipped';
  const order = text.compare?.(after, before);
  if (order === undefined) return 'the source continues from here (whether this replays or skips records cannot be told from the positions)';
  if (order < 0) return 'rewind: the records after the new position, up to the old one, are read again';
  if (order > 0) return 'skip ahead: the records between the old position and the new one are never read';
  return 'no change';
}

const sourceList = (nodes: PositionNode[]) => nodes.filter((n) => isSourceType(n.type)).map((n) => n.id).join(', ') || 'none';

/** a short note for the history: who changed which sources */
export const changeNote = (by: string, plan: PositionChangePlan, resetState?: boolean) =>
  `set by ${by}: ${plan.changes.map((c) => `${c.node} → ${c.to}`).join('; ')}${resetState ? '; state forgotten' : ''}`;
