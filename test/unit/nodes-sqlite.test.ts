import { describe, it, expect } from 'vitest';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { create, readAll, rec, tempDir, writeAll } from '../helpers/node-harness.js';
import { settingsSchema } from '../../runtime/flow/schema.js';
import { ConfigError, NodeError } from '../../runtime/errors.js';
import type { SinkInstance, SourceInstance } from '../../runtime/node-api.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { sqliteSource } from '../../nodes/sqlite/source.js';
import { sqliteSink } from '../../nodes/sqlite/sink.js';
import { quoteIdent } from '../../nodes/sqlite/sql.js';
import { NodeRegistry } from '../../runtime/registry.js';

function db(path: string, sql: string): void {
  const d = new Database(path);
  d.exec(sql);
  d.close();
}

function query(path: string, sql: string): unknown[] {
  const d = new Database(path, { readonly: true });
  try {
    return d.prepare(sql).all();
  } finally {
    d.close();
  }
}

function source(config: Record<string, unknown>, overrides: Record<string, unknown> = {}) {
  return create<SourceInstance>(sqliteSource, config, overrides);
}

const sink = (config: Record<string, unknown>) => create<SinkInstance>(sqliteSink, config);

describe('sqlite.source: snapshot', () => {
  it('pages by primary key in chunks, op r, position = last key, resumable mid-table', async () => {
    const path = join(tempDir(), 'shop.db');
    db(path, `CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL, note TEXT, img BLOB);
      INSERT INTO orders (id, total, note) VALUES (10, 1.5, 'a'), (3, 2, 'b'), (7, 3, NULL), (1, 4, 'd'), (22, 5, 'e'), (15, 6, 'f'), (8, 7, 'g');
      UPDATE orders SET img = x'00ff10' WHERE id = 3;`);
    const out = await readAll(await source({ path, table: 'orders', chunkSize: 3 }));
    expect(out.records.map((r) => r.key)).toEqual([1, 3, 7, 8, 10, 15, 22]);
    expect(out.positions).toEqual([7, 15, 22]);
    expect(out.records.every((r) => r.op === 'r' && r.meta.table === 'orders' && r.meta.source === 'n1')).toBe(true);
    expect(out.records[1].value).toEqual({ id: 3, total: 2, note: 'b', img: { $base64: Buffer.from([0, 255, 16]).toString('base64') } });
    expect(out.records[2].value).toEqual({ id: 7, total: 3, note: null, img: null });

    const rest = await readAll(await source({ path, table: 'orders', chunkSize: 3 }), out.positions[0]);
    expect(rest.records.map((r) => r.key)).toEqual([8, 10, 15, 22]);
    const none = await readAll(await source({ path, table: 'orders', chunkSize: 3 }), 22);
    expect(none.records).toEqual([]);
  });

  it('reports progress: rows done / estimated and the phase, counting what a resumed position already covered', async () => {
    const path = join(tempDir(), 'progress.db');
    const rows = Array.from({ length: 10 }, (_, i) => `(${i + 1}, 'x')`).join(', ');
    db(path, `CREATE TABLE items (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO items (id, v) VALUES ${rows};`);
    const src = await source({ path, table: 'items', chunkSize: 4 });
    await src.open(undefined);
    expect(src.progress!()).toEqual({ tables: [{ name: 'items', phase: 'pending', done: 0, estimated: 10 }] });
    await src.read();
    expect(src.progress!()).toEqual({ tables: [{ name: 'items', phase: 'snapshot', done: 4, estimated: 10 }] });
    while (await src.read());
    expect(src.progress!()).toEqual({ tables: [{ name: 'items', phase: 'done', done: 10, estimated: 10 }] });
    await src.close();
    // resumed after key 6: six rows were done before this run
    const resumed = await source({ path, table: 'items', chunkSize: 4 });
    await resumed.open(6);
    expect(resumed.progress!()!.tables![0]).toMatchObject({ phase: 'snapshot', done: 6, estimated: 10 });
    while (await resumed.read());
    expect(resumed.progress!()!.tables![0]).toMatchObject({ phase: 'done', done: 10 });
    await resumed.close();
  });

  it('uses the rowid without a primary key and the flow batch size by default', async () => {
    const path = join(tempDir(), 'plain.db');
    db(path, `CREATE TABLE "we""ird" (name TEXT); INSERT INTO "we""ird" VALUES ('a'), ('b'), ('c');`);
    const out = await readAll(await source({ path, table: 'we"ird' }, { settings: settingsSchema.parse({ batchSize: 2 }) }));
    expect(out.records.map((r) => [r.key, r.value])).toEqual([
      [1, { name: 'a' }],
      [2, { name: 'b' }],
      [3, { name: 'c' }],
    ]);
    expect(out.positions).toEqual([2, 3]);
  });

  it('missing table: ConfigError naming the node and the table and listing the tables', async () => {
    const path = join(tempDir(), 'shop.db');
    db(path, 'CREATE TABLE orders (id INTEGER PRIMARY KEY); CREATE TABLE customers (id TEXT PRIMARY KEY);');
    const err = await (await source({ path, table: 'ordres' })).open(undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(`nodes[n1].table: table "ordres" not found in ${path}; tables: customers, orders`);
  });

  it('missing database file and unknown keyColumn are ConfigErrors', async () => {
    const dir = tempDir();
    const missing = join(dir, 'none.db');
    const err = await (await source({ path: missing, table: 'orders' })).open(undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/nodes\[n1\]\.path: .*"orders".*not found/);
    const path = join(dir, 'x.db');
    db(path, 'CREATE TABLE t (a INTEGER, b TEXT)');
    const err2 = await (await source({ path, table: 't', keyColumn: 'c' })).open(undefined).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/no column "c"; columns: a, b/);
  });
});

