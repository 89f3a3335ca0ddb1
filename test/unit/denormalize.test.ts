import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { create, makeContext, rec, tempDir } from '../helpers/node-harness.js';
import { denormalize } from '../../nodes/catalog.js';
import { LookupTransform } from '../../nodes/core/denormalize/lookup.js';
import { NestTransform } from '../../nodes/core/denormalize/nest.js';
import { LruCache } from '../../nodes/core/denormalize/lru.js';
import { FieldAdder } from '../../nodes/core/denormalize/with-field.js';
import { joinKey, joinMapKey } from '../../nodes/shared/reference.js';
import { createRegistry } from '../../nodes/catalog.js';
import { validateFlow } from '../../runtime/flow/validate.js';
import { ConfigError } from '../../runtime/errors.js';
import type { SluiceRecord, Value } from '../../runtime/records.js';
import type { NodeType } from '../../runtime/node-api.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import { collector, flat, testRegistry } from '../helpers/test-nodes.js';

const type = denormalize as unknown as NodeType;

function makeDb(sql: string): string {
  const path = join(tempDir('sluice-denorm-'), 'ref.db');
  const db = new Database(path);
  db.exec(sql);
  db.close();
  return path;
}

const CUSTOMERS = `
  CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT, country TEXT);
  INSERT INTO customers VALUES (1, 'Ada', 'GB'), (2, 'Alan', 'GB'), (3, 'Grace', 'US');
  CREATE TABLE addresses (aid INTEGER PRIMARY KEY, customer_id INTEGER, city TEXT);
  CREATE INDEX addresses_customer ON addresses (customer_id);
  INSERT INTO addresses VALUES (10, 1, 'London'), (11, 3, 'New York'), (12, 1, 'Bath');
  CREATE TABLE codes (code TEXT, label TEXT);
  INSERT INTO codes VALUES ('7', 'seven'), ('x', 'ex');`;

async function lookupNode(config: Record<string, unknown>, logs: string[] = []): Promise<LookupTransform> {
  const log = { info: (m: string) => logs.push(`info: ${m}`), warn: (m: string) => logs.push(`warn: ${m}`), error: (m: string) => logs.push(`error: ${m}`) };
  const node = await create<LookupTransform>(type, { mode: 'lookup', ...config }, { log });
  await node.open();
  return node;
}

const order = (id: number, customer_id: unknown, op: SluiceRecord['op'] = 'c') => rec({ id, customer_id }, op, { id });

