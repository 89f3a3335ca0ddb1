import { describe, expect, it } from 'vitest';
import { generate } from '../../nodes/core/generate.js';
import { map } from '../../nodes/core/map.js';
import { filter } from '../../nodes/core/filter.js';
import { select } from '../../nodes/core/select.js';
import type { SourceInstance, TransformInstance } from '../../runtime/node-api.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { create, processAll, readAll, rec } from '../helpers/node-harness.js';

describe('core.generate', () => {
  it('produces each dataset with its documented fields, ids 1..count', async () => {
    const fields: Record<string, string[]> = {
      orders: ['id', 'customer_id', 'amount', 'currency', 'country', 'status', 'ts'],
      customers: ['id', 'name', 'email', 'country', 'tier'],
      order_lines: ['id', 'order_id', 'sku', 'qty', 'price'],
      counter: ['n'],
    };
    for (const [dataset, names] of Object.entries(fields)) {
      const { records } = await readAll(await create<SourceInstance>(generate, { dataset, count: 25 }));
      expect(records).toHaveLength(25);
      expect(Object.keys(records[0].value!)).toEqual(names);
      expect(records.map((r) => r.value![dataset === 'counter' ? 'n' : 'id'])).toEqual(Array.from({ length: 25 }, (_, i) => i + 1));
    }
  });

  it('is deterministic for a seed and different for another', async () => {
    const a = await readAll(await create<SourceInstance>(generate, { count: 50, seed: 7 }));
    const b = await readAll(await create<SourceInstance>(generate, { count: 50, seed: 7 }));
    const c = await readAll(await create<SourceInstance>(generate, { count: 50, seed: 8 }));
    expect(a.records.map((r) => r.value)).toEqual(b.records.map((r) => r.value));
    expect(a.records.map((r) => r.value)).not.toEqual(c.records.map((r) => r.value));
  });

  it('resumes from its position with the same records an uninterrupted run gives', async () => {
    const ctx = { settings: { batchSize: 10 } as never };
    const whole = await readAll(await create<SourceInstance>(generate, { count: 35 }, ctx));
    expect(whole.positions).toEqual([10, 20, 30, 35]);
    const rest = await readAll(await create<SourceInstance>(generate, { count: 35 }, ctx), 20);
    expect(rest.records.map((r) => r.value)).toEqual(whole.records.slice(20).map((r) => r.value));
  });

  it('orders agree with customers on the country, and lines point at their order', async () => {
    const customers = (await readAll(await create<SourceInstance>(generate, { dataset: 'customers', count: 100 }))).records;
    const orders = (await readAll(await create<SourceInstance>(generate, { dataset: 'orders', count: 300, customers: 100 }))).records;
    for (const o of orders) expect(o.value!.country).toBe(customers[(o.value!.customer_id as number) - 1].value!.country);
    const lines = (await readAll(await create<SourceInstance>(generate, { dataset: 'order_lines', count: 12, linesPerOrder: 5 }))).records;
    expect(lines.map((l) => l.value!.order_id)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3]);
  });

  it('keeps to a rate', async () => {
    const t0 = Date.now();
    await readAll(await create<SourceInstance>(generate, { dataset: 'counter', count: 300, rate: 1000 }));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
  });
});

