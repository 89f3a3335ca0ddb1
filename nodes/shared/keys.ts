/** Reading keys out of records, and showing values in messages: the same in every sink. */

/** a key column's value from `record.key`: a field of an object key, or the key itself when there is one key column */
export function keyPart(key: unknown, column: string, keyCount: number): unknown {
  if (key !== null && typeof key === 'object' && !Array.isArray(key)) return (key as Record<string, unknown>)[column];
  if (keyCount === 1 && (typeof key === 'string' || typeof key === 'number' || typeof key === 'bigint')) return key;
  return undefined;
}

/** a value in a message: JSON (bigints as `123n`), at most `max` characters */
export function show(v: unknown, max = 120): string {
  if (v === undefined) return 'undefined';
  let s: string;
  try {
    s = JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max - 3)}...` : s;
}
