/**
 * The measures of core.aggregate. Every one can take a row back (retraction) exactly, which is what
 * keeps the aggregate right over CDC streams, and its state is JSON (save/load) for checkpoints.
 *
 * Null and missing values are ignored by every measure (as in SQL), except count without a field,
 * which counts rows. What each keeps per group (per window):
 *
 * | fn            | state                                      | on retraction                      |
 * |---------------|--------------------------------------------|------------------------------------|
 * | count, sum, avg | a count and an exact decimal sum          | subtract                           |
 * | min, max      | each distinct value with its count         | rescan distinct values if the extreme goes |
 * | countDistinct | each distinct value with its count         | decrement                          |
 * | first, last, collect | each live row's value, in arrival order | drop that row (by record key)  |
 * | custom        | your accumulator (JSON)                    | your remove()                      |
 *
 * Sums are exact (decimal-sum.ts): adding and retracting 0.1, 0.2, 0.3 in any order leaves exactly 0.
 */
import type { Value } from '../../../runtime/index.js';
import type { MeasureFn } from './config.js';
import { DecimalSum } from './decimal-sum.js';

/** why a row's value cannot be used by a measure (the record goes to the error port) */
export class Invalid {
  constructor(readonly message: string) {}
}

/** JSON with object keys sorted, so `{a,b}` and `{b,a}` name the same key or group */
export function stableKey(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(stableKey).join(',')}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length === 1) return o[keys[0]] === undefined ? '{}' : `{${JSON.stringify(keys[0])}:${stableKey(o[keys[0]])}}`;
  const parts: string[] = [];
  for (const k of keys.sort()) if (o[k] !== undefined) parts.push(`${JSON.stringify(k)}:${stableKey(o[k])}`);
  return `{${parts.join(',')}}`;
}

/**
 * The key of a group from its values: stable JSON of the list, or for one plain value its JSON alone
 * (the common case, and cheaper). Either way 1 and "1" stay apart, and no single value's JSON starts
 * with "[" the way a list's does.
 */
export function groupKey(gv: unknown[]): string {
  if (gv.length === 1) {
    const v = gv[0];
    if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' || v === null) return JSON.stringify(v);
  }
  return stableKey(gv);
}

export function describeValue(v: unknown): string {
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

// ---- inputs --------------------------------------------------------------------------------------

/** a number for sum/avg: numbers, booleans (1/0) and numeric text ("12.50", as CSV gives) */
function numeric(v: unknown): number | Invalid {
  if (typeof v === 'number') return Number.isFinite(v) ? v : new Invalid(`is ${v}, not a finite number`);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const t = v.trim();
    const n = t === '' ? NaN : Number(t);
    if (Number.isFinite(n)) return n;
  }
  return new Invalid(`must be a number (or numeric text), got ${describeValue(v)}`);
}

/** a value min/max can order: numbers (booleans as 1/0) before text, as SQLite orders them */
function orderable(v: unknown): number | string | Invalid {
  if (typeof v === 'number') return Number.isFinite(v) ? v : new Invalid(`is ${v}, not a finite number`);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return v;
  return new Invalid(`must be a number or a string to be ordered, got ${describeValue(v)}`);
}

function before(a: number | string, b: number | string): boolean {
  if (typeof a === typeof b) return a < b;
  return typeof a === 'number';
}

// ---- measures ------------------------------------------------------------------------------------

/**
 * One measure of a group. `input` reads a row (null: the row adds nothing to it); add/remove take the
 * row's input and identity (its record key) and return the new state; `has` says whether a row can be
 * retracted (it was counted); states round-trip through save/load (JSON) and merge (session windows).
 */
export interface Measure<S = unknown> {
  readonly name: string;
  readonly fn: MeasureFn;
  readonly field?: string;
  input(row: Value): unknown;
  init(): S;
  add(s: S, v: unknown, id: string, seq: number): S;
  has(s: S, v: unknown, id: string): boolean;
  remove(s: S, v: unknown, id: string): S;
  result(s: S, rows: number): unknown;
  save(s: S): unknown;
  load(j: unknown): S;
  merge(into: S, from: S): S;
}

abstract class FieldMeasure<S> implements Measure<S> {
  constructor(readonly name: string, readonly fn: MeasureFn, readonly field: string) {}

  input(row: Value): unknown {
    const v = row[this.field];
    if (v === null || v === undefined) return null;
    const n = this.read(v);
    return n instanceof Invalid ? new Invalid(`measure "${this.name}" (${this.fn}): field "${this.field}" ${n.message}`) : n;
  }

  protected read(v: unknown): unknown {
    return v;
  }

