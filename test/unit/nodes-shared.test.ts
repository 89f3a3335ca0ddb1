/**
 * The connector code every family shares (nodes/shared/): sink planning, connection resolution,
 * open-or-close and the reference tables' common steps. The families' own tests (postgres, mysql,
 * mongodb, sqlite) run these through real servers; here each rule is pinned on its own.
 */
import { describe, it, expect } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError, NodeError } from '../../runtime/errors.js';
import { fileAccess, unconfinedFiles } from '../../runtime/files.js';
import type { SluiceRecord } from '../../runtime/records.js';
import { batchPlan, coversKey, eachRecordItsOwnKey, keysForNewTable, keysOrAppend, netEffect } from '../../nodes/shared/sink-plan.js';
import { connectionSource, resolveForTest, serverUrl, tlsMaterial, tlsSchema } from '../../nodes/shared/connection-config.js';
import { openOrClose } from '../../nodes/shared/open.js';
import { Wakeup } from '../../nodes/shared/abort.js';
import { chunks, openReference, referenceColumn, underFrom } from '../../nodes/shared/reference.js';
import { rec, tempDir } from '../helpers/node-harness.js';

const T = { nodeId: 'n1', what: 'table shop.orders' };
const del = (key: unknown, before: Record<string, unknown> | null = null): SluiceRecord => ({ key, value: null, before, op: 'd', meta: {} }) as SluiceRecord;

describe('netEffect: a batch reduced to one change per key', () => {
  it('later upserts merge over earlier ones; a field a later one leaves undefined keeps the earlier value', () => {
    const plan = netEffect(T, [rec({ id: 1, a: 1, b: 2 }, 'c'), rec({ id: 2, a: 9 }, 'r'), rec({ id: 1, a: 5, b: undefined, c: 3 }, 'u')], ['id']);
    expect(plan).toEqual([
      { key: [1], del: false, row: { id: 1, a: 5, b: 2, c: 3 }, fresh: false },
      { key: [2], del: false, row: { id: 2, a: 9 }, fresh: true },
    ]);
  });

  it('a delete drops earlier upserts; upserts after it come with del: true', () => {
    expect(netEffect(T, [rec({ id: 1, a: 1 }), del({ id: 1 })], ['id'])).toEqual([{ key: [1], del: true, fresh: true }]);
    expect(netEffect(T, [rec({ id: 1, a: 1 }), del(1), rec({ id: 1, b: 2 }, 'c')], ['id'])).toEqual([{ key: [1], del: true, row: { id: 1, b: 2 }, fresh: true }]);
  });

  it("a delete's key comes from before, else the value, else the record key (object field or the key itself)", () => {
    const keys = ['shop', 'id'];
    expect(netEffect(T, [del({ shop: 'x', id: 1 }, { shop: 'a', id: 7 })], keys)[0].key).toEqual(['a', 7]);
    expect(netEffect(T, [del({ shop: 'x', id: 1 })], keys)[0].key).toEqual(['x', 1]);
    expect(netEffect(T, [del(42)], ['id'])[0].key).toEqual([42]);
  });

  it('keys of several columns are one key when all their values are; 1 and "1" stay apart', () => {
    const plan = netEffect(T, [rec({ s: 'a', id: 1, v: 1 }), rec({ s: 'a', id: 2, v: 2 }), rec({ s: 'a', id: 1, v: 3 })], ['s', 'id']);
    expect(plan.map((c) => [c.key, c.row?.v])).toEqual([
      [['a', 1], 3],
      [['a', 2], 2],
    ]);
    expect(netEffect(T, [rec({ id: 1 }), rec({ id: '1' })], ['id'])).toHaveLength(2);
  });

  it('a record without a key value or without a value fails the batch, naming the record, op and column', () => {
    expect(() => netEffect(T, [rec({ id: 1 }), rec({ name: 'x' }, 'c', 'k-7')], ['id'])).toThrow(new NodeError('n1', 'table shop.orders: record with key "k-7" (op c) has no value for key column "id"'));
    expect(() => netEffect(T, [del({ other: 1 })], ['id'])).toThrow(/key \{"other":1\} \(op d\) has no value for key column "id"/);
    expect(() => netEffect(T, [{ key: 3, value: null, op: 'u', meta: {} } as SluiceRecord], ['id'])).toThrow(/key 3 \(op u\) has no value to write/);
  });
});

