/**
 * settings.lanes > 1: the predicate that gives lane `index` of `count` its share of a table's rows.
 * Rows are shared out by the table's first key column: an integer key by its value modulo the lane
 * count (neighbouring keys in different lanes, so every lane's keyset scan walks the same index range
 * at the same pace), any other type by a hash of its text. A table without a primary key is shared out
 * by block (the block number of ctid), which keeps its TID range scans intact.
 */
import type { TableMeta } from './catalog.js';
import { quoteIdent } from './connection.js';

const INTEGER = new Set(['smallint', 'integer', 'bigint', 'int2', 'int4', 'int8']);

export interface LaneShare {
  index: number;
  count: number;
}

/** a boolean SQL expression true for the rows of `lane`, or undefined without lanes */
export function laneFilter(t: TableMeta, lane: LaneShare | undefined): string | undefined {
  if (!lane || lane.count <= 1) return undefined;
  const n = Math.trunc(lane.count);
  const i = Math.trunc(lane.index);
  if (t.ctid || t.pk.length === 0) return `(((ctid::text::point)[0]::bigint % ${n}) = ${i})`;
  const first = t.pk[0];
  const type = t.columns.find((c) => c.name === first)?.sqlType.toLowerCase() ?? '';
  const col = quoteIdent(first);
  if (INTEGER.has(type)) return `(((${col}::bigint % ${n}) + ${n}) % ${n} = ${i})`;
  return `((hashtext(${col}::text) & 2147483647) % ${n} = ${i})`;
}