describe('core.denormalize: config and wiring', () => {
  const registry = createRegistry();
  const flow = (config: Record<string, unknown>, edges: Record<string, string>[]) => ({
    apiVersion: 'sluice/v1',
    name: 'f',
    nodes: [
      { id: 'orders', type: 'core.generate', config: { dataset: 'orders' } },
      { id: 'lines', type: 'core.generate', config: { dataset: 'order_lines' } },
      { id: 'enrich', type: 'core.denormalize', config },
      { id: 'out', type: 'file.sink', config: { path: '/tmp/x.jsonl' } },
    ],
    edges: [...edges, { from: 'enrich', to: 'out' }],
  });
  const errors = (raw: unknown) => validateFlow(raw, registry).issues.filter((i) => i.severity === 'error');
  const nest = { mode: 'nest', as: 'lines', parentKey: 'id', childKey: 'order_id' };
  const lookup = { mode: 'lookup', as: 'customer', from: { type: 'sqlite', path: 'x.db', table: 'customers' }, localKey: 'customer_id', foreignKey: 'id' };

  it('nest mode: both ports wired is valid; the child port unwired is an error naming the node and the port', () => {
    const ok = errors(flow(nest, [{ from: 'orders', to: 'enrich', toPort: 'parent' }, { from: 'lines', to: 'enrich', toPort: 'child' }]));
    expect(ok).toEqual([]);
    const [e, ...rest] = errors(flow(nest, [{ from: 'orders', to: 'enrich', toPort: 'parent' }]));
    expect(rest).toEqual([]);
    expect(e.path).toBe('nodes[enrich]');
    expect(e.nodeId).toBe('enrich');
    expect(e.message).toMatch(/^input port "child" is not wired \(nest mode: the child records/);
  });

  it('nest mode needs the port named on each edge; lookup mode has only "in"', () => {
    const [several] = errors(flow(nest, [{ from: 'orders', to: 'enrich' }, { from: 'lines', to: 'enrich', toPort: 'child' }]));
    expect(several.path).toBe('edges[0]');
    expect(several.message).toMatch(/has several inputs: name one with toPort \(parent, child\)/);
    expect(errors(flow(lookup, [{ from: 'orders', to: 'enrich' }]))).toEqual([]);
    const wrong = errors(flow(lookup, [{ from: 'orders', to: 'enrich' }, { from: 'lines', to: 'enrich', toPort: 'child' }]));
    expect(wrong.map((i) => `${i.path}: ${i.message}`)).toEqual([
      'edges[1].toPort: "enrich" (core.denormalize) has no input port "child" with this config; ports: in',
    ]);
  });

  it('reports config mistakes with the field path', () => {
    const msgs = (config: unknown) => errors(flow(config as Record<string, unknown>, [{ from: 'orders', to: 'enrich' }])).map((i) => `${i.path}: ${i.message}`);
    expect(msgs({ ...lookup, from: { type: 'oracle' } })).toContainEqual(expect.stringMatching(/^nodes\[enrich\]\.config\.from\.type: type must be one of: sqlite\b/));
    expect(msgs({ ...lookup, parentKey: 'id' })).toContain('nodes[enrich].config: unknown field "parentKey"');
    expect(msgs({ ...lookup, onMissing: 'ignore' })).toContainEqual(expect.stringMatching(/^nodes\[enrich\]\.config\.onMissing: .*"keep"/));
    expect(msgs({ as: 'x' })).toContainEqual(expect.stringMatching(/^nodes\[enrich\]\.config\.mode: .*'lookup' \| 'nest'/));
  });
});

describe('core.denormalize lookup', () => {
  it('puts the matching row in `as` (many: false) or every matching row (many: true), deletes pass through', async () => {
    const path = makeDb(CUSTOMERS);
    const one = await lookupNode({ as: 'customer', from: { type: 'sqlite', path, table: 'customers' }, localKey: 'customer_id', foreignKey: 'id' });
    const del: SluiceRecord = { key: { id: 9 }, value: null, before: { id: 9, customer_id: 1 }, op: 'd', meta: {} };
    const { out, error } = await one.process([order(1, 3), order(2, 1), del, order(3, 42)], 'in');
    expect(error).toEqual([]);
    expect(out.map((r) => r.value)).toEqual([
      { id: 1, customer_id: 3, customer: { id: 3, name: 'Grace', country: 'US' } },
      { id: 2, customer_id: 1, customer: { id: 1, name: 'Ada', country: 'GB' } },
      null,
      { id: 3, customer_id: 42, customer: null },
    ]);
    expect(out[2]).toBe(del);
    await one.close();

    const many = await lookupNode({ as: 'addresses', from: { type: 'sqlite', path, table: 'addresses' }, localKey: 'customer_id', foreignKey: 'customer_id', many: true });
    const r = await many.process([order(1, 1), order(2, 2), order(3, null)], 'in');
    expect(r.out.map((x) => x.value!.addresses)).toEqual([
      [
        { aid: 10, customer_id: 1, city: 'London' },
        { aid: 12, customer_id: 1, city: 'Bath' },
      ],
      [],
      [],
    ]);
    await many.close();
  });

  it('onMissing: drop drops, error sends the record to the error port saying what was not found', async () => {
    const path = makeDb(CUSTOMERS);
    const from = { type: 'sqlite', path, table: 'customers' };
    const drop = await lookupNode({ as: 'c', from, localKey: 'customer_id', foreignKey: 'id', onMissing: 'drop' });
    expect((await drop.process([order(1, 1), order(2, 99), order(3, null)], 'in')).out.map((r) => r.key)).toEqual([{ id: 1 }]);
    const strict = await lookupNode({ as: 'c', from, localKey: 'customer_id', foreignKey: 'id', onMissing: 'error' });
    const { out, error } = await strict.process([order(1, 1), order(2, 99), order(3, { nested: true })], 'in');
    expect(out.map((r) => r.key)).toEqual([{ id: 1 }]);
    expect(error.map((r) => [r.key, r.meta.error])).toEqual([
      [{ id: 2 }, { node: 'n1', message: `no row in table customers of ${path} with id = 99 (localKey "customer_id"; onMissing is "error")` }],
      [{ id: 3 }, { node: 'n1', message: 'localKey "customer_id" is {"nested":true}: a key must be a string, a number or a boolean' }],
    ]);
  });

  it('sends one query per batch for the keys the cache lacks; caches misses too; chunks by maxKeysPerQuery', async () => {
    const path = makeDb(CUSTOMERS);
    const from = { type: 'sqlite', path, table: 'customers' };
    const node = await lookupNode({ as: 'c', from, localKey: 'customer_id', foreignKey: 'id' });
    const batch = (start: number) => Array.from({ length: 100 }, (_, i) => order(start + i, (i % 5) + 1)); // keys 1..5, 4 and 5 missing
    await node.process(batch(0), 'in');
    expect(node.stats()).toEqual({ lookups: 100, hits: 95, misses: 5, queries: 1 });
    const second = await node.process(batch(100), 'in');
    expect(node.stats()).toEqual({ lookups: 200, hits: 195, misses: 5, queries: 1 });
    expect(second.out[0].value!.c).toEqual({ id: 1, name: 'Ada', country: 'GB' });
    expect(second.out[3].value!.c).toBeNull();

    const chunked = await lookupNode({ as: 'c', from, localKey: 'customer_id', foreignKey: 'id', maxKeysPerQuery: 2 });
    await chunked.process(batch(0), 'in');
    expect(chunked.stats().queries).toBe(3);

    const uncached = await lookupNode({ as: 'c', from, localKey: 'customer_id', foreignKey: 'id', cache: { maxEntries: 0 } });
    await uncached.process(batch(0), 'in');
    const again = await uncached.process(batch(100), 'in');
    expect(uncached.stats()).toEqual({ lookups: 200, hits: 190, misses: 10, queries: 2 });
    expect(again.out[2].value!.c).toEqual({ id: 3, name: 'Grace', country: 'US' });
  });

  it('matches 1 and "1" whatever the column affinity; logs its figures on close', async () => {
    const path = makeDb(CUSTOMERS);
    const logs: string[] = [];
    const text = await lookupNode({ as: 'code', from: { type: 'sqlite', path, table: 'codes' }, localKey: 'k', foreignKey: 'code' }, logs);
    const { out } = await text.process([rec({ id: 1, k: 7 }), rec({ id: 2, k: '7' }), rec({ id: 3, k: 'x' })], 'in');
    expect(out.map((r) => r.value!.code)).toEqual([
      { code: '7', label: 'seven' },
      { code: '7', label: 'seven' },
      { code: 'x', label: 'ex' },
    ]);
    await text.close();
    expect(logs).toContainEqual(expect.stringMatching(/^warn: from: column code of table codes has no index/));
    expect(logs).toContain('info: lookup: 3 lookups, 33.3% from the cache, 1 queries (333.33 per 1,000)');
    const integer = await lookupNode({ as: 'c', from: { type: 'sqlite', path, table: 'customers' }, localKey: 'customer_id', foreignKey: 'id' });
    expect((await integer.process([order(1, '2'), order(2, 2)], 'in')).out.map((r) => r.value!.c)).toEqual([
      { id: 2, name: 'Alan', country: 'GB' },
      { id: 2, name: 'Alan', country: 'GB' },
    ]);
  });

  it('warns once when records lack the localKey field', async () => {
    const path = makeDb(CUSTOMERS);
    const logs: string[] = [];
    const node = await lookupNode({ as: 'c', from: { type: 'sqlite', path, table: 'customers' }, localKey: 'customerId', foreignKey: 'id' }, logs);
    await node.process([order(1, 1), order(2, 2)], 'in');
    expect(logs.filter((l) => l.startsWith('warn'))).toEqual(['warn: records have no field "customerId" (localKey); they get no match. Fields of the first one: id, customer_id']);
  });

  it('names the from field or foreignKey when the table cannot be used', async () => {
    const path = makeDb(CUSTOMERS);
    const fails = async (config: Record<string, unknown>) => {
      const node = await create<LookupTransform>(type, { mode: 'lookup', as: 'c', localKey: 'customer_id', foreignKey: 'id', ...config });
      const err = await node.open().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      return (err as Error).message;
    };
    expect(await fails({ from: { type: 'sqlite', path: '/nonexistent/ref.db', table: 'customers' } })).toMatch(/^nodes\[n1\]\.from\.path: cannot read table "customers": database file not found/);
    expect(await fails({ from: { type: 'sqlite', path, table: 'clients' } })).toMatch(/^nodes\[n1\]\.from\.table: table "clients" not found in .*; tables: addresses, codes, customers/);
    expect(await fails({ from: { type: 'sqlite', path, table: 'customers' }, foreignKey: 'cid' })).toMatch(
      /^nodes\[n1\]\.foreignKey: table customers in .* has no column "cid"; columns: id, name, country/,
    );
  });

  it('property: the enriched records equal a SQL LEFT JOIN of the same records and table, in any batching and cache size', async () => {
    const dir = tempDir('sluice-denorm-prop-');
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ k: fc.integer({ min: 1, max: 8 }), label: fc.constantFrom('a', 'b', 'c') }), { maxLength: 15 }),
        fc.array(fc.option(fc.integer({ min: 1, max: 10 }), { nil: null }), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 4 }),
        fc.boolean(),
        async (rows, keys, cuts, maxEntries, many) => {
          const path = join(dir, `ref-${run++}.db`);
          const db = new Database(path);
          db.exec('CREATE TABLE ref (id INTEGER PRIMARY KEY, k INTEGER, label TEXT); CREATE TABLE recs (id INTEGER PRIMARY KEY, k INTEGER)');
          rows.forEach((r) => db.prepare('INSERT INTO ref (k, label) VALUES (?, ?)').run(r.k, r.label));
          keys.forEach((k, i) => db.prepare('INSERT INTO recs VALUES (?, ?)').run(i + 1, k));
          const obj = "json_object('id', f.id, 'k', f.k, 'label', f.label)";
          const sql = many
            ? `SELECT r.id, r.k, json_group_array(${obj} ORDER BY f.id) FILTER (WHERE f.id IS NOT NULL) AS m FROM recs r LEFT JOIN ref f ON f.k = r.k GROUP BY r.id ORDER BY r.id`
            : `SELECT r.id, r.k, (SELECT ${obj} FROM ref f WHERE f.k = r.k ORDER BY f.id LIMIT 1) AS m FROM recs r ORDER BY r.id`;
          const expected = (db.prepare(sql).all() as { id: number; k: number | null; m: string | null }[]).map((r) => ({
            id: r.id,
            k: r.k,
            m: r.m === null ? null : JSON.parse(r.m),
          }));
          db.close();

          const node = await lookupNode({ as: 'm', from: { type: 'sqlite', path, table: 'ref' }, localKey: 'k', foreignKey: 'k', many, cache: { maxEntries } });
          const records = keys.map((k, i) => rec({ id: i + 1, k }));
          const got: Value[] = [];
          let batches = 0;
          for (let at = 0, c = 0; at < records.length; c++) {
            const size = cuts[c % cuts.length];
            got.push(...(await node.process(records.slice(at, at + size), 'in')).out.map((r) => r.value!));
            at += size;
            batches++;
          }
          expect(node.stats().queries).toBeLessThanOrEqual(batches);
          await node.close();
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});