describe('eachRecordItsOwnKey: a batch whose net effect is its records as they are', () => {
  const ids = (values: unknown[], op: 'c' | 'u' | 'r' = 'r') => values.map((id, i) => rec({ id, n: i }, op));

  it('one key column, upserts only, keys all numbers or all strings in increasing order: true, and netEffect agrees record for record', () => {
    for (const batch of [ids([1, 2, 5, 1000]), ids(['a', 'ab', 'b']), ids([-3.5, -0, 7], 'u'), ids([9], 'c'), [...ids([1], 'c'), ...ids([2], 'u'), ...ids([3])], []]) {
      expect(eachRecordItsOwnKey(batch, ['id'])).toBe(true);
      expect(netEffect(T, batch, ['id'])).toEqual(batch.map((r) => ({ key: [r.value!.id], del: false, row: r.value, fresh: r.op !== 'u' })));
      expect(netEffect(T, batch, ['id']).every((c, i) => c.row === batch[i].value)).toBe(true);
    }
  });

  it('false for a key twice or out of order, mixed types, 0 after -0, NaN, a missing or null key, a delete, no value, several key columns', () => {
    for (const batch of [ids([1, 2, 2]), ids([2, 1]), ids(['b', 'a']), ids([1, '2']), ids(['1', 2]), ids([-0, 0]), ids([NaN, 1]), ids([1, NaN]), ids([1, null]), ids([true, false]), ids([1n, 2n])]) {
      expect(eachRecordItsOwnKey(batch, ['id'])).toBe(false);
    }
    expect(eachRecordItsOwnKey([rec({ id: 1 }), rec({ name: 'x' })], ['id'])).toBe(false);
    expect(eachRecordItsOwnKey([rec({ id: 1 }), del({ id: 2 })], ['id'])).toBe(false);
    expect(eachRecordItsOwnKey([rec({ id: 1 }), { key: 3, value: null, op: 'u', meta: {} } as SluiceRecord], ['id'])).toBe(false);
    expect(eachRecordItsOwnKey([rec({ s: 'a', id: 1 }), rec({ s: 'a', id: 2 })], ['s', 'id'])).toBe(false);
  });
});

describe('keysForNewTable and coversKey', () => {
  it("a new table's keys: the source table's key, else the record key's fields, else meta.keyColumns", () => {
    const schema = { table: 'shop.orders', key: ['order_id'], columns: [{ name: 'order_id', kind: 'integer', source: 'int', nullable: false }] };
    expect(keysForNewTable(T, [{ ...rec({ order_id: 1 }, 'r', { x: 1 }), meta: { schema } }])).toEqual(['order_id']);
    expect(keysForNewTable(T, [rec({ sku: 'a', site: 2 }, 'r', { sku: 'a', site: 2 })])).toEqual(['sku', 'site']);
    expect(keysForNewTable(T, [{ ...rec({ id: 1 }, 'r', 1), meta: { keyColumns: ['id'] } }])).toEqual(['id']);
    expect(() => keysForNewTable(T, [rec({ id: 1 }, 'r', 1)])).toThrow(new ConfigError('n1', 'keys', 'table shop.orders does not exist yet and the record key 1 names no columns: set keys to the columns that identify a row'));
  });

  it('keysOrAppend: a keyless source table appends with a warning; source keys on an existing keyless table say which hint', () => {
    const warned: string[] = [];
    const log = { debug: () => undefined, info: () => undefined, warn: (m: string) => warned.push(m), error: () => undefined };
    const keyless = { table: 'shop.events', key: [], columns: [{ name: 'id', kind: 'integer', source: 'int', nullable: true }] };
    const rows = [{ ...rec({ id: 1 }, 'r', null), meta: { schema: keyless } }, { ...rec({ id: 1 }, 'r', null), meta: { schema: keyless } }];
    expect(keysOrAppend(T, rows, { keyless: false, noKeyHint: 'unused', log })).toEqual([]);
    expect(warned).toEqual(['table shop.orders: its source table has no key, so rows are appended (INSERT) without looking for an existing row; running the copy again duplicates them']);
    // no keys: every row appended, the same row twice too
    expect(batchPlan(T, rows, []).map((c) => c.row)).toEqual([{ id: 1 }, { id: 1 }]);
    expect(batchPlan(T, rows, ['id']).map((c) => c.row)).toEqual([{ id: 1 }]);
    const keyed = [rec({ sku: 'a', n: 1 }, 'r', { sku: 'a' })];
    expect(() => keysOrAppend(T, keyed, { keyless: true, noKeyHint: 'has no primary key: name them in keys', log })).toThrow(new ConfigError('n1', 'keys', 'table shop.orders has no primary key: name them in keys'));
    expect(keysOrAppend(T, keyed, { keyless: false, noKeyHint: 'unused', log })).toEqual(['sku']);
  });

  it('a unique set covers the keys in any order; case folded only when asked', () => {
    expect(coversKey([['a'], ['b', 'c']], ['c', 'b'])).toBe(true);
    expect(coversKey([['a'], ['b', 'c']], ['b'])).toBe(false);
    expect(coversKey([['id']], ['ID'])).toBe(false);
    expect(coversKey([['id']], ['ID'], true)).toBe(true);
  });
});

