/**
 * postgres.sink: a value PostgreSQL refuses (invalid input syntax, out of range, value too long, a NULL
 * into a NOT NULL column) becomes an error naming the table, the column, its declared type, the record
 * (its key, or its place in the batch) and the type of the value, never the bare driver message.
 *
 * Where the failing column is found: a COPY error's `where` reads `COPY t, line N, column c: "…"`
 * (line N = the Nth row of that COPY); a parameterised INSERT's reads `unnamed portal parameter $K = …`
 * (parameter K of a multi-row VALUES = row ⌊(K-1)/columns⌋, column (K-1) mod columns); a NOT NULL
 * violation carries `column`. Otherwise (an assignment cast the server checks after binding, such as
 * varchar(n) length) the column is the one whose declared type the message names, when only one has it.
 */
import type { ColumnMeta, TableMeta } from './catalog.js';

interface PgErr {
  code?: string;
  message?: string;
  where?: string;
  column?: string;
}

/** a row as the sink writes it: column name → record value */
type Row = Record<string, unknown>;

/**
 * The error to throw for `err`, raised while writing `rows` (in `cols` order) to `meta`: a described
 * error for a refused value (SQLSTATE class 22, or 23502 not-null), else `err` itself. `via` says how
 * the rows were sent; `offset` is the first row's index when a statement took a slice of them.
 */
export function refusedValue(err: unknown, meta: TableMeta, cols: ColumnMeta[], rows: Row[], keys: string[], via: 'copy' | 'values', offset = 0): unknown {
  const e = err as PgErr;
  const code = e.code ?? '';
  if (!code.startsWith('22') && code !== '23502') return err;
  let column: ColumnMeta | undefined;
  let row: number | undefined;
  const copy = via === 'copy' ? /^COPY [^,]+, line (\d+)(?:, column (.+?))?(?::|$)/m.exec(e.where ?? '') : null;
  const param = via === 'values' ? /unnamed portal parameter \$(\d+)/.exec(e.where ?? '') : null;
  if (copy) {
    row = Number(copy[1]) - 1;
    if (copy[2] !== undefined) column = cols.find((c) => c.name === copy[2]);
  } else if (param) {
    const k = Number(param[1]) - 1;
    row = offset + Math.floor(k / cols.length);
    column = cols[k % cols.length];
  }
  if (!column && e.column) column = cols.find((c) => c.name === e.column);
  if (!column) {
    const named = cols.filter((c) => (e.message ?? '').includes(`type ${c.sqlType}`));
    if (named.length === 1) column = named[0];
  }
  const r = row !== undefined && row >= 0 && row < rows.length ? rows[row] : undefined;
  const where: string[] = [`table ${meta.id}`];
  if (column) where.push(`column ${column.name} (${column.sqlType})`);
  else where.push(`one of the columns ${cols.map((c) => `${c.name} (${c.sqlType})`).join(', ')}`);
  if (r && keys.length > 0) where.push(`record with key ${JSON.stringify(Object.fromEntries(keys.map((k) => [k, jsonSafe(r[k])])))}`);
  else if (row !== undefined) where.push(`record ${row + 1} of ${rows.length} in the batch`);
  const value = r && column ? ` the value ${describe(r[column.name])}` : '';
  const why = code === '23502' ? 'is NULL but the column is NOT NULL' : `was refused: ${e.message ?? String(err)}`;
  return new RefusedValueError(`${where.join(', ')}:${value || ' a value'} ${why}`, column?.name, err);
}

/** a value PostgreSQL refused, named: `column` is the failing column when it is known */
export class RefusedValueError extends Error {
  override name = 'RefusedValueError';
  constructor(
    message: string,
    readonly column: string | undefined,
    cause: unknown,
  ) {
    super(message, { cause });
  }
}

/** `a string "abc"`, `a number 1e300`, `bytes (12)`: the value's type, and the value when short */
function describe(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'string') return `(a string) ${JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v)}`;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return `(a ${typeof v}) ${String(v)}`;
  if (v instanceof Uint8Array) return `(bytes, ${v.length})`;
  if (v instanceof Date) return `(a date) ${Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString()}`;
  if (Array.isArray(v)) return `(an array of ${v.length})`;
  const text = JSON.stringify(jsonSafe(v)) ?? String(v);
  return `(an object) ${text.length > 60 ? `${text.slice(0, 60)}…` : text}`;
}

function jsonSafe(v: unknown): unknown {
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (v && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, jsonSafe(x)]));
  }
  return v;
}
