/**
 * The state machine behind core.aggregate: what each record does to the groups (slots, in slots.ts)
 * and to the keyed retraction memory (retraction-memory.ts), the watermark, and the emit policy. Pure
 * host code; the sandboxed parts (groupBy expressions, custom reducers) come in as compiled functions.
 *
 * A batch is applied record by record, in order. For each record the row to take back (the old row:
 * from retraction memory, else from `before`) and the row to add are worked out and checked first
 * (values readable, not late, the old row really counted); only then is anything changed, so a record
 * either counts in full or goes to the error port with the reason. Custom reducers run after the pass,
 * in one sandbox call per measure; if one throws for a record, the pass is undone (touched groups are
 * backed up first, only when custom measures exist) and run again without that record.
 *
 * Output: `u` records keyed by the group object (plus `window_start` for windows), a `d` when a group
 * (window) drops to zero rows or a session is merged into another. The result is a pure function of
 * the records, whatever the batch boundaries: that is what lets a restart from a checkpoint resume
 * with the same totals.
 */
import type { PortOutputs, SluiceRecord, UserFunction, Value } from '../../../runtime/index.js';
import { ConfigError } from '../../../runtime/index.js';
import { WINDOW_END, WINDOW_START } from './config.js';
import type { ReducerReply } from './custom.js';
import { Custom, Invalid, describeValue, groupKey, stableKey, type CustomState, type Measure } from './measures.js';
import { RetractionMemory, type Remembered } from './retraction-memory.js';
import { Slots, type SavedSlot, type Slot } from './slots.js';
import { describeWindow, eventTime, iso, lastEnd, windowStarts, type WindowSpec } from './windows.js';

export interface GroupSpec {
  name: string;
  /** a field of the row, or else the index of a compiled expression */
  field?: string;
  expr?: number;
}

export interface EngineOptions {
  nodeId: string;
  groupBy: GroupSpec[];
  measures: Measure[];
  window: WindowSpec;
  emit: { everyMs?: number; everyRecords?: number; final: boolean };
  retractionMemory: boolean;
  /** stable text of the config that shapes the state: a snapshot of another shape is refused */
  fingerprint: string;
  /** compiled groupBy expressions, by GroupSpec.expr */
  exprs: UserFunction[];
  /** compiled custom reducers, by measure index */
  reducers: Map<number, UserFunction>;
}

/** what one row contributes: its group, its time (windows), and each measure's input (null: nothing) */
interface Contribution {
  g: string;
  /** the group's values; only needed to create a group, so not kept in retraction memory */
  gv?: unknown[];
  t: number | undefined;
  v: unknown[];
}

interface Snapshot {
  v: 1;
  fingerprint: string;
  watermark: number | null;
  seq: number;
  slots: SavedSlot[];
  memory: [string, Remembered][] | null;
}

/** what one pass over a batch builds up besides state changes */
interface Pass {
  errors: Map<number, string>;
  out: SluiceRecord[];
  /** custom measure index → slot → [sign, input, record index] */
  ops: Map<number, Map<Slot, [1 | -1, unknown, number][]>>;
  /** only when custom measures exist: slots and memory entries as they were before the pass */
  backup?: { slots: Map<string, SavedSlot | null>; memory: Map<string, Remembered | undefined>; watermark: number; seq: number };
}

/** the slots a row is taken back from when there is no old row (shared: never changed) */
const NO_SLOTS: readonly Slot[] = [];
/** the key memo holds at most this many values, or twice the groups held if more: then it starts again */
const KEY_MEMO_MIN = 10_000;
/** V8 copies substrings shorter than 13 characters rather than pointing into their parent */
const MEMO_MAX_CHARS = 12;

interface RowExprs {
  value?: unknown[] | Invalid;
  before?: unknown[] | Invalid;
}

