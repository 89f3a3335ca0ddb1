/**
 * Reference tables: where core.denormalize (lookup mode) reads the rows it enriches records with.
 *
 * One implementation per family (sqlite, postgres, mysql, mongodb): a `ReferenceKind` gives the zod
 * schema of its `from` config (an object whose `type` is a literal, `.strict()`, every field described)
 * and a factory. Each lives in its family (nodes/<family>/reference.ts); the list of kinds is
 * nodes/reference-kinds.ts, which the catalog hands to core.denormalize: adding one is a module plus one
 * line there. What every kind does alike is here: `openReference` (open, or close and report
 * the failure under `from.`), `referenceColumn` (the key column, or an error listing the columns),
 * `chunks` (keys per query) and `addRow` (rows grouped by join key).
 *
 * Join keys: a record's key value and a table's key value match when their `joinKey` is the same, so
 * the number 1 and the string "1" match (a CSV source gives strings, a database numbers), "01" and 1
 * do not. Only scalars join: strings, finite numbers, bigints and booleans (as 1 / 0, the way SQL
 * stores them); null never matches anything (as in SQL).
 */
import type { z } from 'zod';
import { ConfigError, type FileAccess, type Logger, type Value } from '../../runtime/index.js';
import { openOrClose } from './open.js';

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

// ---- what every kind does alike ---------------------------------------------------------------------

/**
 * A ConfigError the family's connection code raised for one of its own fields (`connection`, `tls.ca`,
 * `table`), reported where core.denormalize has that field: under `from.`. Other errors (`foreignKey`,
 * a NodeError) are returned as they are. `fields`: the names of the `from` config that may be blamed.
 */
export function underFrom(err: unknown, fields: readonly string[]): unknown {
  if (!(err instanceof ConfigError)) return err;
  if (!fields.some((f) => err.path === f || err.path.startsWith(`${f}.`))) return err;
  const prefix = `nodes[${err.nodeId}].${err.path}: `;
  const message = err.message.startsWith(prefix) ? err.message.slice(prefix.length) : err.message;
  return new ConfigError(err.nodeId, `from.${err.path}`, message, err.hint);
}

/**
 * A reference table's open: runs `start`; on failure closes what was opened and throws the error with
 * the fields of `from` (`fields`, see underFrom) moved under `from.`; `mapOther` turns any other error
 * (a driver's) into one that says what to fix.
 */
export async function openReference(
  table: Pick<ReferenceTable, 'close'>,
  fields: readonly string[],
  start: () => Promise<void>,
  mapOther: (err: unknown) => unknown = (err) => err,
): Promise<void> {
  await openOrClose(start, () => table.close(), (err) => (err instanceof ConfigError ? underFrom(err, fields) : mapOther(err)));
}

/**
 * The index of the key column (the node's `foreignKey`) among a table's column names: the exact name,
 * else the same name in another case. A ConfigError naming `foreignKey` and listing the columns when
 * there is none; `table` describes the table in it (`table public.orders`).
 */
export function referenceColumn(nodeId: string, table: string, names: readonly string[], wanted: string): number {
  let at = names.indexOf(wanted);
  if (at < 0) at = names.findIndex((n) => n.toLowerCase() === wanted.toLowerCase());
  if (at < 0) throw new ConfigError(nodeId, 'foreignKey', `${table} has no column ${JSON.stringify(wanted)}; columns: ${names.join(', ')}`);
  return at;
}

/** `items` in slices of at most `size` (at least 1) */
export function* chunks<T>(items: readonly T[], size: number): Generator<T[]> {
  const per = Math.max(1, size);
  for (let i = 0; i < items.length; i += per) yield items.slice(i, i + per);
}

/** adds a found row to the group of its join key (lookup's result) */
export function addRow<K>(found: Map<K, Value[]>, key: K, row: Value): void {
  const group = found.get(key);
  if (group) group.push(row);
  else found.set(key, [row]);
}
