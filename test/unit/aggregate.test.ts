import Database from 'better-sqlite3';
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { aggregate } from '../../nodes/core/aggregate.js';
import { configSchema } from '../../nodes/core/aggregate/config.js';
import { DecimalSum } from '../../nodes/core/aggregate/decimal-sum.js';
import { stableKey } from '../../nodes/core/aggregate/measures.js';
import type { TransformInstance } from '../../runtime/node-api.js';
import type { SluiceRecord, Value } from '../../runtime/records.js';
import { compileUserFunction, DEFAULT_SANDBOX } from '../../runtime/sandbox/sandbox.js';
import { create } from '../helpers/node-harness.js';

// ---- helpers -------------------------------------------------------------------------------------

type Row = Record<string, unknown>;

async function node(config: Record<string, unknown>, state?: unknown): Promise<TransformInstance> {
  const t = await create<TransformInstance>(aggregate, config);
  await t.open(state);
  return t;
}

const ins = (key: unknown, value: Row): SluiceRecord => ({ key, op: 'c', value, meta: {} });
const upd = (key: unknown, value: Row, before?: Row): SluiceRecord => ({ key, op: 'u', value, ...(before ? { before } : {}), meta: {} });
const del = (key: unknown, before?: Row): SluiceRecord => ({ key, op: 'd', value: null, ...(before ? { before } : {}), meta: {} });