export class Aggregator {
  private readonly slots: Slots;
  private readonly memory: RetractionMemory | undefined;
  private watermark = -Infinity;
  private seq = 0;
  private stamp = 0;
  /** fields the node reads from a row: a before row lacking one cannot be retracted exactly */
  private readonly readFields: string[];
  private readonly needsIdentity: boolean;
  private readonly groupNames: string[];
  /** the new row's contribution, refilled per record: only its `gv` can outlive the record, so slots get a copy */
  private readonly scratch: Contribution;
  /** one group field: its value → groupKey([value]), so a record reuses the group's key string */
  private readonly keyMemo = new Map<unknown, string>();

  constructor(private readonly o: EngineOptions) {
    this.slots = new Slots(o.window, o.measures);
    this.memory = o.retractionMemory ? new RetractionMemory(o.measures) : undefined;
    const w = o.window;
    const fields = new Set<string>();
    for (const g of o.groupBy) if (g.field !== undefined) fields.add(g.field);
    for (const m of o.measures) if (m.field !== undefined) fields.add(m.field);
    if (w.type !== 'none' && w.time.kind === 'event') fields.add(w.time.field);
    this.readFields = [...fields];
    this.needsIdentity = o.retractionMemory || o.measures.some((m) => m.fn === 'first' || m.fn === 'last' || m.fn === 'collect');
    this.groupNames = o.groupBy.map((g) => g.name);
    this.scratch = { g: '', gv: new Array<unknown>(o.groupBy.length), t: undefined, v: new Array<unknown>(o.measures.length) };
  }

  get windowed(): boolean {
    return this.o.window.type !== 'none';
  }

  // ---- the node's hooks ------------------------------------------------------------------------

  async process(records: SluiceRecord[], now: number): Promise<PortOutputs> {
    const out: SluiceRecord[] = [];
    const w = this.o.window;
    if (w.type !== 'none' && w.time.kind === 'processing') this.close(now, now, out);
    const exprs = await this.evaluateExprs(records);
    const rejected = new Map<number, string>();
    let pass: Pass;
    for (;;) {
      pass = this.pass(records, exprs, rejected, now);
      if (this.o.reducers.size === 0) break;
      const thrown = await this.runReducers(pass);
      if (thrown.size === 0) break;
      this.restore(pass);
      for (const [i, why] of thrown) rejected.set(i, why);
    }
    out.push(...pass.out);
    for (const [i, why] of pass.errors) rejected.set(i, why);
    const error = [...rejected.keys()].sort((a, b) => a - b).map((i) => this.errorRecord(records[i], rejected.get(i)!));
    if (w.type !== 'none' && w.time.kind === 'event') this.close(this.watermark, now, out);
    this.emitDue(out, now);
    return { out, error };
  }

  /** emits held changes that are due and closes processing-time windows */
  tick(now: number): PortOutputs {
    const out: SluiceRecord[] = [];
    const w = this.o.window;
    if (w.type !== 'none' && w.time.kind === 'processing') this.close(now, now, out);
    this.emitDue(out, now);
    return { out };
  }

  /** the input ended: close every window and emit everything held */
  flush(now: number): PortOutputs {
    const out: SluiceRecord[] = [];
    if (this.windowed) {
      let maxEnd = -Infinity;
      for (const s of this.slots.values()) maxEnd = Math.max(maxEnd, s.we);
      this.close(Infinity, now, out);
      // records for the windows closed here are late if the input is ever continued
      const w = this.o.window;
      if (w.type !== 'none' && w.time.kind === 'event' && maxEnd > this.watermark) this.watermark = maxEnd;
    }
    for (const s of this.slots.dirty) this.emitSlot(s, out, now);
    return { out };
  }

  snapshot(): Snapshot {
    return {
      v: 1,
      fingerprint: this.o.fingerprint,
      watermark: Number.isFinite(this.watermark) ? this.watermark : null,
      seq: this.seq,
      slots: [...this.slots.values()].map((s) => this.slots.save(s)),
      memory: this.memory ? this.memory.save() : null,
    };
  }

