/**
 * Values cross into the sandbox and results back out as JSON carries them: a value sent in, and a
 * result sent back, arrive as JSON.parse(JSON.stringify(value)) gives them, whatever their shape (field
 * order, fields JSON leaves out, toJSON, a null prototype, an own __proto__ field).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compileUserFunction, shutdownSandbox } from '../../runtime/sandbox/sandbox.js';

const nullProto = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1, b: 'two' });
const withProtoField = JSON.parse('{"id":1,"__proto__":"x","z":[1,2]}') as Record<string, unknown>;
const edge: unknown[] = [
  { id: 1, name: 'a', amount: '12.50', ok: true, none: null, nested: { x: [1, { y: 2 }] } },
  { id: 2, name: 'b', amount: '0.10', ok: false, none: null, nested: { x: [] } },
  { id: 3, gone: undefined, fn: () => 1, sym: Symbol('s'), kept: 'yes' },
  { when: new Date(Date.UTC(2026, 0, 2, 3, 4, 5)), id: 4 },
  { toJSON: () => ({ replaced: true }) },
  { 10: 'ten', 2: 'two', b: 'b', a: 'a' },
  { 'a"b': 1, 'c\\d': 2, '}; throw 1; ({': 3, constructor: 4, '': 5, 'line\nbreak': 6, '\u2028': 7 },
  withProtoField,
  nullProto,
  {},
  [1, 'two', { three: 3 }, undefined, null],
  'text',
  42,
  -0.5,
  true,
  null,
  { deep: { deeper: { deepest: [{ a: undefined, b: 1 }] } } },
];
const asJson = (v: unknown) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));

afterAll(() => shutdownSandbox());

describe('sandbox values as JSON', () => {
  it('values go into the sandbox and come back out as JSON would carry them', async () => {
    // identity: what the isolate received is what it sends back; keys() shows the order it saw
    const fn = await compileUserFunction('(v) => (v !== null && typeof v === "object" && !Array.isArray(v) ? { v, keys: Object.keys(v), proto: Object.getPrototypeOf(v) === Object.prototype } : { v })', {
      memoryLimitMb: 64,
      timeoutMs: 5000,
      label: 'shaped',
    });
    try {
      const results = await fn.callBatch(edge.map((v) => [v]));
      expect(results.every((r) => r.ok)).toBe(true);
      const values = results.map((r) => (r.ok ? r.value : undefined)) as { v: unknown; keys?: string[]; proto?: boolean }[];
      expect(values.map((x) => x.v)).toEqual(edge.map(asJson));
      for (let i = 0; i < edge.length; i++) {
        const j = asJson(edge[i]);
        if (j !== null && typeof j === 'object' && !Array.isArray(j)) {
          expect(values[i].keys, `keys of value ${i}`).toEqual(Object.keys(j));
          expect(values[i].proto, `prototype of value ${i}`).toBe(true);
        }
      }
    } finally {
      fn.dispose();
    }
  });

  it('results of every shape come back as JSON.stringify makes them, mixed in one batch', async () => {
    const fn = await compileUserFunction(
      `(n) => [
        { id: n, gone: undefined, fn() {}, s: Symbol('x'), k: 'kept' },
        { when: new Date(Date.UTC(2026, 0, 2)), id: n },
        { toJSON() { return 'custom ' + n; } },
        Object.assign(Object.create(null), { a: n }),
        JSON.parse('{"__proto__": ' + n + ', "b": 1}'),
        { 10: 'ten', 2: 'two', b: 'b' },
        [n, undefined, () => 1],
        'text ' + n,
        { id: n, nested: { inner: undefined, list: [undefined] } },
        Object.create({ inherited: 1 }, { own: { value: n, enumerable: true } }),
      ][n % 10]`,
      { memoryLimitMb: 64, timeoutMs: 5000, label: 'shaped-out' },
    );
    const expected = [
      (n: number) => ({ id: n, k: 'kept' }),
      (n: number) => ({ when: '2026-01-02T00:00:00.000Z', id: n }),
      (n: number) => `custom ${n}`,
      (n: number) => ({ a: n }),
      (n: number) => JSON.parse(`{"__proto__": ${n}, "b": 1}`),
      () => ({ 2: 'two', 10: 'ten', b: 'b' }),
      (n: number) => [n, null, null],
      (n: number) => `text ${n}`,
      (n: number) => ({ id: n, nested: { list: [null] } }),
      (n: number) => ({ own: n }),
    ];
    try {
      const ns = Array.from({ length: 60 }, (_, i) => i);
      const results = await fn.callBatch(ns.map((n) => [n]));
      const values = results.map((r) => (r.ok ? r.value : `failed: ${r.error}`));
      expect(values).toEqual(ns.map((n) => expected[n % 10](n)));
      expect(Object.keys(values[4] as object)).toEqual(['__proto__', 'b']);
      expect(Object.keys(values[5] as object)).toEqual(['2', '10', 'b']);
    } finally {
      fn.dispose();
    }
  });
});