/** what an idempotent sink holds after the records: upsert on u, delete on d */
class Sink {
  readonly rows = new Map<string, Value>();
  readonly errors: SluiceRecord[] = [];
  take(o: { out?: SluiceRecord[]; error?: SluiceRecord[] }): this {
    for (const r of o.out ?? []) {
      if (r.op === 'd') this.rows.delete(stableKey(r.key));
      else this.rows.set(stableKey(r.key), r.value!);
    }
    this.errors.push(...(o.error ?? []));
    return this;
  }
  sorted(): Value[] {
    return [...this.rows.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }
}

async function runAll(config: Record<string, unknown>, batches: SluiceRecord[][]): Promise<Sink> {
  const t = await node(config);
  const sink = new Sink();
  for (const b of batches) sink.take(await t.process(b, 'in'));
  if (t.flush) sink.take(await t.flush());
  await t.close();
  return sink;
}

const reasons = (s: Sink) => s.errors.map((e) => e.meta.error!.message);

// ---- config --------------------------------------------------------------------------------------

describe('core.aggregate config', () => {
  const issues = (c: unknown) => {
    const r = configSchema.safeParse(c);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('names the field at fault and how to fix it', () => {
    expect(issues({ measures: [{ name: 's', fn: 'sum' }] })).toEqual(['measures.0.field: required for fn sum: name the input field']);
    expect(issues({ groupBy: ['country'], measures: [{ name: 'country', fn: 'count' }] })[0]).toMatch(/^measures\.0\.name: output field "country" is already a groupBy field/);
    expect(issues({ measures: [{ name: 'n', fn: 'count', limit: 3 }] })).toEqual(['measures.0.limit: only applies to fn collect']);
    expect(issues({ measures: [{ name: 'x', fn: 'custom' }] })).toEqual(['measures.0.add: required for fn custom: (acc, value) => newAcc']);
    expect(issues({ measures: [{ name: 'n', fn: 'count' }], window: { type: 'tumbling' } })).toEqual(['window.size: required for tumbling windows: the window length']);
    expect(issues({ measures: [{ name: 'n', fn: 'count' }], window: { type: 'hopping', size: '1m', slide: '2m' } })[0]).toMatch(/^window\.slide: must be between 1 ms and size/);
    expect(issues({ measures: [{ name: 'n', fn: 'count' }], window: { type: 'tumbling', size: '1m', lateness: '5s' } })[0]).toMatch(/^window\.lateness: only applies to event time/);
    expect(issues({ measures: [{ name: 'n', fn: 'count' }], window: { type: 'tumbling', size: 'soon' } })[0]).toMatch(/^window\.size: must be milliseconds as a number, or a string such as/);
    expect(issues({ measures: [{ name: 'n', fn: 'count' }], emit: { final: true } })).toEqual(['emit.final: only applies to windowed aggregates (set window.type)']);
    expect(issues({ measures: [{ name: 'x', fn: 'custom', add: '(a) => a' }], window: { type: 'session', gap: '1m' } })[0]).toMatch(/custom measures cannot be used with session windows/);
    expect(issues({ measures: [{ name: 'window_start', fn: 'count' }], window: { type: 'tumbling', size: 1000 } })[0]).toMatch(/already the window start/);
    expect(issues({ measures: [], groupBy: [] })).toEqual(['measures: name at least one measure']);
    expect(issues({ measures: [{ name: 'n', fn: 'count', typo: 1 }] })[0]).toMatch(/typo/);
  });

  it('is in the catalog with a JSON Schema the editor can render', async () => {
    const { createRegistry } = await import('../../nodes/catalog.js');
    const info = createRegistry().catalog().find((t) => t.type === 'core.aggregate')!;
    expect(info.category).toBe('aggregate');
    expect(info.outputs.map((p) => p.name)).toEqual(['out', 'error']);
    expect(JSON.stringify(info.configSchema)).toContain('retractionMemory');
    expect(info.description).toMatch(/one entry per live record key/);
  });
});

// ---- running aggregates over CDC ---------------------------------------------------------------

describe('core.aggregate over a change stream', () => {
  const measures = [
    { name: 'n', fn: 'count' },
    { name: 'total', fn: 'sum', field: 'amount' },
    { name: 'mean', fn: 'avg', field: 'amount' },
    { name: 'lo', fn: 'min', field: 'amount' },
    { name: 'hi', fn: 'max', field: 'amount' },
  ];

  it('emits one upsert per changed group per batch, keyed by the group', async () => {
    const t = await node({ groupBy: ['country'], measures });
    const o = await t.process([ins(1, { country: 'DE', amount: 10 }), ins(2, { country: 'DE', amount: 30 }), ins(3, { country: 'FR', amount: 5 })], 'in');
    expect(o.out).toEqual([
      { key: { country: 'DE' }, op: 'u', value: { country: 'DE', n: 2, total: 40, mean: 20, lo: 10, hi: 30 }, meta: {} },
      { key: { country: 'FR' }, op: 'u', value: { country: 'FR', n: 1, total: 5, mean: 5, lo: 5, hi: 5 }, meta: {} },
    ]);
    expect(o.error).toEqual([]);
  });

  it('keeps groups of every plain value apart (1 and "1", true, null), each with its own values, past as many groups as it memoizes keys for', async () => {
    const mix: unknown[] = [1, '1', true, 'true', null, 'null', 0, -0, 1.5, '', 'DE', 'a group name longer than the memo takes'];
    const many = (from: number) => Array.from({ length: 10_050 }, (_, i) => (i % 2 ? `g${from + i}` : from + i));
    const [gone, kept] = [many(100), many(20_000)];
    const t = await node({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }, { name: 'total', fn: 'sum', field: 'amount' }], retractionMemory: false });
    const sink = new Sink();
    const row = (g: unknown) => ({ g, amount: 1.25 });
    // groups come and go (deleted groups are dropped), so more values pass than the memo holds
    sink.take(await t.process([...mix, ...gone].map((g, i) => ins(i, row(g))), 'in'));
    sink.take(await t.process(gone.map((g, i) => del(i, row(g))), 'in'));
    sink.take(await t.process([...kept, ...[...mix].reverse()].map((g, i) => ins(i, row(g))), 'in'));
    const want = new Map<string, { g: unknown; n: number }>();
    for (const g of [...mix, ...mix, ...kept]) {
      const k = stableKey({ g });
      const seen = want.get(k); // the group keeps the value it was made with (0, not the later -0)
      want.set(k, seen ? { g: seen.g, n: seen.n + 1 } : { g, n: 1 });
    }
    expect(sink.errors).toEqual([]);
    expect(sink.rows.size).toBe(want.size); // 0 and -0 are one group, as before
    for (const [k, { g, n }] of want) expect(sink.rows.get(k)).toEqual({ g, n, total: 1.25 * n });
    expect(sink.rows.get(stableKey({ g: 1 }))!.g).toBe(1);
    expect(sink.rows.get(stableKey({ g: '1' }))!.g).toBe('1');
  });

  it('an update takes back the old row and adds the new one; a group that empties emits a delete with its last value', async () => {
    const t = await node({ groupBy: ['country'], measures });
    await t.process([ins(1, { country: 'DE', amount: 10 }), ins(2, { country: 'DE', amount: 30 }), ins(3, { country: 'FR', amount: 5 })], 'in');
    const o = await t.process([upd(2, { country: 'FR', amount: 7 }), del(1)], 'in');
    expect(o.out).toEqual([
      { key: { country: 'DE' }, op: 'd', value: null, before: { country: 'DE', n: 2, total: 40, mean: 20, lo: 10, hi: 30 }, meta: {} },
      { key: { country: 'FR' }, op: 'u', value: { country: 'FR', n: 2, total: 12, mean: 6, lo: 5, hi: 7 }, meta: {} },
    ]);
  });

  it('min and max stay right when the extreme is taken back, even with duplicates', async () => {
    const t = await node({ measures: [{ name: 'lo', fn: 'min', field: 'v' }, { name: 'hi', fn: 'max', field: 'v' }], retractionMemory: false });
    const rows = [3, 9, 9, 1, 5].map((v, i) => ins(i, { v }));
    const last = (o: { out?: SluiceRecord[] }) => o.out!.at(-1)!.value;
    expect(last(await t.process(rows, 'in'))).toEqual({ lo: 1, hi: 9 });
    expect(last(await t.process([del(1, { v: 9 })], 'in'))).toEqual({ lo: 1, hi: 9 });
    expect(last(await t.process([del(2, { v: 9 }), del(3, { v: 1 })], 'in'))).toEqual({ lo: 3, hi: 5 });
    expect(last(await t.process([upd(0, { v: 'a' }, { v: 3 })], 'in'))).toEqual({ lo: 5, hi: 'a' }); // numbers sort before text, as in SQLite
  });

  it('sums exactly: retracting decimals leaves no drift, and sums past 2^53 stay exact', async () => {
    const t = await node({ measures: [{ name: 'total', fn: 'sum', field: 'x' }] });
    await t.process([0.1, 0.2, 0.3, 1e-7, 12345.678].map((x, i) => ins(i, { x })), 'in');
    const o = await t.process([del(2), del(3), del(4)], 'in');
    expect(o.out![0].value).toEqual({ total: 0.3 }); // 0.1 + 0.2 in doubles is 0.30000000000000004
    const s = new DecimalSum();
    for (const x of [Number.MAX_SAFE_INTEGER, 2, 0.5, 0.25]) s.add(x, 1);
    expect(typeof s.units).toBe('bigint');
    s.add(2, -1);
    s.add(0.25, -1);
    expect(s.value()).toBe(Number.MAX_SAFE_INTEGER + 0.5);
    expect(DecimalSum.load(JSON.parse(JSON.stringify(s.save()))).value()).toBe(s.value());
    let many = new DecimalSum();
    for (let i = 0; i < 10_000; i++) many.add(0.01 * (i % 7), 1);
    for (let i = 0; i < 10_000; i++) if (i % 2) many.add(0.01 * (i % 7), -1);
    many = DecimalSum.load(many.save());
    const cents = Array.from({ length: 10_000 }, (_, i) => (i % 2 ? 0 : i % 7)).reduce((a, b) => a + b, 0);
    expect(many.value()).toBe(cents / 100);
  });

  it('count of a field, countDistinct, first, last and collect (capped) follow arrival and retraction', async () => {
    const t = await node({
      measures: [
        { name: 'rows', fn: 'count' },
        { name: 'tagged', fn: 'count', field: 'tag' },
        { name: 'kinds', fn: 'countDistinct', field: 'tag' },
        { name: 'first', fn: 'first', field: 'tag' },
        { name: 'last', fn: 'last', field: 'tag' },
        { name: 'some', fn: 'collect', field: 'tag', limit: 2 },
      ],
    });
    await t.process([ins(1, { tag: 'a' }), ins(2, { tag: null }), ins(3, { tag: 'b' }), ins(4, { tag: 'a' })], 'in');
    const o = await t.process([upd(1, { tag: 'c' }), del(4)], 'in');
    expect(o.out![0].value).toEqual({ rows: 3, tagged: 2, kinds: 2, first: 'b', last: 'c', some: ['b', 'c'] });
  });

  it('with retractionMemory on, updates and deletes need no before; a c for a known key is an update, a u for an unknown key an insert', async () => {
    const s = await runAll({ groupBy: ['g'], measures }, [
      [ins(1, { g: 'x', amount: 1 }), ins(1, { g: 'x', amount: 4 }), upd(2, { g: 'x', amount: 6 })],
      [del(3)],
    ]);
    expect(s.sorted()).toEqual([{ g: 'x', n: 2, total: 10, mean: 5, lo: 4, hi: 6 }]);
    expect(reasons(s)).toEqual(['deletes record key 3, which this aggregate holds no row for (never counted, or counted in a window that has closed)']);
  });

  it('with retractionMemory off, retracts from before, and refuses updates it cannot take back exactly', async () => {
    const s = await runAll({ groupBy: ['g'], measures, retractionMemory: false }, [
      [ins(1, { g: 'x', amount: 1 }), ins(2, { g: 'x', amount: 2 })],
      [
        upd(1, { g: 'y', amount: 5 }, { g: 'x', amount: 1 }),
        upd(2, { g: 'x', amount: 3 }),
        upd(2, { g: 'x', amount: 3 }, { g: 'x' }),
        del(7, { g: 'z', amount: 1 }),
        del(8, { g: 'x', amount: 99 }),
      ],
    ]);
    expect(s.sorted()).toEqual([
      { g: 'x', n: 1, total: 2, mean: 2, lo: 2, hi: 2 },
      { g: 'y', n: 1, total: 5, mean: 5, lo: 5, hi: 5 },
    ]);
    expect(reasons(s)).toEqual([
      'an update without a before row: with retractionMemory off the old row must come from before; turn retractionMemory on, or have the source send full before rows',
      'an update whose before row lacks field "amount" (a partial before, as PostgreSQL sends with REPLICA IDENTITY DEFAULT), so the old row cannot be taken back exactly; turn retractionMemory on, or have the source send full before rows',
      'takes back a row of group "z", which this aggregate holds no rows for (never counted)',
      'takes back a row of group "x" that this aggregate never counted (measure "lo" holds no value 99 for it)',
    ]);
  });

  it('sends unreadable values to the error port whole: nothing of the record counts', async () => {
    const s = await runAll({ groupBy: ['g'], measures }, [[ins(1, { g: 'x', amount: 2 }), ins(2, { g: 'x', amount: 'lots' }), ins(3, { g: 'x', amount: '3.5' })]]);
    expect(s.sorted()).toEqual([{ g: 'x', n: 2, total: 5.5, mean: 2.75, lo: 2, hi: '3.5' }]);
    expect(reasons(s)).toEqual(['measure "total" (sum): field "amount" must be a number (or numeric text), got "lots"']);
    expect(s.errors[0].value).toEqual({ g: 'x', amount: 'lots' });
  });

  it('the result does not depend on how the input is cut into batches', async () => {
    const recs = [ins(1, { g: 'a', amount: 1 }), ins(2, { g: 'b', amount: 2 }), upd(1, { g: 'b', amount: 3 }), del(2), ins(3, { g: 'a', amount: 4 }), del(1)];
    const whole = await runAll({ groupBy: ['g'], measures }, [recs]);
    const single = await runAll({ groupBy: ['g'], measures }, recs.map((r) => [r]));
    expect(single.sorted()).toEqual(whole.sorted());
    expect(whole.sorted()).toEqual([{ g: 'a', n: 1, total: 4, mean: 4, lo: 4, hi: 4 }]);
  });
});