describe('sqlite.source: incremental', () => {
  it('never loses or repeats rows sharing a value across a chunk boundary; follow:false ends when caught up', async () => {
    const path = join(tempDir(), 'inc.db');
    db(path, `CREATE TABLE ev (id TEXT PRIMARY KEY, updated_at INTEGER);
      INSERT INTO ev VALUES ('a', 1), ('b', 2), ('c', 2), ('d', 2), ('e', 3), ('n', NULL);`);
    const cfg = { path, table: 'ev', mode: 'incremental', keyColumn: 'updated_at', chunkSize: 2, follow: false };
    const warnings: string[] = [];
    const log = { info() {}, warn: (m: string) => warnings.push(m), error() {} };
    const out = await readAll(await source(cfg, { log }));
    expect(out.records.map((r) => r.value?.id)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(out.records.every((r) => r.op === 'u')).toBe(true);
    expect(out.records.map((r) => r.key)).toEqual([1, 2, 2, 2, 3]);
    expect(out.positions).toEqual([
      { value: 2, rowid: 2 },
      { value: 2, rowid: 4 },
      { value: 3, rowid: 5 },
    ]);
    expect(warnings.join()).toMatch(/NULL/);

    // resume mid-tie, then pick up rows added later
    const mid = await readAll(await source(cfg), out.positions[0]);
    expect(mid.records.map((r) => r.value?.id)).toEqual(['c', 'd', 'e']);
    const mid2 = await readAll(await source(cfg), out.positions[1]);
    expect(mid2.records.map((r) => r.value?.id)).toEqual(['e']);
    db(path, `INSERT INTO ev VALUES ('f', 3), ('g', 4)`);
    const later = await readAll(await source(cfg), out.positions[2]);
    expect(later.records.map((r) => r.value?.id)).toEqual(['f', 'g']);
  });

  it('follow:true polls for new rows and returns null as soon as the signal aborts', async () => {
    const path = join(tempDir(), 'follow.db');
    db(path, `CREATE TABLE ev (id INTEGER PRIMARY KEY, v TEXT); INSERT INTO ev VALUES (1, 'a');`);
    const controller = new AbortController();
    const src = await source({ path, table: 'ev', mode: 'incremental', pollIntervalMs: 20 }, { signal: controller.signal });
    await src.open(undefined);
    expect((await src.read())?.records.map((r) => r.key)).toEqual([1]);
    setTimeout(() => db(path, `INSERT INTO ev VALUES (2, 'b')`), 60);
    const next = await src.read();
    expect(next?.records.map((r) => r.key)).toEqual([2]);
    expect(next?.position).toBe(2);

    const slow = await source({ path, table: 'ev', mode: 'incremental', pollIntervalMs: 60_000 }, { signal: controller.signal });
    await slow.open(2);
    const started = Date.now();
    setTimeout(() => controller.abort(), 50);
    expect(await slow.read()).toBeNull();
    expect(Date.now() - started).toBeLessThan(5000);
    await slow.close();
    await src.close();
  });
});

describe('sqlite.sink', () => {
  it('upserts and deletes by key; the final table is as expected', async () => {
    const path = join(tempDir(), 'deep', 'out.db');
    const del = (key: unknown, before: Record<string, unknown> | null, value: Record<string, unknown> | null = null): SluiceRecord => ({ key, value, before, op: 'd', meta: {} });
    await writeAll(await sink({ path, table: 'orders', keys: ['id'] }), [
      [rec({ id: 1, qty: 1, note: 'x' }), rec({ id: 2, qty: 2, note: 'y' }), rec({ id: 3, qty: 3, note: 'z' }), rec({ id: 4, qty: 4, note: 'w' })],
      [rec({ id: 2, qty: 20 }, 'u'), del(3, { id: 3, qty: 3 }), rec({ id: 5, qty: 5, note: 'v' }, 'r'), del({ id: 4 }, null), del(5, null), rec({ id: 1, qty: 10 }, 'u')],
    ]);
    expect(query(path, 'SELECT id, qty, note FROM orders ORDER BY id')).toEqual([
      { id: 1, qty: 10, note: 'x' },
      { id: 2, qty: 20, note: 'y' },
    ]);
    expect(query(path, 'PRAGMA journal_mode')).toEqual([{ journal_mode: 'wal' }]);
  });

  it('creates the table with types from the first batch and PRIMARY KEY(keys); encodes values', async () => {
    const path = join(tempDir(), 'types.db');
    await writeAll(await sink({ path, table: 'Items', keys: ['shop', 'sku'] }), [
      [
        { key: null, value: { shop: 'a', sku: 1, price: 9.5, active: true, tags: ['x', 'y'], meta: { k: 1 }, note: null, blob: { $base64: 'AAE=' }, later: null }, op: 'c', meta: {} },
        { key: null, value: { shop: 'a', sku: 2, price: 3, active: false, tags: [], meta: null, note: null, later: 'txt' }, op: 'c', meta: {} },
      ],
    ]);
    const cols = query(path, 'SELECT name, type, pk FROM pragma_table_info(\'Items\')');
    expect(cols).toEqual([
      { name: 'shop', type: 'TEXT', pk: 1 },
      { name: 'sku', type: 'INTEGER', pk: 2 },
      { name: 'price', type: 'REAL', pk: 0 },
      { name: 'active', type: 'INTEGER', pk: 0 },
      { name: 'tags', type: 'TEXT', pk: 0 },
      { name: 'meta', type: 'TEXT', pk: 0 },
      { name: 'note', type: 'TEXT', pk: 0 },
      { name: 'blob', type: 'BLOB', pk: 0 },
      { name: 'later', type: 'TEXT', pk: 0 },
    ]);
    expect(query(path, 'SELECT sku, active, tags, meta, typeof(price) AS tp, hex(blob) AS b FROM Items ORDER BY sku')).toEqual([
      { sku: 1, active: 1, tags: '["x","y"]', meta: '{"k":1}', tp: 'real', b: '0001' },
      { sku: 2, active: 0, tags: '[]', meta: null, tp: 'real', b: '' },
    ]);
  });

  it('a whole number lands as an integer, also in a TEXT column ("7", not "7.0"); a REAL column keeps reals', async () => {
    const path = join(tempDir(), 'whole.db');
    db(path, 'CREATE TABLE t (id INTEGER PRIMARY KEY, label TEXT, r REAL, any_)');
    await writeAll(await sink({ path, table: 't' }), [[rec({ id: 1, label: 7, r: 2, any_: 3 }), rec({ id: 2, label: -0, r: 2.5, any_: 2 ** 53 + 2 })]]);
    expect(query(path, 'SELECT id, label, typeof(label) AS tl, r, typeof(r) AS tr, any_, typeof(any_) AS ta FROM t ORDER BY id')).toEqual([
      { id: 1, label: '7', tl: 'text', r: 2, tr: 'real', any_: 3, ta: 'integer' },
      { id: 2, label: '0', tl: 'text', r: 2.5, tr: 'real', any_: 2 ** 53 + 2, ta: 'real' },
    ]);
  });

  it('declared types (meta.schema) pick the created columns and the key, over the values', async () => {
    const path = join(tempDir(), 'declared.db');
    const schema = {
      table: 'shop.items',
      key: ['sku'],
      columns: [
        { name: 'sku', kind: 'string', source: 'varchar(10)', nullable: false, length: 10 },
        { name: 'price', kind: 'decimal', source: 'decimal(10,2)', nullable: false, precision: 10, scale: 2 },
        { name: 'weight', kind: 'float', source: 'double', nullable: true, bits: 64 },
        { name: 'stock', kind: 'integer', source: 'int', nullable: true, bits: 32 },
        { name: 'big', kind: 'integer', source: 'bigint unsigned', nullable: true, bits: 64, unsigned: true },
        { name: 'photo', kind: 'binary', source: 'blob', nullable: true },
      ],
    };
    const first: SluiceRecord = { key: 'k1', value: { sku: 'k1', price: '10.50', weight: 2, stock: null, big: '18446744073709551615', photo: null }, op: 'r', meta: { schema } };
    await writeAll(await sink({ path, table: 'items' }), [
      [first, rec({ sku: 'k2', price: '3.00', weight: 1.5, stock: 4, big: 5, photo: { $base64: 'AAE=' } })],
      // an update carrying only some columns (a change captured without its unchanged TOASTed values): price stays
      [{ key: 'k2', value: { sku: 'k2', stock: 4 }, op: 'u', meta: { schema } }],
      // beyond 2^53 a 64-bit integer travels as a string: within SQLite's integers it is stored as one
      [{ key: 'k3', value: { sku: 'k3', price: '1.00', big: '9223372036854775807' }, op: 'c', meta: { schema } }],
    ]);
    expect(query(path, "SELECT name, type, \"notnull\" AS nn, pk FROM pragma_table_info('items')")).toEqual([
      { name: 'sku', type: 'TEXT', nn: 0, pk: 1 },
      { name: 'price', type: 'TEXT', nn: 0, pk: 0 }, // a declared NOT NULL is not copied
      { name: 'weight', type: 'REAL', nn: 0, pk: 0 },
      { name: 'stock', type: 'INTEGER', nn: 0, pk: 0 },
      { name: 'big', type: '', nn: 0, pk: 0 },
      { name: 'photo', type: 'BLOB', nn: 0, pk: 0 },
    ]);
    expect(query(path, "SELECT typeof(big) AS t, CAST(big AS TEXT) AS big FROM items WHERE sku = 'k3'")).toEqual([{ t: 'integer', big: '9223372036854775807' }]);
    expect(query(path, "SELECT sku, price, weight, typeof(weight) AS tw, stock, big FROM items WHERE sku <> 'k3' ORDER BY sku")).toEqual([
      { sku: 'k1', price: '10.50', weight: 2, tw: 'real', stock: null, big: '18446744073709551615' },
      { sku: 'k2', price: '3.00', weight: 1.5, tw: 'real', stock: 4, big: 5 },
    ]);
  });

  it('adds a column that appears in a later batch', async () => {
    const path = join(tempDir(), 'add.db');
    await writeAll(await sink({ path, table: 't', keys: ['id'] }), [[rec({ id: 1, a: 'x' })], [rec({ id: 2, a: 'y', b: 2.5, c: { z: 1 } })]]);
    expect(query(path, "SELECT name, type FROM pragma_table_info('t')")).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'a', type: 'TEXT' },
      { name: 'b', type: 'REAL' },
      { name: 'c', type: 'TEXT' },
    ]);
    expect(query(path, 'SELECT * FROM t ORDER BY id')).toEqual([
      { id: 1, a: 'x', b: null, c: null },
      { id: 2, a: 'y', b: 2.5, c: '{"z":1}' },
    ]);
  });

  it('records whose fields change inside a batch: a new field, another order, a left-out field, a null first', async () => {
    const path = join(tempDir(), 'shapes.db');
    await writeAll(await sink({ path, table: 't', keys: ['id'] }), [
      [rec({ id: 1, a: 'x', n: null })],
      [
        rec({ id: 2, a: 'y', n: null }),
        rec({ id: 3, a: 'z', n: 7 }), // same fields as the table's: the known shape
        rec({ id: 4, a: 'w', n: 1.5, b: 2 }), // a new column in the middle of the batch
        rec({ id: 5, a: 'v', n: 2, b: 3 }),
        rec({ b: 4, id: 6, n: 3, a: 'u' }), // the same fields in another order
        rec({ id: 7, a: undefined, n: 4, b: 5 }), // a left-out field keeps the row's value
        rec({ id: 1, n: 9 }), // fewer fields: an update of those only
      ],
    ]);
    expect(query(path, "SELECT name, type FROM pragma_table_info('t')")).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'a', type: 'TEXT' },
      { name: 'n', type: 'TEXT' },
      { name: 'b', type: 'INTEGER' },
    ]);
    expect(query(path, 'SELECT * FROM t ORDER BY id')).toEqual([
      // n was created from a null: TEXT
      { id: 1, a: 'x', n: '9', b: null },
      { id: 2, a: 'y', n: null, b: null },
      { id: 3, a: 'z', n: '7', b: null },
      { id: 4, a: 'w', n: '1.5', b: 2 },
      { id: 5, a: 'v', n: '2', b: 3 },
      { id: 6, a: 'u', n: '3', b: 4 },
      { id: 7, a: null, n: '4', b: 5 },
    ]);
  });

  it('a column first null, then typed, in the batch that adds it takes the type of its first value', async () => {
    const path = join(tempDir(), 'late-type.db');
    await writeAll(await sink({ path, table: 't', keys: ['id'] }), [
      [rec({ id: 1, a: 'x' })],
      [rec({ id: 2, a: 'y', b: null }), rec({ id: 3, a: 'z', b: 2.5 })],
    ]);
    expect(query(path, "SELECT name, type FROM pragma_table_info('t')")).toEqual([
      { name: 'id', type: 'INTEGER' },
      { name: 'a', type: 'TEXT' },
      { name: 'b', type: 'REAL' },
    ]);
  });

  it('a record without a key column fails the batch with a message naming table, column and key; nothing committed', async () => {
    const path = join(tempDir(), 'miss.db');
    const s = await sink({ path, table: 'orders', keys: ['id'] });
    await s.open();
    await s.write([rec({ id: 1, a: 'x' })]);
    const err = await s.write([rec({ id: 2, a: 'y', newcol: 1 }), rec({ a: 'z' }, 'c', 'k-77')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeError);
    expect((err as Error).message).toBe('node n1: table orders: record with key "k-77" (op c) has no value for key column "id"');
    const delErr = await s.write([{ key: [1], value: null, before: { a: 1 }, op: 'd', meta: {} }]).catch((e: unknown) => e);
    expect((delErr as Error).message).toMatch(/key \[1\] \(op d\) has no value for key column "id"/);
    // the sink keeps working after the failed batch, and learns the new column again
    await s.write([rec({ id: 3, a: 'w', newcol: 5 })]);
    await s.close();
    expect(query(path, 'SELECT * FROM orders ORDER BY id')).toEqual([
      { id: 1, a: 'x', newcol: null },
      { id: 3, a: 'w', newcol: 5 },
    ]);
  });

  it('a batch failing inside SQLite rolls back whole, added columns included, and later batches still work', async () => {
    const path = join(tempDir(), 'check.db');
    db(path, "CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT CHECK (a <> 'bad'))");
    const s = await sink({ path, table: 't', keys: ['id'] });
    await s.open();
    const err = await s.write([rec({ id: 1, a: 'ok', added: 1 }), rec({ id: 2, a: 'bad' })]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeError);
    expect((err as Error).message).toMatch(/^node n1: table t: CHECK constraint failed/);
    expect(query(path, "SELECT name FROM pragma_table_info('t')")).toEqual([{ name: 'id' }, { name: 'a' }]);
    await s.write([rec({ id: 3, a: 'fine', added: 7 })]);
    await s.close();
    expect(query(path, 'SELECT * FROM t')).toEqual([{ id: 3, a: 'fine', added: 7 }]);
  });

  it('existing tables: createTable false lists tables; keys must be a primary key or unique index', async () => {
    const path = join(tempDir(), 'exist.db');
    db(path, 'CREATE TABLE a (id INTEGER, code TEXT); CREATE UNIQUE INDEX a_code ON a (code); CREATE TABLE b (x TEXT);');
    const e1 = await (await sink({ path, table: 'zz', keys: ['id'], createTable: false })).open().catch((e: unknown) => e);
    expect((e1 as Error).message).toBe(`nodes[n1].table: table "zz" not found in ${path}; tables: a, b`);
    const e2 = await (await sink({ path, table: 'a', keys: ['id'] })).open().catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ConfigError);
    expect((e2 as Error).message).toMatch(/no PRIMARY KEY or UNIQUE index on \(id\)/);
    await writeAll(await sink({ path, table: 'A', keys: ['code'] }), [[rec({ code: 'c1', id: 1 })], [rec({ code: 'c1', id: 2 }, 'u')]]);
    expect(query(path, 'SELECT * FROM a')).toEqual([{ id: 2, code: 'c1' }]);
  });

  it('round trip: sqlite.source snapshot → sqlite.sink keeps values, blobs included', async () => {
    const dir = tempDir();
    const from = join(dir, 'from.db');
    const to = join(dir, 'to.db');
    db(from, `CREATE TABLE f (id INTEGER PRIMARY KEY, name TEXT, score REAL, data BLOB);
      INSERT INTO f VALUES (1, 'a', 1.25, x'deadbeef'), (2, NULL, 2, NULL);`);
    const out = await readAll(await source({ path: from, table: 'f' }));
    await writeAll(await sink({ path: to, table: 'f', keys: ['id'] }), [out.records]);
    expect(query(to, 'SELECT id, name, score, hex(data) AS d FROM f ORDER BY id')).toEqual([
      { id: 1, name: 'a', score: 1.25, d: 'DEADBEEF' },
      { id: 2, name: null, score: 2, d: '' },
    ]);
  });

  it('config schemas render as JSON Schema with descriptions', () => {
    for (const info of new NodeRegistry([sqliteSource, sqliteSink]).catalog()) {
      const props = (info.configSchema as { properties: Record<string, { description?: string }> }).properties;
      for (const p of Object.values(props)) expect(p.description).toBeTruthy();
    }
  });

  it('quotes identifiers', () => {
    expect(quoteIdent('a"b')).toBe('"a""b"');
  });

  it('rejects an empty keys list and unknown fields', () => {
    expect(() => sqliteSink.configSchema.parse({ path: 'x', table: 't', keys: [] })).toThrow(/key column/);
    expect(() => sqliteSink.configSchema.parse({ path: 'x', table: 't', keys: ['id'], createtable: false })).toThrow(/createtable/);
  });
});
