/**
 * Reference tables: where core.denormalize (lookup mode) reads the rows it enriches records with.
 *
 * One implementation per database family (`sqlite` now; the postgres, mysql and mongodb connectors add
 * theirs): a `ReferenceKind` gives the zod schema of its `from` config (an object whose `type` is a
 * literal, `.strict()`, every field described) and a factory. The list of kinds lives in
 * nodes/core/denormalize/reference.ts: adding one is a module here-like plus one line there.
 *
 * Join keys: a record's key value and a table's key value match when their `joinKey` is the same, so
 * the number 1 and the string "1" match (a CSV source gives strings, a database numbers), "01" and 1
 * do not. Only scalars join: strings, finite numbers, bigints and booleans (as 1 / 0, the way SQL
 * stores them); null never matches anything (as in SQL).
 */
import type { z } from 'zod';
import type { FileAccess, Logger, Value } from '../../runtime/index.js';

export interface ReferenceTable {
  /** what it reads, for messages: `table customers of shop.db` */
  readonly label: string;
  /** connects and checks that the table and the key column exist (ConfigError naming `from.*` or `foreignKey`) */
  open(): Promise<void>;
  /**
   * The rows whose key column equals one of `keys` (distinct scalar values), grouped by the `joinKey` of
   * their key column, each group in the table's order; keys with no row are absent from the map. Sends
   * as few queries as the database allows (`WHERE col IN (...)`, chunked by `maxKeysPerQuery`).
   */
  lookup(keys: unknown[]): Promise<Map<string, Value[]>>;
  /** queries sent so far (for figures and logs) */
  readonly queries: number;
  close(): Promise<void>;
}

/** What every reference table is told besides its own `from` config. */
export interface ReferenceOptions {
  nodeId: string;
  /** the column (field) of the table that holds the key: the node's `foreignKey` */
  column: string;
  /** at most this many keys in one query */
  maxKeysPerQuery: number;
  /** the node's file access (NodeContext.files) */
  files: FileAccess;
  /** a named connection from the flow document (database kinds with `connection`) */
  connection?(name: string): Record<string, unknown> | undefined;
  log: Logger;
}

export interface ReferenceKind<S extends z.ZodObject = z.ZodObject> {
  /** the value of `from.type` */
  type: string;
  /** the `from` config for this kind: `{ type: z.literal(type), ... }.strict()` */
  schema: S;
  create(config: z.output<S>, options: ReferenceOptions): ReferenceTable;
}

/** Identity helper that keeps the config type flowing from the schema into `create`. */
export function defineReference<S extends z.ZodObject>(kind: ReferenceKind<S>): ReferenceKind<S> {
  return kind;
}

/**
 * The join key of a value: a string that is equal for values that match (see the top of this file);
 * `null` for null and undefined (never matches); `undefined` for a value that cannot be a key
 * (object, array, NaN, Infinity).
 */
export function joinKey(v: unknown): string | null | undefined {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isFinite(v) ? String(v) : undefined;
    case 'bigint':
      return String(v);
    case 'boolean':
      return v ? '1' : '0';
    case 'undefined':
      return null;
    default:
      return v === null ? null : undefined;
  }
}

/** A join key as a Map key: see joinMapKey. */
export type MapKey = string | number;

/**
 * The same equality as joinKey, as a faster Map key for state held in memory: a number when the join
 * key is a number's canonical text (1, "1", true, 1n → 1), else the join key string. For any a and b,
 * joinMapKey(a) === joinMapKey(b) exactly when joinKey(a) === joinKey(b).
 */
export function joinMapKey(v: unknown): MapKey | null | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  const k = joinKey(v);
  if (typeof k !== 'string' || k === '') return k;
  const n = Number(k);
  // "NaN" and "Infinity" stay strings: NaN !== NaN, and no finite number prints as them
  return Number.isFinite(n) && String(n) === k ? n : k;
}