// ---- sandboxed parts -----------------------------------------------------------------------------

describe('core.aggregate user code', () => {
  it('groups by an expression, evaluated on the before row too', async () => {
    const s = await runAll({ groupBy: [{ name: 'month', expr: 'value.ts.slice(0, 7)' }], measures: [{ name: 'n', fn: 'count' }], retractionMemory: false }, [
      [ins(1, { ts: '2026-01-05' }), ins(2, { ts: '2026-02-01' }), upd(1, { ts: '2026-02-09' }, { ts: '2026-01-05' }), ins(3, { ts: 7 })],
    ]);
    expect(s.sorted()).toEqual([{ month: '2026-02', n: 2 }]);
    expect(reasons(s)).toEqual(['groupBy "month": the expression failed: TypeError: value.ts.slice is not a function']);
  });

  it('runs a custom reducer with add/remove/result; a throw sends only that record to the error port', async () => {
    const config = {
      groupBy: ['g'],
      measures: [
        { name: 'n', fn: 'count' },
        {
          name: 'range',
          fn: 'custom',
          field: 'v',
          init: { vals: [] },
          add: '(acc, v) => { if (v < 0) throw new Error("negative " + v); return { vals: [...acc.vals, v] }; }',
          remove: '(acc, v) => { const i = acc.vals.indexOf(v); return { vals: acc.vals.filter((_, k) => k !== i) }; }',
          result: '(acc) => acc.vals.length ? Math.max(...acc.vals) - Math.min(...acc.vals) : null',
        },
      ],
    };
    const s = await runAll(config, [
      [ins(1, { g: 'a', v: 5 }), ins(2, { g: 'a', v: -1 }), ins(3, { g: 'a', v: 9 }), ins(4, { g: 'b', v: 1 })],
      [upd(3, { g: 'a', v: 12 }), del(4)],
    ]);
    expect(s.sorted()).toEqual([{ g: 'a', n: 2, range: 7 }]);
    expect(reasons(s)).toEqual(['measure "range" (custom): add threw Error: negative -1']);
    expect(s.errors[0].key).toBe(2);
  });

  it('a custom reducer without remove refuses updates and deletes with the reason', async () => {
    const s = await runAll({ measures: [{ name: 'total', fn: 'custom', field: 'v', init: 0, add: '(a, v) => a + v' }] }, [[ins(1, { v: 2 }), ins(2, { v: 3 }), del(1)]]);
    expect(s.sorted()).toEqual([{ total: 5 }]);
    expect(reasons(s)[0]).toMatch(/^measure "total" \(custom\) has no remove function, so it cannot take back the old row of a delete; add remove/);
  });

  it('a custom reducer without a field gets the whole row, remembered whole for retraction', async () => {
    const s = await runAll(
      { measures: [{ name: 'value', fn: 'custom', init: 0, add: '(a, row) => a + row.price * row.qty', remove: '(a, row) => a - row.price * row.qty' }] },
      [[ins(1, { price: 2, qty: 3 }), ins(2, { price: 5, qty: 1 })], [upd(1, { price: 2, qty: 10 }), del(2)]],
    );
    expect(s.sorted()).toEqual([{ value: 20 }]);
  });

  it('a reducer that does not compile fails open() naming the function at fault', async () => {
    // like the executor's ctx.compile: the error names the config field it was given
    const compile = async (code: string, field: string) => {
      try {
        return await compileUserFunction(code, { ...DEFAULT_SANDBOX, label: field });
      } catch (err) {
        throw new Error(`${field}: ${(err as Error).message}`);
      }
    };
    const t = await create<TransformInstance>(aggregate, { measures: [{ name: 'x', fn: 'custom', add: '(a, v) => a + v', remove: '(a, v) => a -' }] }, { compile });
    await expect(t.open(undefined)).rejects.toThrow(/measures\[0\]\.remove: does not compile/);
  });
});