describe('join keys', () => {
  it('joinMapKey (the nest state\'s Map key) is equal exactly when joinKey is', () => {
    const scalar = fc.oneof(fc.integer(), fc.double(), fc.string(), fc.integer().map(String), fc.double().map(String), fc.boolean(), fc.bigInt(), fc.constant(null));
    const pair = scalar.chain((a) => fc.tuple(fc.constant(a), fc.oneof(scalar, fc.constant(String(a)), fc.constant(typeof a === 'string' ? Number(a) : a))));
    fc.assert(fc.property(pair, ([a, b]) => (joinMapKey(a) === joinMapKey(b)) === (joinKey(a) === joinKey(b))), { numRuns: 2000 });
    expect([joinKey(1), joinKey('1'), joinKey(true), joinKey(1n), joinKey('01'), joinKey(null), joinKey({})]).toEqual(['1', '1', '1', '1', '01', null, undefined]);
    expect([joinMapKey(1), joinMapKey('1'), joinMapKey(true), joinMapKey(1n), joinMapKey('01'), joinMapKey(null), joinMapKey([])]).toEqual([1, 1, 1, 1, '01', null, undefined]);
    expect([joinMapKey('NaN'), joinMapKey('Infinity'), joinMapKey(NaN)]).toEqual(['NaN', 'Infinity', undefined]); // a key equal to itself
  });
});