describe('connectionSource: the node names a connection or a url', () => {
  const entrySchema = z.object({ type: z.literal('demo'), url: z.string().optional(), host: z.string().optional(), tls: tlsSchema.optional() });
  const family = { type: 'demo', entrySchema, urlHint: '${env:DEMO_URL}' };
  const files = fileAccess(unconfinedFiles(), 'n1');
  const ctx = (entries: Record<string, Record<string, unknown>>) => ({ nodeId: 'n1', files, connection: (name: string) => entries[name] });

  it('a named entry: parsed, blamed on `connection`, its TLS unless the node sets its own', () => {
    const entryTls = { rejectUnauthorized: false };
    const src = connectionSource(ctx({ shop: { type: 'demo', url: 'demo://h', tls: entryTls } }), { connection: 'shop' }, family);
    expect(src).toEqual({ entry: { type: 'demo', url: 'demo://h', tls: entryTls }, url: 'demo://h', field: 'connection', via: 'connection "shop"', tls: entryTls, tlsField: 'connection' });
    const own = { rejectUnauthorized: true };
    expect(connectionSource(ctx({ shop: { type: 'demo', tls: entryTls } }), { connection: 'shop', tls: own }, family)).toMatchObject({ tls: own, tlsField: 'tls', url: undefined });
  });

  it('a url: blamed on `url`', () => {
    expect(connectionSource(ctx({}), { url: 'demo://x' }, family)).toEqual({ url: 'demo://x', field: 'url', via: 'url', tls: undefined, tlsField: 'tls' });
  });

  it('a missing or invalid entry, or neither field: a ConfigError naming `connection` and the fix', () => {
    expect(() => connectionSource(ctx({}), { connection: 'shop' }, family)).toThrow(
      new ConfigError('n1', 'connection', 'the flow has no connection named "shop": add it under `connections:` (type: demo, url: ${env:DEMO_URL}) or set `url`'),
    );
    expect(() => connectionSource(ctx({ shop: { type: 'other' } }), { connection: 'shop' }, family)).toThrow(/^nodes\[n1\]\.connection: connection "shop": type: /);
    expect(() => connectionSource(ctx({}), {}, family)).toThrow(new ConfigError('n1', 'connection', 'set `connection` or `url`'));
  });

  it('resolveForTest: the entry resolved as if a node named it; a config error as one line without its prefix', () => {
    const ok = resolveForTest({ type: 'demo', url: 'demo://x' }, files, (c, config) => connectionSource(c, config, family));
    expect(ok).toMatchObject({ target: { url: 'demo://x', via: 'connection "test"' } });
    expect(resolveForTest({ type: 'nope' }, files, (c, config) => connectionSource(c, config, family))).toEqual({ error: expect.stringMatching(/^type: /) });
  });

  it('serverUrl: the parts decoded, the defaults filled in; a wrong scheme or a broken escape names the field', () => {
    const spec = { schemes: ['pg', 'postgresql'], example: 'pg://user:password@host:5432/db', port: 5432, user: 'postgres' };
    expect(serverUrl('n1', 'url', 'pg://a%40b:p%3Aw@[::1]:6000/my%20db?x=1', spec)).toMatchObject({ host: '::1', port: 6000, user: 'a@b', password: 'p:w', database: 'my db' });
    expect(serverUrl('n1', 'url', 'postgresql://', spec)).toMatchObject({ host: '127.0.0.1', port: 5432, user: 'postgres', password: undefined, database: undefined });
    expect(() => serverUrl('n1', 'url', 'http://h/db', spec)).toThrow(new ConfigError('n1', 'url', 'URL scheme must be pg:// (or postgresql://), not http://'));
    expect(() => serverUrl('n1', 'connection', 'h:5432', spec)).toThrow(/^nodes\[n1\]\.connection: (not a URL: expected pg:\/\/user:password@host:5432\/db|URL scheme must be)/);
    expect(() => serverUrl('n1', 'url', 'pg://u:100%zz@h/db', spec)).toThrow(new ConfigError('n1', 'url', 'the password in the URL has a broken %-escape: write % as %25'));
  });

  it('tlsMaterial reads PEM files (or takes PEM text) and names the field of one it cannot read', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n');
    const pem = '-----BEGIN PRIVATE KEY-----\nK\n-----END PRIVATE KEY-----';
    expect(tlsMaterial(files, 'n1', 'tls', { ca: join(dir, 'ca.pem'), key: pem, servername: 'db', rejectUnauthorized: false })).toEqual({
      rejectUnauthorized: false,
      ca: '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----\n',
      key: pem,
      servername: 'db',
    });
    expect(() => tlsMaterial(files, 'n1', 'connection', { cert: join(dir, 'missing.pem') })).toThrow(/^nodes\[n1\]\.connection\.cert: cannot read .*missing\.pem: ENOENT/);
  });
});