// ---- windows -------------------------------------------------------------------------------------

describe('core.aggregate windows', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();

  it('tumbling event-time windows: out-of-order records within the lateness count; later ones go to the error port naming window and lateness', async () => {
    const t = await node({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }], window: { type: 'tumbling', size: '10s', time: { field: 'ts' }, lateness: '5s' } });
    const sink = new Sink();
    sink.take(await t.process([ins(1, { g: 'a', ts: at(1) }), ins(2, { g: 'a', ts: at(12) }), ins(3, { g: 'a', ts: at(9) })], 'in'));
    expect(sink.sorted()).toEqual([
      { g: 'a', window_start: at(0), window_end: at(10), n: 2 },
      { g: 'a', window_start: at(10), window_end: at(20), n: 1 },
    ]);
    sink.take(await t.process([ins(4, { g: 'a', ts: at(16) }), ins(5, { g: 'a', ts: at(2) }), ins(6, { g: 'a', ts: at(11) })], 'in'));
    expect(reasons(sink)).toEqual([
      `late: its event time ${at(2)} falls where window [${at(0)}, ${at(10)}) has closed: the watermark is ${at(11)} (latest event time ${at(16)} − lateness 5000 ms); closed windows are final`,
    ]);
    sink.take(await t.flush!());
    expect(sink.sorted()).toEqual([
      { g: 'a', window_start: at(0), window_end: at(10), n: 2 },
      { g: 'a', window_start: at(10), window_end: at(20), n: 3 },
    ]);
  });

  it('hopping windows put a record in each window that holds it; emit.final holds results until the window closes', async () => {
    const t = await node({
      measures: [{ name: 's', fn: 'sum', field: 'v' }],
      window: { type: 'hopping', size: 10_000, slide: 5000, time: { field: 'ts' }, lateness: 5000 },
      emit: { final: true },
    });
    const first = await t.process([ins(1, { v: 1, ts: at(3) }), ins(2, { v: 2, ts: at(7) })], 'in');
    expect(first.out).toEqual([]);
    const second = await t.process([ins(3, { v: 4, ts: at(15) })], 'in'); // watermark 15 s − 5 s closes [-5, 5) and [0, 10)
    expect(second.out!.map((r) => r.value)).toEqual([
      { window_start: at(-5), window_end: at(5), s: 1 },
      { window_start: at(0), window_end: at(10), s: 3 },
    ]);
    const rest = await t.flush!();
    expect(rest.out!.map((r) => r.value)).toEqual([
      { window_start: at(5), window_end: at(15), s: 2 },
      { window_start: at(10), window_end: at(20), s: 4 },
      { window_start: at(15), window_end: at(25), s: 4 },
    ]);
  });

  it('session windows grow, merge when a record bridges two (the merged-away one is deleted), and retract', async () => {
    const t = await node({ groupBy: ['u'], measures: [{ name: 'n', fn: 'count' }], window: { type: 'session', gap: '10s', time: { field: 'ts' }, lateness: '1m' } });
    const sink = new Sink();
    sink.take(await t.process([ins(1, { u: 'x', ts: at(0) }), ins(2, { u: 'x', ts: at(22) }), ins(3, { u: 'x', ts: at(5) })], 'in'));
    expect(sink.sorted()).toEqual([
      { u: 'x', window_start: at(0), window_end: at(15), n: 2 },
      { u: 'x', window_start: at(22), window_end: at(32), n: 1 },
    ]);
    const o = await t.process([ins(4, { u: 'x', ts: at(14) })], 'in'); // less than 10 s from both sessions
    expect(o.out!.map((r) => [r.op, r.key])).toEqual([
      ['d', { u: 'x', window_start: at(22) }],
      ['u', { u: 'x', window_start: at(0) }],
    ]);
    sink.take(o);
    sink.take(await t.process([del(2)], 'in')); // bounds never shrink
    sink.take(await t.flush!());
    expect(sink.sorted()).toEqual([{ u: 'x', window_start: at(0), window_end: at(32), n: 3 }]);
  });

  it('processing-time windows close on tick; an update of a row in a closed window only adds, a delete is refused', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.UTC(2026, 0, 1, 0, 10));
      const t = await node({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }], window: { type: 'tumbling', size: '1h' }, emit: { final: true } });
      expect(t.tickIntervalMs).toBe(1000);
      const sink = new Sink();
      sink.take(await t.process([ins(1, { g: 'a' }), ins(2, { g: 'a' })], 'in'));
      expect(sink.rows.size).toBe(0);
      expect((await t.tick!(Date.now())).out).toEqual([]);
      vi.setSystemTime(Date.UTC(2026, 0, 1, 1, 0, 5));
      sink.take(await t.tick!(Date.now()));
      expect(sink.sorted()).toEqual([{ g: 'a', window_start: '2026-01-01T00:00:00.000Z', window_end: '2026-01-01T01:00:00.000Z', n: 2 }]);
      sink.take(await t.process([upd(1, { g: 'a' }), del(2)], 'in'));
      sink.take(await t.flush!());
      expect(sink.sorted()).toEqual([
        { g: 'a', window_start: '2026-01-01T00:00:00.000Z', window_end: '2026-01-01T01:00:00.000Z', n: 2 },
        { g: 'a', window_start: '2026-01-01T01:00:00.000Z', window_end: '2026-01-01T02:00:00.000Z', n: 1 },
      ]);
      expect(reasons(sink)).toEqual(['deletes record key 2, which this aggregate holds no row for (never counted, or counted in a window that has closed)']);
    } finally {
      vi.useRealTimers();
    }
  });
});