  abstract init(): S;
  abstract add(s: S, v: unknown, id: string, seq: number): S;
  abstract has(s: S, v: unknown, id: string): boolean;
  abstract remove(s: S, v: unknown, id: string): S;
  abstract result(s: S, rows: number): unknown;
  abstract save(s: S): unknown;
  abstract load(j: unknown): S;
  abstract merge(into: S, from: S): S;
}

/** count without a field: the group's row count, which the engine keeps for every group anyway */
class CountRows implements Measure<null> {
  readonly fn = 'count' as const;
  constructor(readonly name: string) {}
  input(): unknown {
    return null;
  }
  init(): null {
    return null;
  }
  add(): null {
    return null;
  }
  has(): boolean {
    return true;
  }
  remove(): null {
    return null;
  }
  result(_s: null, rows: number): number {
    return rows;
  }
  save(): unknown {
    return null;
  }
  load(): null {
    return null;
  }
  merge(): null {
    return null;
  }
}

class CountValues extends FieldMeasure<number> {
  protected override read(): unknown {
    return 1;
  }
  init(): number {
    return 0;
  }
  add(s: number): number {
    return s + 1;
  }
  has(s: number): boolean {
    return s > 0;
  }
  remove(s: number): number {
    return s - 1;
  }
  result(s: number): number {
    return s;
  }
  save(s: number): unknown {
    return s;
  }
  load(j: unknown): number {
    return j as number;
  }
  merge(into: number, from: number): number {
    return into + from;
  }
}

class Sum extends FieldMeasure<DecimalSum> {
  protected override read(v: unknown): unknown {
    return numeric(v);
  }
  init(): DecimalSum {
    return new DecimalSum();
  }
  add(s: DecimalSum, v: unknown): DecimalSum {
    s.add(v as number, 1);
    return s;
  }
  has(s: DecimalSum): boolean {
    return s.n > 0;
  }
  remove(s: DecimalSum, v: unknown): DecimalSum {
    s.add(v as number, -1);
    return s;
  }
  result(s: DecimalSum): number | null {
    if (s.n === 0) return null;
    return this.fn === 'avg' ? s.value() / s.n : s.value();
  }
  save(s: DecimalSum): unknown {
    return s.save();
  }
  load(j: unknown): DecimalSum {
    return DecimalSum.load(j);
  }
  merge(into: DecimalSum, from: DecimalSum): DecimalSum {
    into.merge(from);
    return into;
  }
}

/** value → how many rows hold it */
type Counts = Map<unknown, number>;

function countUp(c: Counts, v: unknown, by: number): void {
  const n = (c.get(v) ?? 0) + by;
  if (n <= 0) c.delete(v);
  else c.set(v, n);
}

interface Extreme {
  counts: Counts;
  /** the current min (max); undefined when unknown after the old one was retracted */
  best: number | string | undefined;
}

class MinMax extends FieldMeasure<Extreme> {
  private readonly better = this.fn === 'min' ? before : (a: number | string, b: number | string) => before(b, a);
  protected override read(v: unknown): unknown {
    return orderable(v);
  }
  init(): Extreme {
    return { counts: new Map(), best: undefined };
  }
  add(s: Extreme, v: unknown): Extreme {
    const x = v as number | string;
    const known = s.best !== undefined || s.counts.size === 0;
    countUp(s.counts, x, 1);
    if (known && (s.best === undefined || this.better(x, s.best))) s.best = x;
    return s;
  }
  has(s: Extreme, v: unknown): boolean {
    return s.counts.has(v);
  }
  remove(s: Extreme, v: unknown): Extreme {
    countUp(s.counts, v, -1);
    if (v === s.best && !s.counts.has(v)) s.best = undefined; // found again by a scan when asked
    return s;
  }
  result(s: Extreme): number | string | null {
    if (s.best === undefined && s.counts.size > 0) {
      for (const v of s.counts.keys()) if (s.best === undefined || this.better(v as number | string, s.best)) s.best = v as number | string;
    }
    return s.best ?? null;
  }
  save(s: Extreme): unknown {
    return [...s.counts];
  }
  load(j: unknown): Extreme {
    return { counts: new Map(j as [unknown, number][]), best: undefined };
  }
  merge(into: Extreme, from: Extreme): Extreme {
    for (const [v, n] of from.counts) countUp(into.counts, v, n);
    into.best = undefined;
    return into;
  }
}