describe('LruCache', () => {
  it('serves an entry until its TTL, evicts the least recently used past maxEntries, keeps nothing with 0', () => {
    let now = 1000;
    const cache = new LruCache<string, string>(2, 50, () => now);
    cache.set('a', 'A');
    cache.set('b', 'B');
    expect(cache.get('a')).toBe('A'); // a is now the most recently used
    cache.set('c', 'C');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    expect(cache.get('c')).toBe('C');
    now += 49;
    expect(cache.get('a')).toBe('A');
    now += 1;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(1);
    const off = new LruCache<string, string>(0, 50, () => now);
    off.set('a', 'A');
    expect(off.get('a')).toBeUndefined();
  });

  it('answers, evicts and expires exactly as a Map re-ordered on every hit would (the model), over random operations', () => {
    // the model: a Map in use order, an entry deleted and set again on every read or write
    class Model {
      readonly m = new Map<number, { v: number; exp: number }>();
      constructor(readonly max: number, readonly ttl: number, readonly now: () => number) {}
      get(k: number) {
        const e = this.m.get(k);
        if (!e) return undefined;
        this.m.delete(k);
        if (e.exp <= this.now()) return undefined;
        this.m.set(k, e);
        return e.v;
      }
      set(k: number, v: number) {
        if (this.max <= 0) return;
        this.m.delete(k);
        this.m.set(k, { v, exp: this.now() + this.ttl });
        while (this.m.size > this.max) this.m.delete(this.m.keys().next().value!);
      }
    }
    const op = fc.oneof(
      { arbitrary: fc.tuple(fc.constant('get' as const), fc.integer({ min: 0, max: 7 })), weight: 8 },
      { arbitrary: fc.tuple(fc.constant('set' as const), fc.integer({ min: 0, max: 7 })), weight: 8 },
      { arbitrary: fc.tuple(fc.constant('tick' as const), fc.integer({ min: 0, max: 30 })), weight: 2 },
      { arbitrary: fc.tuple(fc.constant('clear' as const), fc.constant(0)), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 }), fc.array(op, { minLength: 10, maxLength: 80, size: 'max' }), (max, ops) => {
        let now = 0;
        const cache = new LruCache<number, number>(max, 40, () => now);
        const model = new Model(max, 40, () => now);
        ops.forEach(([what, k], i) => {
          if (what === 'get') expect(cache.get(k)).toBe(model.get(k));
          else if (what === 'set') {
            cache.set(k, i);
            model.set(k, i);
          } else if (what === 'tick') now += k;
          else {
            cache.clear();
            model.m.clear();
          }
          expect(cache.size).toBe(model.m.size);
        });
        for (let k = 0; k < 8; k++) expect(cache.get(k)).toBe(model.get(k));
      }),
      { numRuns: 1000 },
    );
  });
});

