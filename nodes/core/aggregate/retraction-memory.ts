/**
 * The retraction memory of core.aggregate: for each live record key, what its row contributed, so an
 * update or delete can take the old row back exactly even when the source sends no (or a partial)
 * before row. One entry per live key, so an entry is kept small: [group key (the group's own string,
 * shared with the slot), time or null, ...the raw values of the fields the measures read] — or
 * [g, t, row] when a custom measure reads the whole row. Inputs are read again from it on retraction,
 * the same way as when the row was added, so they come out the same.
 */
import type { Value } from '../../../runtime/index.js';
import type { Measure } from './measures.js';

export type Remembered = unknown[];

/** a remembered row: its group key, its time (windows) and the row as far as the measures read it */
export interface RecalledRow {
  g: string;
  t: number | undefined;
  row: Value;
}

export class RetractionMemory {
  private readonly entries = new Map<string, Remembered>();
  /** the fields an entry keeps (undefined: the whole row) */
  private readonly fields: string[] | undefined;

  constructor(measures: Measure[]) {
    this.fields = measures.some((m) => m.field === undefined && m.fn === 'custom')
      ? undefined
      : [...new Set(measures.flatMap((m) => (m.field === undefined ? [] : [m.field])))];
  }

  get size(): number {
    return this.entries.size;
  }

  get(id: string): Remembered | undefined {
    return this.entries.get(id);
  }

  /** keeps (or replaces) what the row of record key `id` contributes to group `g` at time `t` */
  remember(id: string, g: string, t: number | undefined, row: Value): void {
    const fields = this.fields;
    if (!fields) {
      this.entries.set(id, [g, t ?? null, row]);
      return;
    }
    const e: Remembered = new Array(2 + fields.length);
    e[0] = g;
    e[1] = t ?? null;
    for (let k = 0; k < fields.length; k++) e[2 + k] = row[fields[k]] ?? null;
    this.entries.set(id, e);
  }

  forget(id: string): void {
    this.entries.delete(id);
  }

  /** puts an entry back as it was (undefined: there was none), when a pass is undone */
  put(id: string, e: Remembered | undefined): void {
    if (e) this.entries.set(id, e);
    else this.entries.delete(id);
  }

  /** an entry's group, time and row, ready for the measures to read again */
  recall(e: Remembered): RecalledRow {
    const fields = this.fields;
    let row: Value;
    if (!fields) row = e[2] as Value;
    else {
      row = {};
      for (let k = 0; k < fields.length; k++) row[fields[k]] = e[2 + k];
    }
    return { g: e[0] as string, t: (e[1] as number | null) ?? undefined, row };
  }

  /** drops the entries whose rows can no longer be taken back (all their windows closed) */
  forgetWhere(gone: (g: string, t: number) => boolean): void {
    for (const [id, e] of this.entries) if (gone(e[0] as string, e[1] as number)) this.entries.delete(id);
  }

  save(): [string, Remembered][] {
    return [...this.entries];
  }

  load(saved: [string, Remembered][]): void {
    for (const [k, e] of saved) this.entries.set(k, e);
  }
}