// ---- emit policy ---------------------------------------------------------------------------------

describe('core.aggregate emit policy', () => {
  it('everyRecords: a group is emitted once it took N records; the rest at the end', async () => {
    const t = await node({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }], emit: { everyRecords: 3 } });
    const a = await t.process([1, 2].map((i) => ins(i, { g: 'a' })), 'in');
    expect(a.out).toEqual([]);
    const b = await t.process([3, 4].map((i) => ins(i, { g: 'a' })), 'in');
    expect(b.out!.map((r) => r.value)).toEqual([{ g: 'a', n: 4 }]);
    const c = await t.process([ins(5, { g: 'a' })], 'in');
    expect(c.out).toEqual([]);
    expect((await t.flush!()).out!.map((r) => r.value)).toEqual([{ g: 'a', n: 5 }]);
  });

  it('everyMs: at most one emission per group per interval; held changes go out on tick', async () => {
    const t = await node({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }], emit: { everyMs: '1m' } });
    expect(t.tickIntervalMs).toBe(1000);
    const first = await t.process([ins(1, { g: 'a' })], 'in');
    expect(first.out!.map((r) => r.value)).toEqual([{ g: 'a', n: 1 }]);
    const held = await t.process([ins(2, { g: 'a' }), ins(3, { g: 'a' })], 'in');
    expect(held.out).toEqual([]);
    expect((await t.tick!(Date.now() + 1000)).out).toEqual([]);
    expect((await t.tick!(Date.now() + 61_000)).out!.map((r) => r.value)).toEqual([{ g: 'a', n: 3 }]);
  });

  it('a group emptied while held still emits its delete', async () => {
    const t = await node({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }], emit: { everyRecords: 100 } });
    await t.process([ins(1, { g: 'a' })], 'in');
    await t.process([del(1)], 'in');
    const end = await t.flush!();
    expect(end.out).toEqual([{ key: { g: 'a' }, op: 'd', value: null, before: { g: 'a' }, meta: {} }]);
  });
});

// ---- checkpoints ---------------------------------------------------------------------------------