describe('FieldAdder', () => {
  // what the lookup's output value must be: the spread, own fields in order, the same prototype
  const same = (got: Value, want: Value) => {
    expect(Object.getPrototypeOf(got)).toBe(Object.getPrototypeOf(want));
    expect(Reflect.ownKeys(got)).toEqual(Reflect.ownKeys(want));
    for (const k of Reflect.ownKeys(want)) expect((got as Record<PropertyKey, unknown>)[k as string]).toBe((want as Record<PropertyKey, unknown>)[k as string]);
  };

  it('makes { ...value, [field]: v } for values of any and changing field sets, __proto__ and integer-like names included', () => {
    const name = fc.oneof(fc.constantFrom('id', 'customer', 'amount', '1', '10', '__proto__', 'a b', '"q"', 'constructor'), fc.string({ maxLength: 3 }));
    const value = fc.oneof(
      fc.dictionary(name, fc.jsonValue(), { maxKeys: 6 }),
      fc.dictionary(name, fc.jsonValue(), { maxKeys: 6 }).map((d) => JSON.parse(JSON.stringify(d)) as Value),
      fc.dictionary(name, fc.integer(), { maxKeys: 6 }).map((d) => Object.assign(Object.create({ inherited: 1 }), d) as Value),
    );
    fc.assert(
      fc.property(fc.constantFrom('customer', 'id', '1', '__proto__', 'x'), fc.array(value, { minLength: 1, maxLength: 30 }), (field, values) => {
        const adder = new FieldAdder(field);
        // each value twice: once making its copier, once through it
        const row = { row: 1 };
        for (const v of [...values, ...values]) same(adder.with(v, row), { ...v, [field]: row });
      }),
      { numRuns: 500 },
    );
  });

  it('copies the values it saw first through generated literals, and still right when the fields change', () => {
    const adder = new FieldAdder('customer');
    const c = { id: 7 };
    const a = adder.with({ id: 1, amount: '2.50', customer_id: 7 }, c);
    expect(Object.entries(a)).toEqual([['id', 1], ['amount', '2.50'], ['customer_id', 7], ['customer', c]]);
    expect(Object.entries(adder.with({ amount: '2.50', id: 1, customer_id: 7 }, c))).toEqual([['amount', '2.50'], ['id', 1], ['customer_id', 7], ['customer', c]]);
    expect(Object.entries(adder.with({ id: 1, customer: 'old', x: 2 }, c))).toEqual([['id', 1], ['customer', c], ['x', 2]]);
    expect(Object.entries(adder.with({ id: 1, amount: '2.50' }, c))).toEqual([['id', 1], ['amount', '2.50'], ['customer', c]]);
    // inherited fields named like a copier's own ones are not copied (for-in would list them)
    expect(Object.entries(adder.with(Object.assign(Object.create({ amount: '9.99', customer_id: 8 }), { id: 1 }) as Value, c))).toEqual([['id', 1], ['customer', c]]);
    for (let i = 0; i < 20; i++) expect(Object.entries(adder.with({ [`f${i}`]: i }, c))).toEqual([[`f${i}`, i], ['customer', c]]); // more shapes than copiers
  });
});

// ---- nest --------------------------------------------------------------------------------------

const NEST = { mode: 'nest', as: 'lines', parentKey: 'id', childKey: 'order_id' };

async function nestNode(config: Record<string, unknown> = NEST, state?: unknown): Promise<NestTransform> {
  const node = await create<NestTransform>(type, config);
  await node.open(state);
  return node;
}

const parent = (id: number, status: string, op: SluiceRecord['op'] = 'c') => rec({ id, status }, op, { id });
const line = (id: number, order_id: number | null, qty: number, op: SluiceRecord['op'] = 'c') => rec({ id, order_id, qty }, op, { id });
const del = (id: number, before?: Value): SluiceRecord => ({ key: { id }, value: null, op: 'd', meta: {}, ...(before ? { before } : {}) });
const summary = (out: SluiceRecord[]) => out.map((r) => `${r.op} ${JSON.stringify(r.key)} ${JSON.stringify(r.value ?? r.before ?? null)}`);

