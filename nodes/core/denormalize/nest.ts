/**
 * core.denormalize, nest mode: folds child records into their parent, e.g. order_lines into orders,
 * from two inputs (`parent`, `child`) that may both be change streams.
 *
 * State: every current parent row by its `parentKey`, and every current child row by its `childId`,
 * grouped by the parent key it holds in `childKey`. All of it is held in memory and checkpointed with
 * the source positions (snapshot() → open(state)), so its cost grows with the parent and child tables.
 *
 * Emission, once per batch for each parent the batch touched (the final document only):
 * - the parent exists: `{ ...parent, [as]: children }` (children in ascending childId order), op c when
 *   the parent is new in this batch, u otherwise, key `{ [parentKey]: value }`;
 * - the parent was deleted: op d, same key, `before` = its last document;
 * - a child whose parent has not arrived (or was deleted) emits nothing: it waits, and the parent's
 *   document holds it once the parent comes. Children stay when their parent is deleted, so a parent
 *   inserted again gets them back; a deleted child leaves the array; a child whose childKey changes
 *   moves to the other parent (both documents are emitted). A child whose childKey is null belongs to no
 *   parent (as in a SQL join).
 * Rows are whole rows (CDC images): a c/u/r record's value replaces the stored row. A delete may carry
 * only its key. An update whose `before` holds another parentKey (childId) moves the parent (child):
 * the old one is removed. Keys join as in lookup mode (1 and "1" are the same key, see nodes/shared/reference.ts).
 * Several levels: chain nodes (the documents of one are the children or parents of the next).
 */
import { z } from 'zod';
import {
  ConfigError,
  NodeError,
  type NodeContext,
  type PortOutputs,
  type RecordMeta,
  type SluiceRecord,
  type TransformInstance,
  type Value,
} from '../../../runtime/index.js';
import { joinMapKey, type MapKey } from '../../shared/reference.js';
import { withoutSchema } from '../../shared/columns.js';
import { errorRecord } from '../user-code.js';
import { asField, fieldName, fieldOf, show } from './common.js';

export const nestConfig = z
  .object({
    mode: z.literal('nest').describe('nest: fold the child records into their parent as an array (two inputs: parent and child)'),
    as: asField,
    parentKey: fieldName("the parent's field that holds its key, e.g. id"),
    childKey: fieldName("the child's field that holds its parent's key, e.g. order_id"),
    childId: fieldName("the child's own key field: identifies a child to update or delete, and orders the array").default('id'),
  })
  .strict();

export type NestConfig = z.output<typeof nestConfig>;

const STATE_VERSION = 1;

/** what snapshot() returns: the rows, from which every index is rebuilt */
interface NestState {
  version: number;
  parentKey: string;
  childKey: string;
  childId: string;
  parents: Value[];
  children: Value[];
}

/** what a batch did to one parent key */
interface Touched {
  /** the parent existed when the batch began */
  existed: boolean;
  /** the parent key value as the records gave it */
  raw: unknown;
  /** set when the parent was deleted in this batch: its last document (when it was known) */
  deleted?: { before: Value | null };
  meta: RecordMeta;
}