describe('core.aggregate state', () => {
  const config = { groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }, { name: 's', fn: 'sum', field: 'v' }, { name: 'hi', fn: 'max', field: 'v' }] };

  it('refuses state saved by another configuration, saying how to rebuild it', async () => {
    const t = await node(config);
    await t.process([ins(1, { g: 'a', v: 1 })], 'in');
    const state = JSON.parse(JSON.stringify(t.snapshot!()));
    const other = await create<TransformInstance>(aggregate, { ...config, groupBy: ['h'] });
    await expect(other.open(state)).rejects.toThrow(/^nodes\[n1\]: its saved state was built with another groupBy, measures, window or retractionMemory; run the flow once with --from-start/);
  });

  it('keeps state bounded by groups with retractionMemory off', async () => {
    const t = await node({ ...config, retractionMemory: false });
    await t.process(Array.from({ length: 500 }, (_, i) => ins(i, { g: i % 3, v: i })), 'in');
    const state = t.snapshot!() as { slots: unknown[]; memory: unknown };
    expect(state.slots).toHaveLength(3);
    expect(state.memory).toBeNull();
    expect(JSON.stringify(state).length).toBeLessThan(20_000); // the max keeps the distinct values: 500 of them
  });
});

// ---- property tests against SQLite ---------------------------------------------------------------

interface Action {
  key: number;
  del: boolean;
  g: string | null;
  amount: number | null;
  cat: string | null;
  ts: number;
}

const action = (amount: fc.Arbitrary<number>) =>
  fc.record({
    key: fc.integer({ min: 1, max: 8 }),
    del: fc.integer({ min: 0, max: 3 }).map((n) => n === 0),
    g: fc.constantFrom('a', 'b', 'c', null),
    amount: fc.option(amount, { nil: null, freq: 6 }),
    cat: fc.option(fc.constantFrom('p', 'q', 'r'), { nil: null, freq: 5 }),
    ts: fc.integer({ min: 0, max: 9999 }),
  });

/**
 * Turns actions into a CDC stream against a simulated table: a write of a new key is c, of a known
 * key u (with before), a delete of a known key d (with before). `beforeMode: 'random'` leaves some
 * befores out (as `drops` says) to exercise retraction memory. Returns the records and the final table with each row's
 * last-write sequence.
 */
function cdc(actions: Action[], beforeMode: 'full' | 'random', drops: boolean[]): { records: SluiceRecord[]; table: Map<number, Row & { seq: number }> } {
  const table = new Map<number, Row & { seq: number }>();
  const records: SluiceRecord[] = [];
  actions.forEach((a, i) => {
    const old = table.get(a.key);
    const { seq: _seq, ...before } = old ?? { seq: 0 };
    const keepBefore = beforeMode === 'full' || !drops[i % drops.length];
    if (a.del) {
      if (!old) return;
      table.delete(a.key);
      records.push({ key: { id: a.key }, op: 'd', value: null, ...(keepBefore ? { before } : {}), meta: {} });
      return;
    }
    const row: Row = { id: a.key, g: a.g, amount: a.amount, cat: a.cat, ts: a.ts };
    table.set(a.key, { ...row, seq: records.length });
    records.push(old ? { key: { id: a.key }, op: 'u', value: row, ...(keepBefore ? { before } : {}), meta: {} } : { key: { id: a.key }, op: 'c', value: row, meta: {} });
  });
  return { records, table };
}

function cut<T>(items: T[], sizes: number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  let k = 0;
  while (i < items.length) {
    const n = sizes[k++ % sizes.length];
    out.push(items.slice(i, i + n));
    i += n;
  }
  return out;
}

/** the final table in SQLite */
function sqlite(table: Iterable<Row>): Database.Database {
  const db = new Database(':memory:');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, g, amount, cat, ts INTEGER, seq INTEGER)');
  const put = db.prepare('INSERT INTO t VALUES (@id, @g, @amount, @cat, @ts, @seq)');
  for (const r of table) put.run(r);
  return db;
}

const ALL_MEASURES = [
  { name: 'n', fn: 'count' },
  { name: 'nAmount', fn: 'count', field: 'amount' },
  { name: 'total', fn: 'sum', field: 'amount' },
  { name: 'mean', fn: 'avg', field: 'amount' },
  { name: 'lo', fn: 'min', field: 'amount' },
  { name: 'hi', fn: 'max', field: 'amount' },
  { name: 'loCat', fn: 'min', field: 'cat' },
  { name: 'hiCat', fn: 'max', field: 'cat' },
  { name: 'kinds', fn: 'countDistinct', field: 'cat' },
  { name: 'firstA', fn: 'first', field: 'amount' },
  { name: 'lastA', fn: 'last', field: 'amount' },
  { name: 'some', fn: 'collect', field: 'amount', limit: 3 },
];

const ALL_SQL = `
  SELECT o.g AS g, COUNT(*) AS n, COUNT(amount) AS nAmount, SUM(amount) AS total, AVG(amount) AS mean,
    MIN(amount) AS lo, MAX(amount) AS hi, MIN(cat) AS loCat, MAX(cat) AS hiCat, COUNT(DISTINCT cat) AS kinds,
    (SELECT amount FROM t x WHERE x.g IS o.g AND x.amount IS NOT NULL ORDER BY seq LIMIT 1) AS firstA,
    (SELECT amount FROM t x WHERE x.g IS o.g AND x.amount IS NOT NULL ORDER BY seq DESC LIMIT 1) AS lastA,
    (SELECT json_group_array(amount) FROM (SELECT amount FROM t x WHERE x.g IS o.g AND x.amount IS NOT NULL ORDER BY seq LIMIT 3)) AS some
  FROM t o GROUP BY o.g ORDER BY o.g`;

function reference(table: Map<number, Row>, sql = ALL_SQL): Row[] {
  const db = sqlite(table.values());
  const rows = db.prepare(sql).all() as Row[];
  db.close();
  return rows.map((r) => ('some' in r ? { ...r, some: JSON.parse(r.some as string) } : r));
}