  restoreState(state: unknown): void {
    const s = state as Snapshot;
    if (!s || s.v !== 1 || !Array.isArray(s.slots)) {
      throw new ConfigError(this.o.nodeId, '', 'its saved state is not in a form this version reads; run the flow once with --from-start');
    }
    if (s.fingerprint !== this.o.fingerprint) {
      throw new ConfigError(
        this.o.nodeId,
        '',
        'its saved state was built with another groupBy, measures, window or retractionMemory; run the flow once with --from-start (or undo the change) so the totals are rebuilt from the input',
      );
    }
    this.watermark = s.watermark ?? -Infinity;
    this.seq = s.seq;
    for (const saved of s.slots) this.slots.insert(this.slots.load(saved));
    if (this.memory && s.memory) this.memory.load(s.memory);
  }

  /** how much is held, for descriptions and the bench */
  sizes(): { slots: number; memory: number } {
    return { slots: this.slots.size, memory: this.memory?.size ?? 0 };
  }

  // ---- one pass over a batch -------------------------------------------------------------------

  private pass(records: SluiceRecord[], exprs: RowExprs[] | undefined, skip: Map<number, string>, now: number): Pass {
    const pass: Pass = { errors: new Map(), out: [], ops: new Map() };
    if (this.o.reducers.size > 0) {
      pass.backup = { slots: new Map(), memory: new Map(), watermark: this.watermark, seq: this.seq };
      for (const j of this.o.reducers.keys()) pass.ops.set(j, new Map());
    }
    for (let i = 0; i < records.length; i++) {
      if (skip.has(i)) continue;
      const why = this.apply(records[i], i, exprs?.[i], now, pass);
      if (why !== undefined) pass.errors.set(i, why);
    }
    return pass;
  }

  /** applies one record, or says why not (and then changes nothing) */
  private apply(rec: SluiceRecord, i: number, ex: RowExprs | undefined, now: number, pass: Pass): string | undefined {
    const op = rec.op;
    let id = '';
    if (this.needsIdentity) {
      if (rec.key === undefined || rec.key === null) {
        return 'the record has no key: retraction memory and first/last/collect tell rows apart by record key';
      }
      id = stableKey(rec.key);
    }
    let neu: Contribution | undefined;
    if (op !== 'd') {
      if (!rec.value) return `a record with op ${op} needs a value`;
      const c = this.contribution(rec.value, ex?.value, now, this.scratch);
      if (c instanceof Invalid) return c.message;
      neu = c;
    }
    let old: Contribution | undefined;
    if (this.memory) {
      const e = this.memory.get(id);
      if (e) {
        const c = this.recall(e);
        if (c instanceof Invalid) return `retraction memory: ${c.message}`;
        old = c;
      }
      if (!old && op === 'd') {
        return `deletes record key ${id}, which this aggregate holds no row for (never counted, or counted in a window that has closed)`;
      }
      // an update of a key never seen counts as an insert
    } else if (op === 'u' || op === 'd') {
      const c = this.fromBefore(rec, ex, now);
      if (typeof c === 'string') return c;
      old = c;
    }

    const clock = this.clock(now);
    let from: readonly Slot[] = NO_SLOTS;
    if (old) {
      const found = this.retractTargets(old, clock);
      if (typeof found === 'string') return found;
      from = found;
      if (from.length === 0 && op === 'd') return this.lateMessage('the row it deletes', old.t!, clock);
      for (const slot of from) {
        if (slot.rows < 1) return this.neverCounted(slot);
        for (let j = 0; j < this.o.measures.length; j++) {
          const v = old.v[j];
          if (v === null) continue;
          const m = this.o.measures[j];
          if (m instanceof Custom && !m.canRemove) {
            return `measure "${m.name}" (custom) has no remove function, so it cannot take back the old row of ${op === 'd' ? 'a delete' : 'an update'}; add remove: (acc, value) => newAcc`;
          }
          if (!m.has(slot.m[j], v, id)) return `${this.neverCounted(slot)} (measure "${m.name}" holds no value ${describeValue(v)} for it)`;
        }
      }
    }
    let to: number[] | undefined; // fixed windows: starts of the open windows the new row goes to
    if (neu) {
      const w = this.o.window;
      if (w.type === 'tumbling' || w.type === 'hopping') {
        to = windowStarts(w.size, w.slide, neu.t!).filter((s) => s + w.size > clock);
        if (to.length === 0) return this.lateMessage('its event time', neu.t!, clock);
      } else if (w.type === 'session' && neu.t! + w.gap <= clock) {
        return this.lateMessage('its event time', neu.t!, clock);
      }
    }

    // checked: now change things
    this.stamp++;
    const seq = this.seq++;
    for (const slot of from) this.retract(slot, old!, id, i, pass);
    let g = neu?.g;
    if (neu) {
      const w = this.o.window;
      let slot: Slot;
      if (w.type === 'none') this.add((slot = this.slotFor(neu.g, neu.gv!, NaN, NaN, pass)), neu, id, seq, i, pass);
      else if (w.type === 'session') this.add((slot = this.sessionFor(neu, pass)), neu, id, seq, i, pass);
      else for (const s of to!) this.add((slot = this.slotFor(neu.g, neu.gv!, s, s + w.size, pass)), neu, id, seq, i, pass);
      g = slot!.g; // the group's own string: memory entries share it
      if (w.type !== 'none' && w.time.kind === 'event') this.watermark = Math.max(this.watermark, neu.t! - w.lateness);
    }
    if (this.memory) {
      if (pass.backup && !pass.backup.memory.has(id)) pass.backup.memory.set(id, this.memory.get(id));
      if (neu) this.memory.remember(id, g!, neu.t, rec.value!);
      else this.memory.forget(id);
    }
    return undefined;
  }