describe('core.map', () => {
  it('maps values, drops null, emits arrays as several records, keeps key and op', async () => {
    const t = await create<TransformInstance>(map, { code: '(v) => v.n === 2 ? null : v.n === 3 ? [{ n: 30 }, { n: 31 }] : { n: v.n * 10 }' });
    const out = await processAll(t, [rec({ n: 1 }, 'c', 'k1'), rec({ n: 2 }), rec({ n: 3 }, 'u', 'k3')]);
    expect(out.out!.map((r) => [r.key, r.op, r.value])).toEqual([
      ['k1', 'c', { n: 10 }],
      ['k3', 'u', { n: 30 }],
      ['k3', 'u', { n: 31 }],
    ]);
    expect(out.error).toEqual([]);
  });

  it('maps a delete through its before row, and the before row of an update', async () => {
    const t = await create<TransformInstance>(map, { code: '(v, meta) => ({ id: v.ID, op: meta.op })' });
    const del: SluiceRecord = { key: 1, op: 'd', value: null, before: { ID: 1 }, meta: {} };
    const upd: SluiceRecord = { key: 2, op: 'u', value: { ID: 2 }, before: { ID: 2 }, meta: {} };
    const out = await processAll(t, [del, upd]);
    expect(out.out).toEqual([
      { key: 1, op: 'd', value: null, before: { id: 1, op: 'd' }, meta: {} },
      { key: 2, op: 'u', value: { id: 2, op: 'u' }, before: { id: 2, op: 'u' }, meta: {} },
    ]);
  });

  it('sends a throw or a non-object result to the error port with the original record', async () => {
    const t = await create<TransformInstance>(map, { code: '(v) => { if (v.n === 1) throw new Error("boom"); return v.n === 2 ? 5 : v; }' });
    const out = await processAll(t, [rec({ n: 1 }), rec({ n: 2 }), rec({ n: 3 })]);
    expect(out.out!.map((r) => r.value)).toEqual([{ n: 3 }]);
    expect(out.error!.map((r) => [r.value, r.meta.error!.message])).toEqual([
      [{ n: 1 }, 'Error: boom'],
      [{ n: 2 }, 'must return an object, an array of objects, or null; returned 5'],
    ]);
  });

  it('reports code that is not a function as a config error', async () => {
    const t = await create<TransformInstance>(map, { code: '"hello"' });
    await expect(t.open(undefined)).rejects.toThrowError(/must be a function/);
  });
});

describe('core.filter', () => {
  it('keeps the records the function accepts', async () => {
    const t = await create<TransformInstance>(filter, { code: '(v) => v.n % 2 === 0' });
    const out = await processAll(t, [1, 2, 3, 4].map((n) => rec({ n })));
    expect(out.out!.map((r) => r.value!.n)).toEqual([2, 4]);
  });

  it('over a change stream, a row leaving the filter becomes a delete and one entering it a create', async () => {
    const t = await create<TransformInstance>(filter, { code: "(v) => v.status !== 'cancelled'" });
    const leaves: SluiceRecord = { key: 1, op: 'u', before: { id: 1, status: 'paid' }, value: { id: 1, status: 'cancelled' }, meta: {} };
    const enters: SluiceRecord = { key: 2, op: 'u', before: { id: 2, status: 'cancelled' }, value: { id: 2, status: 'paid' }, meta: {} };
    const stays: SluiceRecord = { key: 3, op: 'u', before: { id: 3, status: 'new' }, value: { id: 3, status: 'paid' }, meta: {} };
    const outside: SluiceRecord = { key: 4, op: 'd', before: { id: 4, status: 'cancelled' }, value: null, meta: {} };
    const out = await processAll(t, [leaves, enters, stays, outside]);
    expect(out.out!.map((r) => [r.key, r.op])).toEqual([
      [1, 'd'],
      [2, 'c'],
      [3, 'u'],
    ]);
    expect(out.out![0].before).toEqual({ id: 1, status: 'paid' });
  });
});

describe('core.select', () => {
  it('keeps, drops and renames fields, in values and before rows', async () => {
    const t = await create<TransformInstance>(select, { keep: ['id', 'amount', 'secret'], drop: ['secret'], rename: { amount: 'total' } });
    const r: SluiceRecord = { key: 1, op: 'u', value: { id: 1, amount: 5, secret: 'x', other: 1 }, before: { id: 1, amount: 4, secret: 'y' }, meta: {} };
    const out = await processAll(t, [r]);
    expect(out.out![0].value).toEqual({ id: 1, total: 5 });
    expect(out.out![0].before).toEqual({ id: 1, total: 4 });
  });
});