const byGroup = (rows: Row[]) => [...rows].sort((a, b) => stableKey([a.g, a.window_start]).localeCompare(stableKey([b.g, b.window_start])));

describe('core.aggregate equals SQL GROUP BY over the final table (fast-check)', () => {
  const streams = fc.record({
    actions: fc.array(action(fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 80 }),
    sizes: fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 5 }),
    drops: fc.array(fc.boolean(), { minLength: 1, maxLength: 7 }),
  });

  it('retraction memory on, befores present or not: every measure exact (integers, no tolerance)', async () => {
    await fc.assert(
      fc.asyncProperty(streams, async ({ actions, sizes, drops }) => {
        const { records, table } = cdc(actions, 'random', drops);
        const sink = await runAll({ groupBy: ['g'], measures: ALL_MEASURES }, cut(records, sizes));
        expect(sink.errors).toEqual([]);
        expect(byGroup(sink.sorted())).toEqual(byGroup(reference(table)));
      }),
      { numRuns: 150 },
    );
  });

  it('retraction memory off, full befores: the same, with state bounded by groups', async () => {
    await fc.assert(
      fc.asyncProperty(streams, async ({ actions, sizes }) => {
        const { records, table } = cdc(actions, 'full', [false]);
        const sink = await runAll({ groupBy: ['g'], measures: ALL_MEASURES, retractionMemory: false }, cut(records, sizes));
        expect(sink.errors).toEqual([]);
        expect(byGroup(sink.sorted())).toEqual(byGroup(reference(table)));
      }),
      { numRuns: 150 },
    );
  });

  it('decimal amounts: sums and averages equal SQLite within 1e-12 relative (SQLite sums doubles; the node sums exact decimals)', async () => {
    const cents = fc.integer({ min: -100_000, max: 100_000 }).map((c) => c / 100);
    await fc.assert(
      fc.asyncProperty(fc.array(action(cents), { minLength: 1, maxLength: 80 }), fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 4 }), async (actions, sizes) => {
        const { records, table } = cdc(actions, 'full', [false]);
        const measures = ALL_MEASURES.filter((m) => ['n', 'total', 'mean', 'lo', 'hi'].includes(m.name));
        const sink = await runAll({ groupBy: ['g'], measures }, cut(records, sizes));
        const want = byGroup(reference(table, 'SELECT g, COUNT(*) AS n, SUM(amount) AS total, AVG(amount) AS mean, MIN(amount) AS lo, MAX(amount) AS hi FROM t GROUP BY g'));
        const got = byGroup(sink.sorted());
        expect(got.map((r) => [r.g, r.n, r.lo, r.hi])).toEqual(want.map((r) => [r.g, r.n, r.lo, r.hi]));
        got.forEach((r, i) => {
          for (const f of ['total', 'mean']) {
            const a = r[f] as number | null;
            const b = want[i][f] as number | null;
            if (a === null || b === null) expect(a).toBe(b);
            else expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(b)));
          }
        });
      }),
      { numRuns: 100 },
    );
  });

  it('a snapshot taken anywhere (JSON round trip) resumes to the same final state as an uninterrupted run', async () => {
    await fc.assert(
      fc.asyncProperty(streams, fc.nat(), fc.boolean(), async ({ actions, sizes, drops }, at, memory) => {
        const { records } = cdc(actions, memory ? 'random' : 'full', drops);
        const config = { groupBy: ['g'], measures: ALL_MEASURES, retractionMemory: memory, emit: { everyRecords: 3 } };
        const batches = cut(records, sizes);
        const whole = await runAll(config, batches);
        const split = at % (batches.length + 1);
        const sink = new Sink();
        const a = await node(config);
        for (const b of batches.slice(0, split)) sink.take(await a.process(b, 'in'));
        const state = JSON.parse(JSON.stringify(a.snapshot!()));
        const b = await node(config, state);
        for (const batch of batches.slice(split)) sink.take(await b.process(batch, 'in'));
        sink.take(await b.flush!());
        expect(sink.sorted()).toEqual(whole.sorted());
        expect(sink.errors).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it('windows (tumbling, hopping) by event time, out of order within the lateness: equals GROUP BY g, window', async () => {
    await fc.assert(
      fc.asyncProperty(streams, fc.constantFrom('tumbling', 'hopping'), async ({ actions, sizes, drops }, type) => {
        const { records, table } = cdc(actions, 'random', drops);
        const window = type === 'tumbling' ? { type, size: 1000, time: { field: 'ts' }, lateness: 10_000 } : { type, size: 1000, slide: 250, time: { field: 'ts' }, lateness: 10_000 };
        const measures = ALL_MEASURES.filter((m) => ['n', 'total', 'lo', 'hi', 'kinds'].includes(m.name));
        const sink = await runAll({ groupBy: ['g'], measures, window }, cut(records, sizes));
        expect(sink.errors).toEqual([]);
        const slide = type === 'tumbling' ? 1000 : 250;
        const sql = `
          WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < ${1000 / slide}),
          w AS (SELECT t.*, (ts / ${slide}) * ${slide} - i * ${slide} AS ws FROM t, k WHERE (ts / ${slide}) * ${slide} - i * ${slide} + 1000 > ts)
          SELECT g, ws, COUNT(*) AS n, SUM(amount) AS total, MIN(amount) AS lo, MAX(amount) AS hi, COUNT(DISTINCT cat) AS kinds FROM w GROUP BY g, ws`;
        const iso = (ms: number) => new Date(ms).toISOString();
        const want = reference(table, sql).map(({ ws, ...r }) => ({ g: r.g, window_start: iso(ws as number), window_end: iso((ws as number) + 1000), ...r }));
        expect(byGroup(sink.sorted())).toEqual(byGroup(want));
      }),
      { numRuns: 100 },
    );
  });

  it('windowed state (tumbling, hopping, session) and custom accumulators resume from a snapshot to the same final state', async () => {
    const windows = [
      { type: 'tumbling', size: 1000, time: { field: 'ts' }, lateness: 2000 },
      { type: 'hopping', size: 1000, slide: 500, time: { field: 'ts' }, lateness: 2000 },
      { type: 'session', gap: 300, time: { field: 'ts' }, lateness: 2000 },
    ];
    const custom = { name: 'c', fn: 'custom', field: 'amount', init: 0, add: '(a, v) => a + v', remove: '(a, v) => a - v' };
    await fc.assert(
      fc.asyncProperty(streams, fc.nat(), fc.constantFrom(0, 1, 2), fc.boolean(), async ({ actions, sizes, drops }, at, wi, memory) => {
        const { records } = cdc(actions, memory ? 'random' : 'full', drops);
        const measures = [...ALL_MEASURES.filter((m) => ['n', 'total', 'hi', 'lastA'].includes(m.name)), ...(wi < 2 ? [custom] : [])];
        const config = { groupBy: ['g'], measures, window: windows[wi], retractionMemory: memory, emit: { everyRecords: 2 } };
        const batches = cut(records, sizes);
        const whole = await runAll(config, batches);
        const split = at % (batches.length + 1);
        const sink = new Sink();
        const a = await node(config);
        for (const b of batches.slice(0, split)) sink.take(await a.process(b, 'in'));
        const state = JSON.parse(JSON.stringify(a.snapshot!()));
        await a.close();
        const b = await node(config, state);
        for (const batch of batches.slice(split)) sink.take(await b.process(batch, 'in'));
        sink.take(await b.flush!());
        await b.close();
        expect(sink.sorted()).toEqual(whole.sorted());
        expect(reasons(sink)).toEqual(reasons(whole));
      }),
      { numRuns: 25 },
    );
  });

  it('records beyond the lateness go to the error port, exactly those; the rest equals GROUP BY over what was accepted', async () => {
    const inserts = fc.array(fc.record({ g: fc.constantFrom('a', 'b'), ts: fc.integer({ min: 0, max: 20_000 }), amount: fc.integer({ min: 0, max: 9 }) }), { minLength: 1, maxLength: 60 });
    await fc.assert(
      fc.asyncProperty(inserts, fc.integer({ min: 0, max: 5000 }), fc.array(fc.integer({ min: 1, max: 10 }), { minLength: 1, maxLength: 4 }), async (rows, lateness, sizes) => {
        const records = rows.map((r, i) => ins(i, { id: i, ...r }));
        const sink = await runAll({ groupBy: ['g'], measures: [{ name: 'n', fn: 'count' }, { name: 'total', fn: 'sum', field: 'amount' }], window: { type: 'tumbling', size: 1000, time: { field: 'ts' }, lateness }, retractionMemory: false }, cut(records, sizes));
        // the reference watermark: latest event time seen minus lateness; a window closes when it reaches the end
        let mark = -Infinity;
        const accepted = new Map<number, Row>();
        const late: number[] = [];
        rows.forEach((r, i) => {
          if (Math.floor(r.ts / 1000) * 1000 + 1000 <= mark) late.push(i);
          else {
            accepted.set(i, { id: i, ...r, cat: null, seq: i });
            mark = Math.max(mark, r.ts - lateness);
          }
        });
        expect(sink.errors.map((e) => e.key)).toEqual(late);
        for (const e of sink.errors) expect(e.meta.error!.message).toMatch(new RegExp(`^late: .* − lateness ${lateness} ms\\); closed windows are final$`));
        const iso = (ms: number) => new Date(ms).toISOString();
        const want = reference(accepted, 'SELECT g, (ts / 1000) * 1000 AS ws, COUNT(*) AS n, SUM(amount) AS total FROM t GROUP BY g, ws').map(({ ws, ...r }) => ({
          g: r.g,
          window_start: iso(ws as number),
          window_end: iso((ws as number) + 1000),
          ...r,
        }));
        expect(byGroup(sink.sorted())).toEqual(byGroup(want));
      }),
      { numRuns: 150 },
    );
  });

  it('custom reducer and groupBy expression (sandboxed) agree with SQL too', async () => {
    const config = {
      groupBy: [{ name: 'g', expr: 'value.g === null ? "none" : value.g.toUpperCase()' }],
      measures: [
        { name: 'n', fn: 'count' },
        { name: 'total', fn: 'custom', field: 'amount', init: { s: 0, n: 0 }, add: '(a, v) => ({ s: a.s + v, n: a.n + 1 })', remove: '(a, v) => ({ s: a.s - v, n: a.n - 1 })', result: '(a) => (a.n ? a.s : null)' },
      ],
    };
    await fc.assert(
      fc.asyncProperty(streams, fc.boolean(), async ({ actions, sizes, drops }, memory) => {
        const { records, table } = cdc(actions, memory ? 'random' : 'full', drops);
        const sink = await runAll({ ...config, retractionMemory: memory }, cut(records, sizes));
        expect(sink.errors).toEqual([]);
        const want = reference(table, `SELECT CASE WHEN g IS NULL THEN 'none' ELSE upper(g) END AS g, COUNT(*) AS n, SUM(amount) AS total FROM t GROUP BY 1`);
        expect(byGroup(sink.sorted())).toEqual(byGroup(want));
      }),
      { numRuns: 20 },
    );
  });
});
