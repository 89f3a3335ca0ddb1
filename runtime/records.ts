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
