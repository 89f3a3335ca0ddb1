/**
 * Sink planning: what a sink that writes by key (postgres, mysql, sqlite; a new family's too) does with
 * a batch before it talks to its database, written once so that a fix to key handling lands in every
 * sink at the same time.
 *
 * - `netEffect` reduces the batch to one change per key, in the order keys were first seen: a delete
 *   (op d) and/or the row to upsert after it (ops c, u, r; later upserts of a key merged over earlier
 *   ones, as applying them one by one would leave the row). Applying the changes in any order leaves
 *   the table as applying the records in batch order would, so a sink may group them freely (deletes
 *   first, upserts by column set) and never writes one row twice in a statement.
 * - Key values: an upsert's from its value; a delete's from `before ?? value`, else from `record.key`
 *   (a field of an object key, or the key itself when there is one key column). A record without one
 *   fails the batch with a NodeError naming the record key, the op and the column.
 * - `keysForNewTable`: the keys of a table the sink creates when the config names none; `keysOrAppend`:
 *   the same for a table that may exist without a key (none: appended to, with a warning); `coversKey`:
 *   whether an existing table's unique indexes let upserts match on the keys; `batchPlan`: a batch's
 *   changes, by key or appended; `eachRecordItsOwnKey`: a batch whose net effect is its records as they are.
 */
import { ConfigError, NodeError, type Logger, type SluiceRecord, type Value } from '../../runtime/index.js';
import { declaredSchema } from './columns.js';
import { keyPart, show } from './keys.js';

/** What a sink writes to, for messages: `nodeId`, and `what` it is (`table public.orders`). */
export interface SinkTarget {
  nodeId: string;
  what: string;
}

/** One key's net effect over a batch. */
export interface KeyChange {
  /** the key values, in key order */
  key: unknown[];
  /** delete the row first (a delete came, possibly followed by upserts) */
  del: boolean;
  /** the row to upsert after the delete, if any: the fields of its upserts since the last delete */
  row?: Value;
  /** every upsert of the key was a read or a create (op r / c): the row is most likely new to the table */
  fresh: boolean;
}

/** a record lacks the value of a key column */
export function missingKey(t: SinkTarget, r: SluiceRecord, column: string): NodeError {
  return new NodeError(t.nodeId, `${t.what}: record with key ${show(r.key)} (op ${r.op}) has no value for key column ${JSON.stringify(column)}`);
}

/** an upsert without a value */
export function noValue(t: SinkTarget, r: SluiceRecord): NodeError {
  return new NodeError(t.nodeId, `${t.what}: record with key ${show(r.key)} (op ${r.op}) has no value to write`);
}

/** the key values of a delete: from `before ?? value`, else from `record.key` */
export function deleteKey(t: SinkTarget, r: SluiceRecord, keys: readonly string[]): unknown[] {
  const row = r.before ?? r.value;
  return keys.map((k) => {
    const v = row?.[k] ?? keyPart(r.key, k, keys.length);
    if (v === undefined || v === null) throw missingKey(t, r, k);
    return v;
  });
}

/**
 * The batch as one change per key, in first-seen order (see the top of this file). Two keys are the
 * same when their values are: with one key column a string or a number is its own identity (1 and "1"
 * stay apart, as in JSON); otherwise the JSON of the values.
 */
export function netEffect(t: SinkTarget, records: readonly SluiceRecord[], keys: readonly string[]): KeyChange[] {
  const changes: KeyChange[] = [];
  /** a key's identity → its change's index */
  const at = new Map<unknown, number>();
  const one = keys.length === 1 ? keys[0] : undefined;
  // no closure over the loop's variables in here: it would cost an allocation per record
  for (const r of records) {
    let change: KeyChange;
    if (r.op === 'd') {
      change = { key: deleteKey(t, r, keys), del: true, fresh: true };
    } else {
      const value = r.value;
      if (!value) throw noValue(t, r);
      change = { key: upsertKey(t, r, value, keys), del: false, row: value, fresh: r.op === 'r' || r.op === 'c' };
    }
    const id = identity(change.key, one);
    const i = at.get(id);
    if (i === undefined) {
      at.set(id, changes.length);
      changes.push(change);
      continue;
    }
    const prev = changes[i];
    // a delete replaces what came before it; an upsert merges over it
    if (!change.del) change = { key: change.key, del: prev.del, row: prev.row ? merged(prev.row, change.row!) : change.row, fresh: prev.fresh && change.fresh };
    changes[i] = change;
  }
  return changes;
}

/** the key values of an upsert, from its value */
function upsertKey(t: SinkTarget, r: SluiceRecord, value: Value, keys: readonly string[]): unknown[] {
  const key: unknown[] = [];
  for (const k of keys) {
    const v = value[k];
    if (v === undefined || v === null) throw missingKey(t, r, k);
    key.push(v);
  }
  return key;
}

/** what tells two keys apart (netEffect): with one key column (`one`) a string or number is its own */
function identity(key: unknown[], one: string | undefined): unknown {
  return one !== undefined && (typeof key[0] === 'string' || typeof key[0] === 'number') ? key[0] : JSON.stringify(key, bigintText);
}