class CountDistinct extends FieldMeasure<Counts> {
  protected override read(v: unknown): unknown {
    // objects are told apart by their stable JSON; a leading NUL keeps them apart from strings
    return v !== null && typeof v === 'object' ? `\u0000${stableKey(v)}` : v;
  }
  init(): Counts {
    return new Map();
  }
  add(s: Counts, v: unknown): Counts {
    countUp(s, v, 1);
    return s;
  }
  has(s: Counts, v: unknown): boolean {
    return s.has(v);
  }
  remove(s: Counts, v: unknown): Counts {
    countUp(s, v, -1);
    return s;
  }
  result(s: Counts): number {
    return s.size;
  }
  save(s: Counts): unknown {
    return [...s];
  }
  load(j: unknown): Counts {
    return new Map(j as [unknown, number][]);
  }
  merge(into: Counts, from: Counts): Counts {
    for (const [v, n] of from) countUp(into, v, n);
    return into;
  }
}

interface Ordered {
  /** record key → [arrival sequence, value], in arrival order (a rewritten row moves to the end) */
  rows: Map<string, [number, unknown]>;
  /** the newest row's key; undefined when unknown after it was retracted */
  lastId: string | undefined;
}

class Arrival extends FieldMeasure<Ordered> {
  constructor(name: string, fn: MeasureFn, field: string, private readonly limit = 100) {
    super(name, fn, field);
  }
  init(): Ordered {
    return { rows: new Map(), lastId: undefined };
  }
  add(s: Ordered, v: unknown, id: string, seq: number): Ordered {
    s.rows.delete(id);
    s.rows.set(id, [seq, v]);
    s.lastId = id;
    return s;
  }
  has(s: Ordered, _v: unknown, id: string): boolean {
    return s.rows.has(id);
  }
  remove(s: Ordered, _v: unknown, id: string): Ordered {
    s.rows.delete(id);
    if (s.lastId === id) s.lastId = undefined;
    return s;
  }
  result(s: Ordered): unknown {
    if (this.fn === 'collect') {
      const out: unknown[] = [];
      for (const [, v] of s.rows.values()) {
        if (out.length >= this.limit) break;
        out.push(v);
      }
      return out;
    }
    if (s.rows.size === 0) return null;
    if (this.fn === 'first') return s.rows.values().next().value![1];
    if (s.lastId === undefined) for (const id of s.rows.keys()) s.lastId = id;
    return s.rows.get(s.lastId!)![1];
  }
  save(s: Ordered): unknown {
    return [...s.rows];
  }
  load(j: unknown): Ordered {
    return { rows: new Map(j as [string, [number, unknown]][]), lastId: undefined };
  }
  merge(into: Ordered, from: Ordered): Ordered {
    const all = [...into.rows, ...from.rows].sort((a, b) => a[1][0] - b[1][0]);
    return { rows: new Map(all), lastId: undefined };
  }
}

/** custom reducer state: the accumulator and its last result; the sandbox does add/remove per batch */
export interface CustomState {
  acc: unknown;
  out: unknown;
}

export class Custom implements Measure<CustomState> {
  readonly fn = 'custom' as const;
  constructor(
    readonly name: string,
    readonly field: string | undefined,
    private readonly initial: unknown,
    readonly canRemove: boolean,
  ) {}
  input(row: Value): unknown {
    if (this.field === undefined) return row;
    return row[this.field] ?? null;
  }
  init(): CustomState {
    const acc = this.initial === undefined ? null : structuredClone(this.initial);
    return { acc, out: null };
  }
  // the engine records the operations and runs them in the sandbox, once per batch
  add(s: CustomState): CustomState {
    return s;
  }
  has(): boolean {
    return this.canRemove;
  }
  remove(s: CustomState): CustomState {
    return s;
  }
  result(s: CustomState): unknown {
    return s.out;
  }
  save(s: CustomState): unknown {
    return [s.acc, s.out];
  }
  load(j: unknown): CustomState {
    const [acc, out] = j as [unknown, unknown];
    return { acc, out };
  }
  merge(): CustomState {
    throw new Error('custom measures cannot merge (session windows are refused by the config schema)');
  }
}

export interface MeasureSpec {
  name: string;
  fn: MeasureFn;
  field?: string;
  limit?: number;
  init?: unknown;
  remove?: string;
}

export function createMeasure(m: MeasureSpec): Measure {
  switch (m.fn) {
    case 'count':
      return m.field === undefined ? new CountRows(m.name) : new CountValues(m.name, m.fn, m.field);
    case 'sum':
    case 'avg':
      return new Sum(m.name, m.fn, m.field!);
    case 'min':
    case 'max':
      return new MinMax(m.name, m.fn, m.field!) as Measure;
    case 'countDistinct':
      return new CountDistinct(m.name, m.fn, m.field!) as Measure;
    case 'first':
    case 'last':
    case 'collect':
      return new Arrival(m.name, m.fn, m.field!, m.limit) as Measure;
    case 'custom':
      return new Custom(m.name, m.field, m.init, m.remove !== undefined) as Measure;
  }
}