/** ascending, numbers before strings (as SQLite orders them) */
function compareIds(a: unknown, b: unknown): number {
  const na = typeof a === 'number' || typeof a === 'bigint';
  const nb = typeof b === 'number' || typeof b === 'bigint';
  if (na && nb) return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
  if (na !== nb) return na ? -1 : 1;
  const sa = String(a);
  const sb = String(b);
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

export class NestTransform implements TransformInstance {
  readonly kind = 'transform' as const;
  /** parent key → parent row */
  private readonly parents = new Map<MapKey, Value>();
  /** parent key → child id → child row (also for parents that have not arrived) */
  private readonly children = new Map<MapKey, Map<MapKey, Value>>();
  /** child id → the parent key it is filed under */
  private readonly childParent = new Map<MapKey, MapKey>();
  private readonly touched = new Map<MapKey, Touched>();

  constructor(private readonly ctx: NodeContext<NestConfig>) {}

  async open(state: unknown): Promise<void> {
    this.parents.clear();
    this.children.clear();
    this.childParent.clear();
    if (state === undefined || state === null) return;
    const s = state as Partial<NestState>;
    const { parentKey, childKey, childId } = this.ctx.config;
    if (s.version !== STATE_VERSION || !Array.isArray(s.parents) || !Array.isArray(s.children)) {
      throw new ConfigError(this.ctx.nodeId, '', 'the checkpointed state is not one this version of core.denormalize can read; run the flow with --from-start');
    }
    if (s.parentKey !== parentKey || s.childKey !== childKey || s.childId !== childId) {
      throw new ConfigError(
        this.ctx.nodeId,
        'config',
        `the checkpointed state was kept with parentKey ${show(s.parentKey)}, childKey ${show(s.childKey)}, childId ${show(s.childId)}: ` +
          'the keys changed since, so run the flow with --from-start (the state is rebuilt from the inputs)',
      );
    }
    for (const row of s.parents) this.parents.set(joinMapKey(row[parentKey]) as MapKey, row);
    for (const row of s.children) this.fileChild(joinMapKey(row[childId]) as MapKey, joinMapKey(row[childKey]) as MapKey, row);
  }

  snapshot(): NestState {
    const { parentKey, childKey, childId } = this.ctx.config;
    const children: Value[] = [];
    for (const group of this.children.values()) for (const row of group.values()) children.push(row);
    return { version: STATE_VERSION, parentKey, childKey, childId, parents: [...this.parents.values()], children };
  }

  /** parents and children held */
  size(): { parents: number; children: number } {
    return { parents: this.parents.size, children: this.childParent.size };
  }

  async process(records: SluiceRecord[], port: string): Promise<PortOutputs> {
    const error: SluiceRecord[] = [];
    this.touched.clear();
    if (port === 'parent') {
      for (const r of records) {
        const problem = this.applyParent(r);
        if (problem) error.push(errorRecord(r, this.ctx.nodeId, problem));
      }
    } else if (port === 'child') {
      for (const r of records) {
        const problem = this.applyChild(r);
        if (problem) error.push(errorRecord(r, this.ctx.nodeId, problem));
      }
    } else {
      throw new NodeError(this.ctx.nodeId, `nest mode reads the "parent" and "child" ports, got records on "${port}"`);
    }
    const out: SluiceRecord[] = [];
    for (const [pk, t] of this.touched) {
      const parent = this.parents.get(pk);
      const key = { [this.ctx.config.parentKey]: parent ? parent[this.ctx.config.parentKey] : t.raw };
      if (parent) out.push({ key, value: this.document(pk, parent), op: t.existed ? 'u' : 'c', meta: t.meta });
      else if (t.deleted) out.push({ key, value: null, op: 'd', ...(t.deleted.before ? { before: t.deleted.before } : {}), meta: t.meta });
      // else: only children of a parent that is not there changed: they wait, nothing to emit
    }
    this.touched.clear();
    return { out, error };
  }

  async close(): Promise<void> {}

  /** the error message for a record that cannot be applied, or undefined */
  private applyParent(r: SluiceRecord): string | undefined {
    const { parentKey } = this.ctx.config;
    const raw = fieldOf(r, parentKey);
    const pk = joinMapKey(raw);
    if (pk === null || pk === undefined) return `parent record (op ${r.op}, key ${show(r.key)}) has ${raw === undefined ? 'no field' : `${show(raw)} in`} "${parentKey}" (parentKey): a parent needs a string or number key`;
    if (r.op === 'd') {
      this.deleteParent(pk, raw, r);
      return undefined;
    }
    if (!r.value) return `parent record (op ${r.op}, key ${show(r.key)}) has no value`;
    // an update that changed the parent's key: the document under the old key goes
    const oldRaw = r.op === 'u' ? r.before?.[parentKey] : undefined;
    const old = joinMapKey(oldRaw);
    if (old !== null && old !== undefined && old !== pk) this.deleteParent(old, oldRaw, r);
    this.touch(pk, raw, r);
    this.parents.set(pk, r.value);
    return undefined;
  }

  private deleteParent(pk: MapKey, raw: unknown, r: SluiceRecord): void {
    const last = this.parents.get(pk);
    // the key as the parent's own row holds it (the delete may give "1" for 1)
    this.touch(pk, last ? last[this.ctx.config.parentKey] : raw, r).deleted = { before: last ? this.document(pk, last) : null };
    this.parents.delete(pk);
  }

  private applyChild(r: SluiceRecord): string | undefined {
    const { childKey, childId } = this.ctx.config;
    const rawId = fieldOf(r, childId);
    const cid = joinMapKey(rawId);
    if (cid === null || cid === undefined) return `child record (op ${r.op}, key ${show(r.key)}) has ${rawId === undefined ? 'no field' : `${show(rawId)} in`} "${childId}" (childId): a child needs a string or number id`;
    const previous = this.childParent.get(cid);
    if (r.op === 'd') {
      if (previous !== undefined) {
        this.unfileChild(cid, previous);
        this.touch(previous, undefined, r);
      }
      return undefined;
    }
    if (!r.value) return `child record (op ${r.op}, key ${show(r.key)}) has no value`;
    // an update that changed the child's own id: the child under the old id goes
    const oldId = r.op === 'u' ? joinMapKey(r.before?.[childId]) : undefined;
    if (oldId !== null && oldId !== undefined && oldId !== cid) {
      const oldParent = this.childParent.get(oldId);
      if (oldParent !== undefined) {
        this.unfileChild(oldId, oldParent);
        this.touch(oldParent, undefined, r);
      }
    }
    const rawParent = r.value[childKey];
    if (rawParent === undefined) return `child record (op ${r.op}, key ${show(r.key)}) has no field "${childKey}" (childKey)`;
    const pk = joinMapKey(rawParent);
    if (pk === undefined) return `child record (op ${r.op}, key ${show(r.key)}) has ${show(rawParent)} in "${childKey}" (childKey): a parent key must be a string or a number`;
    if (previous !== undefined && previous !== pk) {
      this.unfileChild(cid, previous);
      this.touch(previous, undefined, r);
    }
    // belongs to no parent: not held (an update that gives it one brings the whole row)
    if (pk === null) return undefined;
    this.fileChild(cid, pk, r.value);
    this.touch(pk, rawParent, r);
    return undefined;
  }

  private fileChild(cid: MapKey, pk: MapKey, row: Value): void {
    let group = this.children.get(pk);
    if (!group) this.children.set(pk, (group = new Map()));
    group.set(cid, row);
    this.childParent.set(cid, pk);
  }

  private unfileChild(cid: MapKey, pk: MapKey): void {
    const group = this.children.get(pk);
    group?.delete(cid);
    if (group?.size === 0) this.children.delete(pk);
    this.childParent.delete(cid);
  }

  private touch(pk: MapKey, raw: unknown, r: SluiceRecord): Touched {
    let t = this.touched.get(pk);
    // a nested document is a new shape: no source table's declared columns (meta.schema) describe it
    const meta = withoutSchema(r.meta);
    if (!t) this.touched.set(pk, (t = { existed: this.parents.has(pk), raw, meta }));
    else {
      t.meta = meta;
      if (t.raw === undefined) t.raw = raw;
    }
    return t;
  }

  private document(pk: MapKey, parent: Value): Value {
    const group = this.children.get(pk);
    const rows = group ? [...group.values()] : [];
    const { childId, as } = this.ctx.config;
    if (rows.length > 1) rows.sort((a, b) => compareIds(a[childId], b[childId]));
    return { ...parent, [as]: rows };
  }
}