/**
 * Whether a batch's net effect is each of its records' values as it is, proven cheaply: one key column,
 * every record an upsert (c, u, r) whose key values, all numbers or all strings, increase (a snapshot
 * reads in key order), so no key comes twice. A sink may then skip netEffect's change per record; any
 * other batch (and one netEffect would refuse) gets false.
 */
export function eachRecordItsOwnKey(records: readonly SluiceRecord[], keys: readonly string[]): boolean {
  if (keys.length !== 1) return false;
  const k = keys[0];
  let prev: unknown;
  for (const r of records) {
    if (r.op === 'd' || !r.value) return false;
    const v = r.value[k];
    if (typeof v === 'number') {
      if (typeof prev === 'number' ? !(v > prev) : prev !== undefined) return false;
    } else if (typeof v === 'string') {
      if (typeof prev === 'string' ? !(v > prev) : prev !== undefined) return false;
    } else {
      return false;
    }
    prev = v;
  }
  return true;
}

/**
 * A batch for a table without keys (the source table has none and no keys were given): every row
 * inserted as it comes. Updates and deletes cannot find their row: a NodeError saying to give keys.
 */
export function appendPlan(t: SinkTarget, records: readonly SluiceRecord[]): KeyChange[] {
  return records.map((r) => {
    if (r.op === 'u' || r.op === 'd') {
      throw new NodeError(t.nodeId, `${t.what} has no key columns (its source table has no primary key): an ${r.op === 'u' ? 'update' : 'delete'} cannot find its row. Give the table's key columns in the source's keys`);
    }
    if (!r.value) throw noValue(t, r);
    return { key: [], del: false, row: r.value, fresh: true };
  });
}

/** `later` over `earlier`: a field `later` leaves undefined keeps the earlier value, as a second upsert would */
function merged(earlier: Value, later: Value): Value {
  const out: Value = { ...earlier };
  for (const k in later) if (later[k] !== undefined) out[k] = later[k];
  return out;
}

const bigintText = (_k: string, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x);

/**
 * The keys of a table the sink is about to create when the config names none: the source table's key
 * (meta.schema), else the fields of the first record's key object (`{ id }`, `{ sku, site }`), else the
 * columns a source names in `meta.keyColumns` (sqlite.source, whose key is the value itself). A
 * ConfigError naming `keys` when none of them says.
 */
export function keysForNewTable(t: SinkTarget, records: readonly SluiceRecord[]): string[] {
  const fromSchema = declaredSchema(records)?.key;
  if (fromSchema) return fromSchema; // empty: a source table without a key, written append-only (appendPlan)
  const r = records[0];
  const key = r.key;
  if (key !== null && typeof key === 'object' && !Array.isArray(key) && Object.keys(key).length > 0) return Object.keys(key);
  const named = r.meta.keyColumns;
  if (Array.isArray(named) && named.length > 0 && named.every((c) => typeof c === 'string')) return named as string[];
  throw new ConfigError(t.nodeId, 'keys', `${t.what} does not exist yet and the record key ${show(key)} names no columns: set keys to the columns that identify a row`);
}

/**
 * Whether one of a table's unique column sets (its primary key, its UNIQUE indexes) is exactly `keys`,
 * in any order: upserts need one to find the row. `foldCase` for databases whose column names are
 * case-insensitive (MySQL, SQLite).
 */
export function coversKey(uniqueSets: readonly (readonly string[])[], keys: readonly string[], foldCase = false): boolean {
  const norm = (cols: readonly string[]) => [...new Set(foldCase ? cols.map((c) => c.toLowerCase()) : cols)].sort().join('\0');
  const wanted = norm(keys);
  return uniqueSets.some((set) => norm(set) === wanted);
}

/**
 * The keys of a sink's table when neither config nor an existing table's key gave them: the source's
 * (keysForNewTable). None (a keyless source table): rows are appended, with a warning that a re-run
 * duplicates them. `keyless`: the table exists without a key, so keys from the source cannot be used
 * (a ConfigError on `keys` whose message ends with the dialect's `noKeyHint`).
 */
export function keysOrAppend(t: SinkTarget, records: readonly SluiceRecord[], o: { keyless: boolean; noKeyHint: string; log: Logger }): string[] {
  const keys = keysForNewTable(t, records);
  if (o.keyless && keys.length > 0) throw new ConfigError(t.nodeId, 'keys', `${t.what} ${o.noKeyHint}`);
  if (keys.length === 0) {
    o.log.warn(`${t.what}: its source table has no key, so rows are appended (INSERT) without looking for an existing row; running the copy again duplicates them`);
  }
  return keys;
}

/** a batch's changes: one per key (netEffect), or every row appended when there are no keys (appendPlan) */
export function batchPlan(t: SinkTarget, records: readonly SluiceRecord[], keys: string[]): KeyChange[] {
  return keys.length === 0 ? appendPlan(t, records) : netEffect(t, records, keys);
}
