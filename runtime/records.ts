/**
 * The unit of data that moves through a flow: one change to one keyed row (`op`), with the row before
 * it where the source knows it, so sinks can upsert and delete by key and aggregates can take rows back.
 */
export type Op = 'c' | 'u' | 'd' | 'r';

export type Value = Record<string, unknown>;

export interface RecordMeta {
  /** id of the source node that read the record */
  source?: string;
  table?: string;
  /** the source position this record was read at (opaque, JSON-serialisable) */
  position?: unknown;
  /** event time, ms since the epoch */
  ts?: number;
  /** set on records routed to an error port or the dead-letter store */
  error?: { node: string; message: string };
  [extra: string]: unknown;
}

export interface SluiceRecord {
  key: unknown;
  value: Value | null;
  op: Op;
  before?: Value | null;
  meta: RecordMeta;
}

export const OPS: readonly Op[] = ['c', 'u', 'd', 'r'];

/** The fields a record's identity is read from: the value, or `before` for a delete. */
export function rowOf(record: SluiceRecord): Value | null {
  return record.op === 'd' ? (record.before ?? record.value) : (record.value ?? record.before ?? null);
}

/** builds a value from its fields, in the order of the names it was made for */
export type ValueMaker = (fields: readonly unknown[]) => Value;

/**
 * The maker of values with these field names, in order: an object literal
 * (its fields in the object itself, not in a properties store grown one field at a time, and one
 * hidden class for every value it makes), or field by field when a name would not be an ordinary own
 * property in a literal (`__proto__`, kept as an own field as JSON.parse keeps it). Sources build rows with it.
 */
export function valueMaker(names: readonly string[]): ValueMaker {
  if (names.includes('__proto__')) {
    return (fields) => {
      const value: Value = {};
      for (let i = 0; i < names.length; i++) Object.defineProperty(value, names[i], { value: fields[i], writable: true, enumerable: true, configurable: true });
      return value;
    };
  }
  // the names are JSON string literals: no field name can reach the code as anything but a key
  return new Function('f', `return { ${names.map((n, i) => `${JSON.stringify(n)}: f[${i}]`).join(', ')} };`) as ValueMaker;
}