  /** a remembered row's contribution: its inputs read again (the same way, so the same values) */
  private recall(e: Remembered): Contribution | Invalid {
    const { g, t, row } = this.memory!.recall(e);
    const ms = this.o.measures;
    const v = new Array<unknown>(ms.length);
    for (let j = 0; j < ms.length; j++) {
      const x = ms[j].input(row);
      if (x instanceof Invalid) return x;
      v[j] = x;
    }
    return { g, t, v };
  }

  private fromBefore(rec: SluiceRecord, ex: RowExprs | undefined, now: number): Contribution | string {
    const what = rec.op === 'd' ? 'a delete' : 'an update';
    const b = rec.before;
    if (!b) {
      return `${what} without a before row: with retractionMemory off the old row must come from before; turn retractionMemory on, or have the source send full before rows`;
    }
    const missing = this.readFields.find((f) => b[f] === undefined);
    if (missing !== undefined) {
      return `${what} whose before row lacks field "${missing}" (a partial before, as PostgreSQL sends with REPLICA IDENTITY DEFAULT), so the old row cannot be taken back exactly; turn retractionMemory on, or have the source send full before rows`;
    }
    const w = this.o.window;
    if (w.type !== 'none' && w.time.kind === 'processing') {
      return `${what} in processing-time windows needs retractionMemory: a before row does not say when it was counted`;
    }
    const c = this.contribution(b, ex?.before, now);
    return c instanceof Invalid ? `before row: ${c.message}` : c;
  }

  /** what `row` contributes, into `into` when given (else a new object) */
  private contribution(row: Value, exprs: unknown[] | Invalid | undefined, now: number, into?: Contribution): Contribution | Invalid {
    if (exprs instanceof Invalid) return exprs;
    const { groupBy, measures, window: w } = this.o;
    const gv = into ? into.gv! : new Array<unknown>(groupBy.length);
    for (let k = 0; k < groupBy.length; k++) {
      const spec = groupBy[k];
      gv[k] = spec.field !== undefined ? (row[spec.field] ?? null) : (exprs![spec.expr!] ?? null);
    }
    let t: number | undefined;
    if (w.type !== 'none') {
      if (w.time.kind === 'processing') t = now;
      else {
        const e = eventTime(w.time.field, row[w.time.field]);
        if (e instanceof Invalid) return e;
        t = e;
      }
    }
    const v = into ? into.v : new Array<unknown>(measures.length);
    for (let j = 0; j < measures.length; j++) {
      const x = measures[j].input(row);
      if (x instanceof Invalid) return x;
      v[j] = x;
    }
    if (!into) return { g: groupKey(gv), gv, t, v };
    into.g = this.keyOf(gv);
    into.t = t;
    return into;
  }

