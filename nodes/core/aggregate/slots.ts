/**
 * The groups core.aggregate holds, as slots: one per group, or per group and window. This module keeps
 * the table of slots and what windows need of it — the open sessions of each group, the earliest end
 * (so closing can skip the scan), sessions that merge when a row bridges them — and how a slot is saved
 * in a checkpoint. What a row does to a slot (add, retract, emit) stays in the engine.
 */
import type { Value } from '../../../runtime/index.js';
import { groupKey, type Measure } from './measures.js';
import type { WindowSpec } from './windows.js';

export interface Slot {
  key: string;
  g: string;
  gv: unknown[];
  /** window start and end (session: end = last + gap); NaN without windows */
  ws: number;
  we: number;
  /** session: the latest event time in it */
  last: number;
  rows: number;
  m: unknown[];
  dirty: boolean;
  /** records since the last emission */
  pending: number;
  lastEmitAt: number;
  /** the value last emitted: the before of a later delete */
  emitted: Value | undefined;
  /** the record that last touched it (counts `pending` once per record); not saved */
  stamp: number;
}

export type SavedSlot = [unknown[], number | null, number | null, number, unknown[], 0 | 1, number, number, Value | null];

export class Slots {
  private readonly byKey = new Map<string, Slot>();
  /** session windows: a group's open sessions, by start */
  private readonly sessions = new Map<string, Slot[]>();
  /** the slots changed since they were last emitted */
  readonly dirty = new Set<Slot>();
  /** no window ends before this: closing can skip the scan */
  private nextClose = Infinity;

  constructor(
    private readonly window: WindowSpec,
    private readonly measures: Measure[],
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  get(key: string): Slot | undefined {
    return this.byKey.get(key);
  }

  values(): IterableIterator<Slot> {
    return this.byKey.values();
  }

  key(g: string, ws: number): string {
    return Number.isNaN(ws) ? g : `${g}\u0001${ws}`;
  }

  create(g: string, gv: unknown[], ws: number, we: number): Slot {
    return {
      key: this.key(g, ws),
      g,
      gv,
      ws,
      we,
      last: ws,
      rows: 0,
      m: this.measures.map((m) => m.init()),
      dirty: false,
      pending: 0,
      lastEmitAt: 0,
      emitted: undefined,
      stamp: 0,
    };
  }

  insert(slot: Slot): void {
    this.byKey.set(slot.key, slot);
    if (slot.dirty) this.dirty.add(slot);
    if (!Number.isNaN(slot.we) && slot.we < this.nextClose) this.nextClose = slot.we;
    if (this.window.type === 'session') {
      const list = this.sessions.get(slot.g) ?? [];
      list.push(slot);
      list.sort((a, b) => a.ws - b.ws);
      this.sessions.set(slot.g, list);
    }
  }

  drop(slot: Slot): void {
    this.byKey.delete(slot.key);
    this.dirty.delete(slot);
    if (this.window.type === 'session') {
      const list = this.sessions.get(slot.g);
      const k = list?.indexOf(slot) ?? -1;
      if (k >= 0) list!.splice(k, 1);
      if (list && list.length === 0) this.sessions.delete(slot.g);
    }
  }

  /** session windows: the open session of group g that holds time t */
  sessionAt(g: string, t: number): Slot | undefined {
    return this.sessions.get(g)?.find((s) => s.ws <= t && t <= s.last);
  }

  /**
   * Session windows: the session a row of group g at time t joins. Sessions it bridges are merged into
   * the earliest (each merged-away session is handed to `gone` before it is dropped), and a session
   * that starts earlier is re-keyed (handed to `gone` under its old window_start first). Sessions never
   * shrink when rows are taken back.
   */
  joinSession(g: string, gv: unknown[], t: number, gone: (slot: Slot) => void): Slot {
    const w = this.window as Extract<WindowSpec, { type: 'session' }>;
    const near = (this.sessions.get(g) ?? []).filter((s) => t > s.ws - w.gap && t < s.last + w.gap);
    if (near.length === 0) {
      const slot = this.create(g, gv, t, t + w.gap);
      this.insert(slot);
      return slot;
    }
    const target = near[0];
    const start = Math.min(target.ws, t);
    let last = Math.max(target.last, t);
    for (const other of near.slice(1)) {
      target.rows += other.rows;
      target.m = target.m.map((st, j) => this.measures[j].merge(st, other.m[j]));
      last = Math.max(last, other.last);
      gone(other);
      this.drop(other);
    }
    if (start !== target.ws) {
      gone(target);
      this.drop(target);
      target.ws = start;
      target.key = this.key(target.g, start);
      target.emitted = undefined;
      this.insert(target);
    }
    target.last = last;
    target.we = last + w.gap;
    return target;
  }

  /** drops the slots whose window end the clock has reached, each handed to `closing` first; true if any */
  closeDue(clock: number, closing: (slot: Slot) => void): boolean {
    if (clock < this.nextClose) return false;
    let next = Infinity;
    let closed = false;
    for (const slot of [...this.byKey.values()]) {
      if (slot.we <= clock) {
        closing(slot);
        this.drop(slot);
        closed = true;
      } else if (slot.we < next) next = slot.we;
    }
    this.nextClose = next;
    return closed;
  }

  save(s: Slot): SavedSlot {
    const ws = Number.isNaN(s.ws) ? null : s.ws;
    return [
      s.gv,
      ws,
      ws === null ? null : this.window.type === 'session' ? s.last : s.we,
      s.rows,
      s.m.map((st, j) => this.measures[j].save(st)),
      s.dirty ? 1 : 0,
      s.pending,
      s.lastEmitAt,
      s.emitted ?? null,
    ];
  }

  load(saved: SavedSlot): Slot {
    const [gv, ws, endOrLast, rows, m, dirty, pending, lastEmitAt, emitted] = saved;
    const w = this.window;
    const slot = this.create(groupKey(gv), gv, ws ?? NaN, NaN);
    if (ws !== null) {
      if (w.type === 'session') {
        slot.last = endOrLast!;
        slot.we = endOrLast! + w.gap;
      } else slot.we = endOrLast!;
    }
    slot.rows = rows;
    slot.m = m.map((j, k) => this.measures[k].load(j));
    slot.dirty = dirty === 1;
    slot.pending = pending;
    slot.lastEmitAt = lastEmitAt;
    slot.emitted = emitted ?? undefined;
    return slot;
  }
}