describe('openOrClose and the reference tables', () => {
  it('a failed open closes what it opened and throws the (mapped) first error, even when close fails too', async () => {
    const done: string[] = [];
    await openOrClose(
      () => done.push('start'),
      () => done.push('close'),
    );
    expect(done).toEqual(['start']);
    const boom = new Error('boom');
    await expect(
      openOrClose(
        async () => {
          throw boom;
        },
        () => {
          done.push('closed');
          throw new Error('close failed');
        },
        (err) => new Error(`mapped: ${(err as Error).message}`),
      ),
    ).rejects.toThrow('mapped: boom');
    expect(done).toEqual(['start', 'closed']);
  });

  it("openReference moves the connection's fields under from., leaves foreignKey, maps driver errors", async () => {
    let closed = 0;
    const table = { close: async () => void closed++ };
    await expect(openReference(table, ['url', 'table'], async () => Promise.reject(new ConfigError('n1', 'tls.ca', 'x')))).rejects.toThrow(/^nodes\[n1\]\.tls\.ca: x$/);
    await expect(openReference(table, ['url', 'tls'], async () => Promise.reject(new ConfigError('n1', 'tls.ca', 'x')))).rejects.toThrow(/^nodes\[n1\]\.from\.tls\.ca: x$/);
    await expect(openReference(table, ['url'], async () => Promise.reject(new Error('ECONNREFUSED')), (e) => new NodeError('n1', `mapped ${(e as Error).message}`))).rejects.toThrow('node n1: mapped ECONNREFUSED');
    expect(closed).toBe(3);
    const moved = underFrom(new ConfigError('n1', 'table', 'no such table', 'create it'), ['table']) as ConfigError;
    expect([moved.path, moved.message, moved.hint]).toEqual(['from.table', 'nodes[n1].from.table: no such table', 'create it']);
  });

  it('referenceColumn: the exact name first, else another case; else foreignKey with the columns', () => {
    expect(referenceColumn('n1', 'table t', ['ID', 'id', 'name'], 'id')).toBe(1);
    expect(referenceColumn('n1', 'table t', ['ID', 'name'], 'id')).toBe(0);
    expect(() => referenceColumn('n1', 'table t', ['a', 'b'], 'c')).toThrow(new ConfigError('n1', 'foreignKey', 'table t has no column "c"; columns: a, b'));
    expect([...chunks([1, 2, 3, 4, 5], 2)]).toEqual([[1, 2], [3, 4], [5]]);
    expect([...chunks([1, 2], 0)]).toEqual([[1], [2]]);
  });
});

describe('Wakeup: a source waiting for something to arrive', () => {
  const settled = async (p: Promise<unknown>) => {
    let done = false;
    void p.then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    return done;
  };

  it('resolves at the next wake(), not before; a wake() with nobody waiting is dropped', async () => {
    const w = new Wakeup();
    const signal = new AbortController().signal;
    w.wake(); // dropped
    const waiting = w.wait(signal);
    expect(await settled(waiting)).toBe(false);
    w.wake();
    expect(await settled(waiting)).toBe(true);
    expect(await settled(w.wait(signal))).toBe(false); // the earlier wake() is not kept for the next wait
  });

  it('resolves when the flow is stopped (the signal aborts), and at once when it already was', async () => {
    const w = new Wakeup();
    const stop = new AbortController();
    const waiting = w.wait(stop.signal);
    stop.abort();
    expect(await settled(waiting)).toBe(true);
    expect(await settled(w.wait(stop.signal))).toBe(true);
  });
});