  /** groupKey(gv), from the memo for one plain value: most records fall in a group seen before */
  private keyOf(gv: unknown[]): string {
    if (gv.length !== 1) return groupKey(gv);
    const x = gv[0];
    // short strings only: a longer one may be a slice of a source's whole text, which the memo would keep alive
    if (typeof x === 'string' ? x.length > MEMO_MAX_CHARS : x !== null && typeof x !== 'number' && typeof x !== 'boolean') return groupKey(gv);
    let g = this.keyMemo.get(x);
    if (g === undefined) {
      g = groupKey(gv);
      if (this.keyMemo.size >= Math.max(KEY_MEMO_MIN, 2 * this.slots.size)) this.keyMemo.clear();
      this.keyMemo.set(x, g);
    }
    return g;
  }

  /** the slots an old row is taken back from: its group, or its windows that are still open */
  private retractTargets(old: Contribution, clock: number): Slot[] | string {
    const w = this.o.window;
    if (w.type === 'none') {
      const slot = this.slots.get(old.g);
      return slot ? [slot] : `takes back a row of group ${old.g}, which this aggregate holds no rows for (never counted)`;
    }
    const t = old.t!;
    if (w.type === 'session') {
      const s = this.slots.sessionAt(old.g, t);
      return s ? [s] : [];
    }
    const found: Slot[] = [];
    for (const start of windowStarts(w.size, w.slide, t)) {
      if (start + w.size <= clock) continue;
      const slot = this.slots.get(this.slots.key(old.g, start));
      if (!slot) return `takes back a row of group ${old.g} in window ${describeWindow(start, start + w.size)}, which holds no rows for it (never counted)`;
      found.push(slot);
    }
    return found;
  }

  private clock(now: number): number {
    const w = this.o.window;
    return w.type === 'none' ? -Infinity : w.time.kind === 'processing' ? now : this.watermark;
  }

  private lateMessage(what: string, t: number, clock: number): string {
    const w = this.o.window;
    if (w.type === 'none') return 'late';
    const mark =
      w.time.kind === 'event'
        ? `the watermark is ${iso(clock)} (latest event time ${iso(clock + w.lateness)} − lateness ${w.lateness} ms)`
        : `the wall clock is ${iso(clock)}`;
    if (w.type === 'session') {
      return `late: ${what} ${iso(t)} would make a session ending ${iso(t + w.gap)} (gap ${w.gap} ms), which has closed: ${mark}`;
    }
    const start = Math.floor(t / w.slide) * w.slide;
    const which = w.type === 'hopping' ? `all its windows have closed, the last ${describeWindow(start, lastEnd(w.size, w.slide, t))}` : `window ${describeWindow(start, start + w.size)} has closed`;
    return `late: ${what} ${iso(t)} falls where ${which}: ${mark}; closed windows are final`;
  }

  private neverCounted(slot: Slot): string {
    const where = Number.isNaN(slot.ws) ? '' : ` in window ${describeWindow(slot.ws, slot.we)}`;
    return `takes back a row of group ${slot.g}${where} that this aggregate never counted`;
  }

  // ---- state changes ---------------------------------------------------------------------------

  private retract(slot: Slot, c: Contribution, id: string, i: number, pass: Pass): void {
    this.touch(slot, pass);
    slot.rows--;
    const ms = this.o.measures;
    for (let j = 0; j < ms.length; j++) {
      const v = c.v[j];
      if (v === null) continue;
      const ops = pass.ops.get(j);
      if (ops) pushOp(ops, slot, [-1, v, i]);
      else slot.m[j] = ms[j].remove(slot.m[j], v, id);
    }
  }

  private add(slot: Slot, c: Contribution, id: string, seq: number, i: number, pass: Pass): void {
    this.touch(slot, pass);
    slot.rows++;
    const ms = this.o.measures;
    for (let j = 0; j < ms.length; j++) {
      const v = c.v[j];
      if (v === null) continue;
      const ops = pass.ops.get(j);
      if (ops) pushOp(ops, slot, [1, v, i]);
      else slot.m[j] = ms[j].add(slot.m[j], v, id, seq);
    }
  }