describe('core.denormalize nest', () => {
  it('emits the whole document on a parent or child change, once per parent per batch, children by id', async () => {
    const node = await nestNode();
    const a = await node.process([parent(1, 'new'), parent(2, 'new'), parent(1, 'paid', 'u')], 'parent');
    expect(summary(a.out)).toEqual(['c {"id":1} {"id":1,"status":"paid","lines":[]}', 'c {"id":2} {"id":2,"status":"new","lines":[]}']);
    const b = await node.process([line(12, 1, 2), line(11, 1, 1), line(13, 2, 5)], 'child');
    expect(summary(b.out)).toEqual([
      'u {"id":1} {"id":1,"status":"paid","lines":[{"id":11,"order_id":1,"qty":1},{"id":12,"order_id":1,"qty":2}]}',
      'u {"id":2} {"id":2,"status":"new","lines":[{"id":13,"order_id":2,"qty":5}]}',
    ]);
    const c = await node.process([line(12, 1, 9, 'u'), del(11)], 'child');
    expect(summary(c.out)).toEqual(['u {"id":1} {"id":1,"status":"paid","lines":[{"id":12,"order_id":1,"qty":9}]}']);
  });

  it('its documents carry no source table schema (meta.schema describes the input rows, not the nested document)', async () => {
    const node = await nestNode();
    const schema = { table: 'shop.lines', key: ['id'], columns: [{ name: 'id', kind: 'integer', source: 'int', nullable: false, bits: 32 }] };
    await node.process([{ ...parent(1, 'new'), meta: { table: 'shop.orders', schema: { ...schema, table: 'shop.orders' } } }], 'parent');
    const { out } = await node.process([{ ...line(11, 1, 1), meta: { table: 'shop.lines', schema } }], 'child');
    expect(out).toHaveLength(1);
    expect(out[0].meta).toEqual({ table: 'shop.lines' });
  });

  it('holds a child until its parent arrives; a moved child leaves its old parent', async () => {
    const node = await nestNode();
    expect((await node.process([line(1, 7, 1), line(2, 7, 2)], 'child')).out).toEqual([]);
    expect(summary((await node.process([parent(7, 'new')], 'parent')).out)).toEqual([
      'c {"id":7} {"id":7,"status":"new","lines":[{"id":1,"order_id":7,"qty":1},{"id":2,"order_id":7,"qty":2}]}',
    ]);
    await node.process([parent(8, 'new')], 'parent');
    expect(summary((await node.process([line(2, 8, 2, 'u')], 'child')).out)).toEqual([
      'u {"id":7} {"id":7,"status":"new","lines":[{"id":1,"order_id":7,"qty":1}]}',
      'u {"id":8} {"id":8,"status":"new","lines":[{"id":2,"order_id":8,"qty":2}]}',
    ]);
    expect(summary((await node.process([line(1, null, 1, 'u')], 'child')).out)).toEqual(['u {"id":7} {"id":7,"status":"new","lines":[]}']);
  });

  it('a deleted parent emits a delete with its last document; inserted again, it gets its children back', async () => {
    const node = await nestNode();
    await node.process([parent(1, 'new')], 'parent');
    await node.process([line(5, 1, 3)], 'child');
    const d = await node.process([del(1)], 'parent');
    expect(d.out).toEqual([{ key: { id: 1 }, value: null, op: 'd', before: { id: 1, status: 'new', lines: [{ id: 5, order_id: 1, qty: 3 }] }, meta: {} }]);
    expect((await node.process([line(6, 1, 4)], 'child')).out).toEqual([]);
    expect(summary((await node.process([parent(1, 'again')], 'parent')).out)).toEqual([
      'c {"id":1} {"id":1,"status":"again","lines":[{"id":5,"order_id":1,"qty":3},{"id":6,"order_id":1,"qty":4}]}',
    ]);
    expect(summary((await node.process([del(1), parent(1, 'back')], 'parent')).out)).toEqual([
      'u {"id":1} {"id":1,"status":"back","lines":[{"id":5,"order_id":1,"qty":3},{"id":6,"order_id":1,"qty":4}]}',
    ]);
  });

  it('an update that changes a parent key or a child id moves it: the old one goes', async () => {
    const node = await nestNode();
    await node.process([parent(1, 'new')], 'parent');
    await node.process([line(5, 1, 3)], 'child');
    const moved = await node.process([{ key: { id: 2 }, value: { id: 2, status: 'new' }, before: { id: 1, status: 'new' }, op: 'u', meta: {} }], 'parent');
    expect(summary(moved.out)).toEqual(['d {"id":1} {"id":1,"status":"new","lines":[{"id":5,"order_id":1,"qty":3}]}', 'c {"id":2} {"id":2,"status":"new","lines":[]}']);
    await node.process([parent(1, 'back')], 'parent');
    const renamed = await node.process([{ key: { id: 6 }, value: { id: 6, order_id: 1, qty: 3 }, before: { id: 5, order_id: 1, qty: 3 }, op: 'u', meta: {} }], 'child');
    expect(summary(renamed.out)).toEqual(['u {"id":1} {"id":1,"status":"back","lines":[{"id":6,"order_id":1,"qty":3}]}']);
    expect(node.size()).toEqual({ parents: 2, children: 1 });
  });

  it('sends records it cannot file to the error port, naming the field', async () => {
    const node = await nestNode();
    const p = await node.process([rec({ name: 'x' }, 'c', 1), rec({ id: { a: 1 } }, 'c', 2)], 'parent');
    expect(p.out).toEqual([]);
    expect(p.error.map((r) => r.meta.error!.message)).toEqual([
      'parent record (op c, key 1) has no field "id" (parentKey): a parent needs a string or number key',
      'parent record (op c, key 2) has {"a":1} in "id" (parentKey): a parent needs a string or number key',
    ]);
    const c = await node.process([rec({ id: 1, orderId: 3 }), rec({ order_id: 3 }, 'c', 'k')], 'child');
    expect(c.error.map((r) => r.meta.error!.message)).toEqual([
      'child record (op c, key 1) has no field "order_id" (childKey)',
      'child record (op c, key "k") has no field "id" (childId): a child needs a string or number id',
    ]);
    await expect(node.process([parent(1, 'x')], 'in')).rejects.toThrow(/nest mode reads the "parent" and "child" ports, got records on "in"/);
  });

  it('snapshot() → open(state) carries on where it was; a state kept with other keys is refused', async () => {
    const node = await nestNode();
    await node.process([line(2, 1, 1)], 'child');
    await node.process([parent(3, 'new')], 'parent');
    await node.process([line(4, 3, 1)], 'child');
    const state = JSON.parse(JSON.stringify(node.snapshot()));
    const resumed = await nestNode(NEST, state);
    expect(resumed.size()).toEqual({ parents: 1, children: 2 });
    expect(summary((await resumed.process([parent(1, 'late')], 'parent')).out)).toEqual(['c {"id":1} {"id":1,"status":"late","lines":[{"id":2,"order_id":1,"qty":1}]}']);
    expect(summary((await resumed.process([del(4)], 'child')).out)).toEqual(['u {"id":3} {"id":3,"status":"new","lines":[]}']);
    const other = await create<NestTransform>(type, { ...NEST, childKey: 'orderId' });
    await expect(other.open(state)).rejects.toThrow(/checkpointed state was kept with parentKey "id", childKey "order_id", childId "id".*--from-start/);
  });

  it('property: after random inserts, updates and deletes, the emitted documents equal a SQL JOIN of the final tables, across a crash and replay', async () => {
    type Op =
      | { port: 'parent'; op: 'c' | 'u' | 'd'; id: number; status: string; withBefore: boolean }
      | { port: 'child'; op: 'c' | 'u' | 'd'; id: number; order_id: number | null; qty: number; withBefore: boolean };
    const parentOp = fc.record({
      port: fc.constant('parent' as const),
      op: fc.constantFrom('c' as const, 'u' as const, 'd' as const),
      id: fc.integer({ min: 1, max: 6 }),
      status: fc.constantFrom('new', 'paid', 'shipped'),
      withBefore: fc.boolean(),
    });
    const childOp = fc.record({
      port: fc.constant('child' as const),
      op: fc.constantFrom('c' as const, 'u' as const, 'u' as const, 'd' as const),
      id: fc.integer({ min: 1, max: 15 }),
      order_id: fc.option(fc.integer({ min: 1, max: 7 }), { nil: null, freq: 8 }),
      qty: fc.integer({ min: 1, max: 9 }),
      withBefore: fc.boolean(),
    });

    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(parentOp, childOp), { maxLength: 90 }),
        fc.array(fc.boolean(), { minLength: 90, maxLength: 90 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (ops, cuts, crashAt, crashAhead) => {
          // the truth: the same changes applied to two SQLite tables
          const db = new Database(':memory:');
          db.exec('CREATE TABLE parents (id INTEGER PRIMARY KEY, status TEXT); CREATE TABLE children (id INTEGER PRIMARY KEY, order_id INTEGER, qty INTEGER)');
          const records: { port: string; record: SluiceRecord }[] = [];
          for (const o of ops) {
            const table = o.port === 'parent' ? 'parents' : 'children';
            const current = db.prepare(`SELECT * FROM ${table} WHERE id = ?`).get(o.id) as Value | undefined;
            if (o.op === 'd') {
              db.prepare(`DELETE FROM ${table} WHERE id = ?`).run(o.id);
              records.push({ port: o.port, record: del(o.id, o.withBefore ? current : undefined) });
              continue;
            }
            const value: Value = o.port === 'parent' ? { id: o.id, status: o.status } : { id: o.id, order_id: o.order_id, qty: o.qty };
            const cols = Object.keys(value);
            db.prepare(`INSERT OR REPLACE INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`).run(...Object.values(value));
            records.push({ port: o.port, record: { key: { id: o.id }, value, op: o.op, meta: {}, ...(o.withBefore && current ? { before: current } : {}) } });
          }
          const expected = (
            db
              .prepare(
                `SELECT p.id, p.status,
                   json_group_array(json_object('id', c.id, 'order_id', c.order_id, 'qty', c.qty) ORDER BY c.id) FILTER (WHERE c.id IS NOT NULL) AS lines
                 FROM parents p LEFT JOIN children c ON c.order_id = p.id GROUP BY p.id ORDER BY p.id`,
              )
              .all() as { id: number; status: string; lines: string }[]
          ).map((r) => ({ ...r, lines: JSON.parse(r.lines) }));
          db.close();

          // batches: runs of one port, cut at random
          const batches: { port: string; records: SluiceRecord[] }[] = [];
          records.forEach((r, i) => {
            const last = batches[batches.length - 1];
            if (last && last.port === r.port && !cuts[i]) last.records.push(r.record);
            else batches.push({ port: r.port, records: [r.record] });
          });

          // the sink: upsert by key, delete on d
          const sink = new Map<number, Value>();
          const write = (out: SluiceRecord[]) => {
            for (const r of out) {
              const id = (r.key as { id: number }).id;
              if (r.op === 'd') sink.delete(id);
              else sink.set(id, r.value!);
            }
          };
          // a checkpoint after batch k, the sink gets ahead of it, then a crash and a replay from k
          const k = Math.floor(crashAt * batches.length);
          const ahead = k + Math.floor(crashAhead * (batches.length - k));
          const first = await nestNode();
          for (const b of batches.slice(0, k)) write((await first.process(b.records, b.port)).out);
          const state = JSON.parse(JSON.stringify(first.snapshot()));
          for (const b of batches.slice(k, ahead)) write((await first.process(b.records, b.port)).out);
          const second = await nestNode(NEST, state);
          for (const b of batches.slice(k)) {
            const { out, error } = await second.process(b.records, b.port);
            expect(error).toEqual([]);
            const seen = out.map((r) => JSON.stringify(r.key));
            expect(new Set(seen).size).toBe(seen.length); // at most one document per parent per batch
            write(out);
          }
          expect([...sink.values()].sort((a, b) => (a.id as number) - (b.id as number))).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('core.denormalize in a flow', () => {
  it('lookup: generate → denormalize → sink enriches every order with its customer', async () => {
    const dir = tempDir('sluice-denorm-flow-');
    const path = join(dir, 'ref.db');
    const db = new Database(path);
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)');
    for (let i = 1; i <= 4; i++) db.prepare('INSERT INTO customers VALUES (?, ?)').run(i, `c${i}`);
    db.close();
    const sink = collector('denorm-lookup');
    const plan = compileFlow(
      {
        apiVersion: 'sluice/v1',
        name: 'lookup-flow',
        settings: { batchSize: 10 },
        nodes: [
          { id: 'gen', type: 'core.generate', config: { dataset: 'orders', count: 45, customers: 5 } },
          { id: 'enrich', type: 'core.denormalize', config: { mode: 'lookup', as: 'customer', from: { type: 'sqlite', path, table: 'customers' }, localKey: 'customer_id', foreignKey: 'id' } },
          { id: 'out', type: 'test.memory', config: { name: 'denorm-lookup' } },
        ],
        edges: [
          { from: 'gen', to: 'enrich' },
          { from: 'enrich', to: 'out' },
        ],
      },
      testRegistry(),
    );
    const store = new SqliteCheckpointStore(join(dir, 'state.db'));
    const summary = await new FlowRun(plan, { store }).run();
    await store.close();
    expect(summary.status).toBe('completed');
    const values = flat(sink).map((r) => r.value!);
    expect(values).toHaveLength(45);
    for (const v of values) expect(v.customer).toEqual(v.customer_id === 5 ? null : { id: v.customer_id, name: `c${v.customer_id}` });
  });
});

describe('core.denormalize: instances', () => {
  it('creates the transform of its mode; only nest keeps state', async () => {
    const path = makeDb(CUSTOMERS);
    const l = await denormalize.create(makeContext(type, { mode: 'lookup', as: 'c', from: { type: 'sqlite', path, table: 'customers' }, localKey: 'a', foreignKey: 'id' }));
    const n = await denormalize.create(makeContext(type, NEST));
    expect(l).toBeInstanceOf(LookupTransform);
    expect(n).toBeInstanceOf(NestTransform);
    expect('snapshot' in l).toBe(false);
    expect(typeof (n as NestTransform).snapshot).toBe('function');
  });
});