  /** marks a slot changed by the current record (and backs it up first when the pass may be undone) */
  private touch(slot: Slot, pass: Pass): void {
    if (pass.backup && !pass.backup.slots.has(slot.key)) pass.backup.slots.set(slot.key, this.slots.save(slot));
    if (slot.stamp !== this.stamp) {
      slot.stamp = this.stamp;
      slot.pending++;
    }
    if (!slot.dirty) {
      slot.dirty = true;
      this.slots.dirty.add(slot);
    }
  }

  private slotFor(g: string, gv: unknown[], ws: number, we: number, pass: Pass): Slot {
    const key = this.slots.key(g, ws);
    let slot = this.slots.get(key);
    if (!slot) {
      if (pass.backup && !pass.backup.slots.has(key)) pass.backup.slots.set(key, null);
      slot = this.slots.create(g, gv.slice(), ws, we);
      this.slots.insert(slot);
      for (const ops of pass.ops.values()) if (!ops.has(slot)) ops.set(slot, []); // a custom result even without inputs
    }
    return slot;
  }

  /** session windows: merged-away and re-keyed sessions are deleted under their old key */
  private sessionFor(c: Contribution, pass: Pass): Slot {
    return this.slots.joinSession(c.g, c.gv!.slice(), c.t!, (gone) => pass.out.push(this.deleteRecord(gone)));
  }

  private restore(pass: Pass): void {
    const b = pass.backup!;
    for (const [key, saved] of b.slots) {
      const current = this.slots.get(key);
      if (current) this.slots.drop(current);
      if (saved) this.slots.insert(this.slots.load(saved));
    }
    if (this.memory) for (const [id, entry] of b.memory) this.memory.put(id, entry);
    this.watermark = b.watermark;
    this.seq = b.seq;
  }

  // ---- the sandbox -----------------------------------------------------------------------------

  private async evaluateExprs(records: SluiceRecord[]): Promise<RowExprs[] | undefined> {
    const fns = this.o.exprs;
    if (fns.length === 0) return undefined;
    const calls: unknown[][] = [];
    const slots: [number, 'value' | 'before'][] = [];
    records.forEach((r, i) => {
      const meta = { ...r.meta, op: r.op, key: r.key };
      if (r.op !== 'd' && r.value) {
        calls.push([r.value, meta]);
        slots.push([i, 'value']);
      }
      if (!this.memory && r.before && r.op !== 'c' && r.op !== 'r') {
        calls.push([r.before, meta]);
        slots.push([i, 'before']);
      }
    });
    const out: RowExprs[] = records.map(() => ({}));
    if (calls.length === 0) return out;
    const results = await Promise.all(fns.map((fn) => fn.callBatch(calls)));
    slots.forEach(([i, which], k) => {
      const vals: unknown[] = [];
      for (let e = 0; e < fns.length; e++) {
        const r = results[e][k];
        if (!r.ok) {
          const spec = this.o.groupBy.find((g) => g.expr === e)!;
          out[i][which] = new Invalid(`groupBy "${spec.name}": the expression failed: ${r.error}${which === 'before' ? ' (on the before row)' : ''}`);
          return;
        }
        vals.push(r.value === undefined ? null : r.value);
      }
      out[i][which] = vals;
    });
    return out;
  }

  /** folds each custom measure's operations of the pass; returns the records whose reducer threw */
  private async runReducers(pass: Pass): Promise<Map<number, string>> {
    const thrown = new Map<number, string>();
    const results: [Slot, number, ReducerReply][] = [];
    for (const [j, fn] of this.o.reducers) {
      const perSlot = pass.ops.get(j)!;
      const slots = [...perSlot.keys()].filter((s) => this.slots.get(s.key) === s);
      if (slots.length === 0) continue;
      const name = this.o.measures[j].name;
      const replies = await fn.callBatch(slots.map((s) => [(s.m[j] as CustomState).acc, perSlot.get(s)!.map((op) => [op[0], op[1]])]));
      replies.forEach((r, k) => {
        const ops = perSlot.get(slots[k])!;
        if (!r.ok) {
          for (const op of ops) thrown.set(op[2], `measure "${name}" (custom): ${r.error}`);
          return;
        }
        const reply = r.value as ReducerReply;
        for (const [at, message] of reply.errors) thrown.set(ops[at][2], `measure "${name}" (custom): ${message}`);
        if (reply.resultError !== null) {
          for (const op of ops) if (!thrown.has(op[2])) thrown.set(op[2], `measure "${name}" (custom): ${reply.resultError} once this record was in its group`);
        }
        results.push([slots[k], j, reply]);
      });
    }
    if (thrown.size === 0) for (const [slot, j, reply] of results) slot.m[j] = { acc: reply.acc, out: reply.out } satisfies CustomState;
    return thrown;
  }

  // ---- output ----------------------------------------------------------------------------------

  /** closes windows whose end the clock has reached (all when clock is Infinity) */
  private close(clock: number, now: number, out: SluiceRecord[]): void {
    const closed = this.slots.closeDue(clock, (slot) => {
      if (slot.dirty) this.emitSlot(slot, out, now);
    });
    if (closed && this.memory) this.forgetClosed(clock);
  }

  /** retraction memory of rows whose windows have all closed is of no more use: drop it */
  private forgetClosed(clock: number): void {
    const w = this.o.window;
    if (w.type === 'none' || !this.memory) return;
    this.memory.forgetWhere((g, t) => (w.type === 'session' ? this.slots.sessionAt(g, t) === undefined : lastEnd(w.size, w.slide, t) <= clock));
  }

  private emitDue(out: SluiceRecord[], now: number): void {
    const { everyMs, everyRecords, final } = this.o.emit;
    if (final && this.windowed) return;
    // emitting deletes the slot from `dirty`: a Set iteration goes on correctly past deletions
    for (const slot of this.slots.dirty) {
      const due =
        (everyMs === undefined && everyRecords === undefined) ||
        (everyRecords !== undefined && slot.pending >= everyRecords) ||
        (everyMs !== undefined && now - slot.lastEmitAt >= everyMs);
      if (due) this.emitSlot(slot, out, now);
    }
  }

  private emitSlot(slot: Slot, out: SluiceRecord[], now: number): void {
    if (slot.rows === 0) {
      out.push(this.deleteRecord(slot));
      this.slots.drop(slot);
      return;
    }
    const value = this.keyValue(slot, true);
    for (let j = 0; j < this.o.measures.length; j++) {
      const m = this.o.measures[j];
      value[m.name] = m.result(slot.m[j], slot.rows);
    }
    out.push({ key: this.keyValue(slot, false), value, op: 'u', meta: {} });
    slot.emitted = value;
    slot.dirty = false;
    slot.pending = 0;
    slot.lastEmitAt = now;
    this.slots.dirty.delete(slot);
  }

  /** a delete for the slot's key, whether or not it was emitted (harmless for an idempotent sink, and right after a restart) */
  private deleteRecord(slot: Slot): SluiceRecord {
    return { key: this.keyValue(slot, false), value: null, op: 'd', before: slot.emitted ?? this.keyValue(slot, true), meta: {} };
  }

  /** the group fields, plus window_start (and, for values, window_end) */
  private keyValue(slot: Slot, withEnd: boolean): Value {
    const v: Value = {};
    for (let k = 0; k < this.groupNames.length; k++) v[this.groupNames[k]] = slot.gv[k];
    if (!Number.isNaN(slot.ws)) {
      v[WINDOW_START] = iso(slot.ws);
      if (withEnd) v[WINDOW_END] = iso(slot.we);
    }
    return v;
  }

  private errorRecord(record: SluiceRecord, message: string): SluiceRecord {
    return { ...record, meta: { ...record.meta, error: { node: this.o.nodeId, message } } };
  }
}

function pushOp(ops: Map<Slot, [1 | -1, unknown, number][]>, slot: Slot, op: [1 | -1, unknown, number]): void {
  const list = ops.get(slot);
  if (list) list.push(op);
  else ops.set(slot, [op]);
}
