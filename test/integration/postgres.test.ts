/**
 * postgres.source / postgres.sink against a real PostgreSQL 15 (PG_URL: unless given, the private
 * cluster with wal_level = logical that the global set-up starts, test/setup/global-services.ts). Each run works in a fresh database `sluice_test_<random>`, dropped
 * at the end with its replication slots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { join } from 'node:path';
import pg from 'pg';
import { probePostgres, type ScratchDb, scratchPostgres, service, withDb } from '../helpers/services.js';
import { create, readAll, tempDir, writeAll } from '../helpers/node-harness.js';
import { collector, flat, testRegistry } from '../helpers/test-nodes.js';
import { startCli } from '../helpers/cli.js';
import { compileFlow } from '../../runtime/flow/compile.js';
import { FlowRun, type RunSummary } from '../../runtime/executor/flow-run.js';
import { SqliteCheckpointStore } from '../../runtime/state/sqlite-checkpoint-store.js';
import type { SinkInstance, SourceInstance, SluiceRecord, TransformInstance } from '../../runtime/index.js';
import type { TableSchema } from '../../nodes/shared/columns.js';
import { postgresSource } from '../../nodes/postgres/source.js';
import { postgresSink, type SinkStats } from '../../nodes/postgres/sink.js';
import { testConnection, walLevelMessage } from '../../nodes/postgres/connection.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);

const DB = `sluice_test_${randomBytes(4).toString('hex')}`;
const dbUrl = withDb(PG.url, DB);

let admin: pg.Client;
let db: pg.Pool;
const q = async <T extends pg.QueryResultRow = Record<string, unknown>>(sql: string, values?: unknown[]) => (await db.query<T>(sql, values)).rows;

/** polls `check` every 25 ms until it is true, or fails after `ms` naming `what` */
async function until(check: () => Promise<boolean> | boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const ITEMS_DDL = (table: string) => `CREATE TABLE ${table} (
  id bigint PRIMARY KEY, name text, price numeric(20,6), big numeric, qty integer, ratio double precision, flag boolean,
  doc jsonb, tags text[], nums integer[], at timestamptz, local_at timestamp, day date, raw bytea, uid uuid)`;

const SEED_ITEMS = (from: number, to: number) => `INSERT INTO public.items
  SELECT g, 'item ' || g, g * 1.123456, '123456789012345678901234567890.123456789'::numeric + g, g % 100, g / 7.0, g % 2 = 0,
    jsonb_build_object('g', g, 'nested', jsonb_build_array(1, 'two', null)), ARRAY['a' || g, 'b,"c\\d'], ARRAY[g::int, NULL, g::int + 1],
    '2026-01-02 03:04:05.123456+00'::timestamptz + g * interval '1 second', '2026-01-02 03:04:05.654321'::timestamp, '2026-03-04'::date + g::int,
    decode(md5(g::text), 'hex'), md5(g::text)::uuid
  FROM generate_series(${from}, ${to}) g`;

/** rows that differ between two tables with the same columns (both directions), 0 when equal row for row */
async function diff(a: string, b: string): Promise<number> {
  const r = await q<{ n: string }>(`SELECT ((SELECT count(*) FROM (TABLE ${a} EXCEPT ALL TABLE ${b}) x) + (SELECT count(*) FROM (TABLE ${b} EXCEPT ALL TABLE ${a}) y))::text AS n`);
  return Number(r[0].n);
}

let scratch: ScratchDb | undefined;
beforeAll(async () => {
  if (!PG.available) return;
  admin = new pg.Client({ connectionString: PG.url });
  await admin.connect();
  scratch = await scratchPostgres(PG.url, DB);
  db = new pg.Pool({ connectionString: dbUrl, max: 4 });
  db.on('error', () => undefined);
});

afterAll(async () => {
  if (!PG.available) return;
  await db?.end().catch(() => undefined);
  await scratch?.drop();
  for (const role of roles) await admin.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
  await admin.end();
});

const roles: string[] = [];

describe.skipIf(!PG.available)('postgres.source snapshot', () => {
  beforeAll(async () => {
    await q(ITEMS_DDL('public.items'));
    await q(SEED_ITEMS(1, 300));
    await q(`INSERT INTO public.items (id, name, ratio, doc, tags, raw, at) VALUES
      (1000, E'tab\\there\\nnew line \\\\ back "quote" ✓', 'NaN', '"just a string"', ARRAY[NULL, E'x\\\\y'], '\\x00ff', 'infinity'),
      (1001, NULL, NULL, NULL, '{}', NULL, NULL)`);
  });

  it('maps PostgreSQL types to record values without loss', async () => {
    const src = await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'public.items', chunkSize: 1000 });
    const { records } = await readAll(src);
    expect(records).toHaveLength(302);
    const r = records.find((x) => (x.key as { id: number }).id === 7)!;
    expect(r.op).toBe('r');
    expect(r.key).toEqual({ id: 7 });
    expect(r.meta).toMatchObject({ source: 'n1', table: 'public.items' });
    expect(typeof r.meta.ts).toBe('number');
    expect(r.value).toEqual({
      id: 7,
      name: 'item 7',
      price: '7.864192',
      big: '123456789012345678901234567897.123456789',
      qty: 7,
      ratio: 1,
      flag: false,
      doc: { g: 7, nested: [1, 'two', null] },
      tags: ['a7', 'b,"c\\d'],
      nums: [7, null, 8],
      at: '2026-01-02T03:04:12.123456Z',
      local_at: '2026-01-02T03:04:05.654321',
      day: '2026-03-11',
      raw: { $base64: Buffer.from('8f14e45fceea167a5a36dedd4bea2543', 'hex').toString('base64') },
      uid: '8f14e45f-ceea-167a-5a36-dedd4bea2543',
    });
    const odd = records.find((x) => (x.key as { id: number }).id === 1000)!.value!;
    expect(odd).toMatchObject({ name: 'tab\there\nnew line \\ back "quote" ✓', ratio: 'NaN', doc: 'just a string', tags: [null, 'x\\y'], raw: { $base64: 'AP8=' }, at: 'infinity' });
    expect(records.find((x) => (x.key as { id: number }).id === 1001)!.value).toMatchObject({ name: null, tags: [], doc: null });
    // key order
    const ids = records.map((x) => (x.key as { id: number }).id);
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
  });
});

describe.skipIf(!PG.available)('postgres.source declared types (meta.schema)', () => {
  it('describes each table once per batch: the first record of each chunk carries one shared TableSchema with kinds, sizes, NOT NULL and the key', async () => {
    await q(`CREATE SCHEMA described;
      CREATE DOMAIN described.cents AS numeric(10,2);
      CREATE TYPE described.mood AS ENUM ('ok', 'sad');
      CREATE TABLE described.t (
        b integer, a smallint, big bigint NOT NULL, o oid, amount numeric(12,2) NOT NULL, exact numeric, neg numeric(5,-2), r real, d double precision, flag boolean,
        vc varchar(20), v varchar, ch char(3), tx text, j json, jb jsonb, raw bytea, day date, ts timestamp(3), ts6 timestamp, tz timestamptz(0), tm time(2), tmz timetz,
        uid uuid, nums int[], moods described.mood[], span interval, m described.mood, price described.cents, ip inet,
        PRIMARY KEY (b, a))`);
    await q("INSERT INTO described.t (b, a, big, amount, nums, moods, m, price) SELECT g, 1, g, g, ARRAY[g], ARRAY['ok', 'sad']::described.mood[], 'sad', g * 1.5 FROM generate_series(1, 5) g");
    const { records, positions } = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'described.t', chunkSize: 2 }));
    expect(positions).toHaveLength(3);
    // the kinds describe the values as they travel: arrays of any type as JS arrays (json), a domain as its base type, an enum as its text
    expect(records[0].value).toMatchObject({ nums: [1], moods: ['ok', 'sad'], m: 'sad', price: '1.50' });
    const schema = records[0].meta.schema;
    expect(schema).toEqual({
      table: 'described.t',
      key: ['b', 'a'],
      columns: [
        { name: 'b', kind: 'integer', bits: 32, source: 'integer', nullable: false },
        { name: 'a', kind: 'integer', bits: 16, source: 'smallint', nullable: false },
        { name: 'big', kind: 'integer', bits: 64, source: 'bigint', nullable: false },
        { name: 'o', kind: 'integer', bits: 32, unsigned: true, source: 'oid', nullable: true },
        { name: 'amount', kind: 'decimal', precision: 12, scale: 2, source: 'numeric(12,2)', nullable: false },
        { name: 'exact', kind: 'decimal', source: 'numeric', nullable: true },
        { name: 'neg', kind: 'decimal', precision: 7, scale: 0, source: 'numeric(5,-2)', nullable: true },
        { name: 'r', kind: 'float', bits: 32, source: 'real', nullable: true },
        { name: 'd', kind: 'float', bits: 64, source: 'double precision', nullable: true },
        { name: 'flag', kind: 'boolean', source: 'boolean', nullable: true },
        { name: 'vc', kind: 'string', length: 20, source: 'character varying(20)', nullable: true },
        { name: 'v', kind: 'string', source: 'character varying', nullable: true },
        { name: 'ch', kind: 'string', length: 3, fixed: true, source: 'character(3)', nullable: true },
        { name: 'tx', kind: 'string', source: 'text', nullable: true },
        { name: 'j', kind: 'json', source: 'json', nullable: true },
        { name: 'jb', kind: 'json', source: 'jsonb', nullable: true },
        { name: 'raw', kind: 'binary', source: 'bytea', nullable: true },
        { name: 'day', kind: 'date', source: 'date', nullable: true },
        { name: 'ts', kind: 'datetime', fraction: 3, source: 'timestamp(3) without time zone', nullable: true },
        { name: 'ts6', kind: 'datetime', fraction: 6, source: 'timestamp without time zone', nullable: true }, // PostgreSQL's default precision
        { name: 'tz', kind: 'timestamp', fraction: 0, source: 'timestamp(0) with time zone', nullable: true },
        { name: 'tm', kind: 'time', fraction: 2, source: 'time(2) without time zone', nullable: true },
        { name: 'tmz', kind: 'other', source: 'time with time zone', nullable: true },
        { name: 'uid', kind: 'uuid', source: 'uuid', nullable: true },
        { name: 'nums', kind: 'json', source: 'integer[]', nullable: true },
        { name: 'moods', kind: 'json', source: 'described.mood[]', nullable: true },
        { name: 'span', kind: 'other', source: 'interval', nullable: true },
        { name: 'm', kind: 'other', source: 'described.mood', nullable: true },
        { name: 'price', kind: 'decimal', precision: 10, scale: 2, source: 'described.cents', nullable: true },
        { name: 'ip', kind: 'other', source: 'inet', nullable: true },
      ],
    });
    // on the first record of each chunk only, the same object each time
    expect(records.map((r) => r.meta.schema !== undefined)).toEqual([true, false, true, false, true]);
    expect(records[2].meta.schema).toBe(schema);
    expect(records[4].meta.schema).toBe(schema);
    // the same with parallel reads
    const par = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'described.t', chunkSize: 2, parallel: 2 }));
    expect(par.records.map((r) => r.meta.schema !== undefined)).toEqual([true, false, true, false, true]);
    expect(par.records[0].meta.schema).toEqual(schema);
  });
});

describe.skipIf(!PG.available)('postgres.source snapshot: chunks, parallel reads, resume', () => {
  beforeAll(async () => {
    await q('CREATE TABLE public.lines (order_id integer, line_no integer, sku text, qty integer, PRIMARY KEY (order_id, line_no))');
    await q("INSERT INTO public.lines SELECT o, l, 'SKU-' || (o * l), l FROM generate_series(1, 40) o, generate_series(1, 5) l");
  });

  const ids = (rs: SluiceRecord[]) => rs.map((r) => JSON.stringify(r.key));

  it('reads chunk by chunk in key order, and a resumed read goes on after the committed key', async () => {
    const all = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: ['lines'], chunkSize: 30 }));
    expect(all.records).toHaveLength(200);
    expect(all.positions).toHaveLength(7); // 6 full chunks and a last one of 20
    expect(all.records[0].key).toEqual({ order_id: 1, line_no: 1 });
    const keys = all.records.map((r) => r.key as { order_id: number; line_no: number });
    expect(keys.every((k, i) => i === 0 || k.order_id * 10 + k.line_no > keys[i - 1].order_id * 10 + keys[i - 1].line_no)).toBe(true);
    // resume after the third chunk (90 rows)
    const rest = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: ['lines'], chunkSize: 30 }), all.positions[2]);
    expect(ids(rest.records)).toEqual(ids(all.records.slice(90)));
  });

  it('parallel: N reads every row exactly once, still in key order, across tables matched by a pattern', async () => {
    const seq = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'public.*', chunkSize: 17 }));
    const par = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'public.*', chunkSize: 17, parallel: 3 }));
    expect(seq.records).toHaveLength(502);
    expect(ids(par.records)).toEqual(ids(seq.records));
    expect(par.records.map((r) => r.value)).toEqual(seq.records.map((r) => r.value));
    expect(new Set(par.records.map((r) => r.meta.table))).toEqual(new Set(['public.items', 'public.lines']));
    // a resumed parallel read from the middle of the first table
    const mid = par.positions[5];
    const rest = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'public.*', chunkSize: 17, parallel: 3 }), mid);
    expect(ids(rest.records)).toEqual(ids(seq.records.slice(6 * 17)));
  });

  it('keys and values with quotes, backslashes, tabs, newlines and the text \\N read exactly, chunk after chunk, in parallel and resumed', async () => {
    await q('CREATE SCHEMA odd');
    await q('CREATE TABLE odd.keys (k text, at timestamptz, v text, PRIMARY KEY (k, at))');
    const texts = ["it's", 'back\\slash', 'tab\there', 'new\nline', 'cr\rhere', '"quoted"', "E'x'", '\\N', '', 'ünïcødé 🚀', '\\', "''", 'a\\\'b'];
    await db.query("INSERT INTO odd.keys SELECT k, '2026-01-01T00:00:00Z'::timestamptz + n * interval '1.5 second', CASE WHEN n % 3 = 0 THEN NULL ELSE k || k END FROM unnest($1::text[]) k, generate_series(0, 2) n", [texts]);
    const expected = (await db.query({ text: 'SELECT k, v FROM odd.keys ORDER BY k, at', rowMode: 'array' })).rows.map(([k, v]) => ({ k, v }));
    expect(expected).toHaveLength(texts.length * 3);
    const seq = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'odd.keys', chunkSize: 2 }));
    const par = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'odd.keys', chunkSize: 2, parallel: 2 }));
    for (const got of [seq, par]) expect(got.records.map((r) => ({ k: r.value!.k, v: r.value!.v }))).toEqual(expected);
    expect(seq.records[1].key).toEqual({ k: seq.records[1].value!.k, at: seq.records[1].value!.at });
    const rest = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'odd.keys', chunkSize: 2 }), seq.positions[4]);
    expect(rest.records.map((r) => r.value!.k)).toEqual(expected.slice(10).map((e) => e.k));
  });

  it('names the table and what exists when a table or pattern is missing', async () => {
    const src = await create<SourceInstance>(postgresSource, { url: dbUrl, tables: ['public.lines', 'public.nope'] });
    await expect(src.open(undefined)).rejects.toThrow(/nodes\[n1\]\.tables: table public\.nope not found; tables there: public\.items, public\.lines/);
    const pat = await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'sales.*' });
    await expect(pat.open(undefined)).rejects.toThrow(/pattern "sales\.\*" matches no table; no table in schema sales/);
  });
});

describe.skipIf(!PG.available)('postgres.sink', () => {
  beforeAll(async () => {
    await q('CREATE SCHEMA copy');
    await q(ITEMS_DDL('copy.items_values'));
    await q(ITEMS_DDL('copy.items_copy'));
    await q('CREATE SCHEMA paths'); // tables of their own: the error test below lists the tables of copy
    await q(ITEMS_DDL('paths.items_merge'));
  });

  const sink = (config: Record<string, unknown>) => create<SinkInstance & { stats(): SinkStats }>(postgresSink, { url: dbUrl, ...config });

  it('writes every type exactly, through multi-row INSERT, COPY straight in, and COPY + merge', async () => {
    const { records } = await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'public.items', chunkSize: 100 }));
    const batches = [records.slice(0, 100), records.slice(100, 250), records.slice(250)];
    const n = records.length;
    const values = await sink({ table: 'copy.items_values', copyThreshold: 100_000 });
    await writeAll(values, batches);
    expect(values.stats()).toEqual({ inserted: n, copied: 0, merged: 0, conflicts: 0 });
    const copied = await sink({ table: 'copy.items_copy', copyThreshold: 1 });
    await writeAll(copied, batches); // op r: new rows, copied straight in
    expect(copied.stats()).toEqual({ inserted: 0, copied: n, merged: 0, conflicts: 0 });
    // op u: an update may meet an existing row, so it always merges
    const merged = await sink({ table: 'paths.items_merge', copyThreshold: 1 });
    await writeAll(merged, batches.map((b) => b.map((r): SluiceRecord => ({ ...r, op: 'u' }))));
    expect(merged.stats()).toEqual({ inserted: 0, copied: 0, merged: n, conflicts: 0 });
    for (const t of ['copy.items_values', 'copy.items_copy', 'paths.items_merge']) expect(await diff('public.items', t), t).toBe(0);
    // and again (upserts of existing rows change nothing)
    await writeAll(await sink({ table: 'copy.items_copy', copyThreshold: 1 }), batches);
    expect(await diff('public.items', 'copy.items_copy')).toBe(0);
  });

  it('a straight COPY that meets an existing row rolls back to its savepoint and merges; the next batches merge, then copy again', async () => {
    await q('CREATE TABLE paths.direct (id integer PRIMARY KEY, a text, b text)');
    await q("INSERT INTO paths.direct VALUES (0, 'kept', 'kept')");
    const rows = (from: number, to: number, a: string, op: SluiceRecord['op'] = 'r') =>
      Array.from({ length: to - from + 1 }, (_, i): SluiceRecord => ({ op, key: { id: from + i }, value: { id: from + i, a, b: `b\t${from + i}\\` }, meta: {} }));
    const s = await sink({ table: 'paths.direct', copyThreshold: 10 });
    await s.open();
    await s.write(rows(1, 20, 'first'));
    expect(s.stats()).toEqual({ inserted: 0, copied: 20, merged: 0, conflicts: 0 });
    // 15..20 exist: the COPY fails on them, is rolled back (no duplicate, no aborted transaction) and merged
    await s.write([{ op: 'd', key: { id: 0 }, value: null, meta: {} }, ...rows(15, 34, 'second')]);
    expect(s.stats()).toEqual({ inserted: 0, copied: 20, merged: 20, conflicts: 1 });
    await s.write(rows(35, 54, 'third')); // right after a conflict: merged without trying
    expect(s.stats()).toEqual({ inserted: 0, copied: 20, merged: 40, conflicts: 1 });
    await s.write(rows(55, 74, 'fourth')); // then straight again
    expect(s.stats()).toEqual({ inserted: 0, copied: 40, merged: 40, conflicts: 1 });
    await s.write(rows(1, 10, 'updated', 'u')); // updates never try the straight COPY
    expect(s.stats()).toEqual({ inserted: 0, copied: 40, merged: 50, conflicts: 1 });
    await s.close();
    const got = await q<{ id: number; a: string; b: string }>('SELECT id, a, b FROM paths.direct ORDER BY id');
    const a = (id: number) => (id <= 10 ? 'updated' : id < 15 ? 'first' : id <= 34 ? 'second' : id <= 54 ? 'third' : 'fourth');
    expect(got).toEqual(Array.from({ length: 74 }, (_, i) => ({ id: i + 1, a: a(i + 1), b: `b\t${i + 1}\\` })));
  });

  it('applies a batch as the net effect per key: upserts merge, deletes by key, delete then insert', async () => {
    await q('CREATE TABLE copy.kv (id integer PRIMARY KEY, a text, b text)');
    await q("INSERT INTO copy.kv VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2'), (3, 'a3', 'b3')");
    const rec = (op: SluiceRecord['op'], key: number, value: Record<string, unknown> | null, before?: Record<string, unknown>): SluiceRecord => ({ op, key: { id: key }, value, ...(before ? { before } : {}), meta: {} });
    for (const threshold of [1, 1000]) {
      const s = await sink({ table: 'copy.kv', copyThreshold: threshold });
      await writeAll(s, [
        [
          rec('u', 1, { id: 1, a: 'A1' }), // b kept
          rec('u', 1, { id: 1, b: 'B1' }), // merged with the previous update
          rec('d', 2, null), // key only
          rec('d', 3, null, { id: 3, a: 'a3', b: 'b3' }),
          rec('c', 3, { id: 3, a: 'new3' }), // after the delete: b is NULL
          rec('c', 4, { id: 4, a: 'a4', b: 'b4' }),
          rec('d', 4, null),
        ],
      ]);
      expect(await q('SELECT id, a, b FROM copy.kv ORDER BY id')).toEqual([
        { id: 1, a: 'A1', b: 'B1' },
        { id: 3, a: 'new3', b: null },
      ]);
      await q('TRUNCATE copy.kv');
      await q("INSERT INTO copy.kv VALUES (1, 'a1', 'b1'), (2, 'a2', 'b2'), (3, 'a3', 'b3')");
    }
  });

  it('createTable: maps JS values to column types, adds columns for new fields; keys from the record key', async () => {
    const s = await sink({ table: 'made.things' });
    await writeAll(s, [
      [{ op: 'c', key: { k: 1 }, value: { k: 1, n: 2, f: 2.5, s: 'x', b: true, o: { a: 1 }, l: [1, 2], bin: { $base64: 'AP8=' }, nil: null }, meta: {} }],
      [{ op: 'c', key: { k: 2 }, value: { k: 2, extra: 'later' }, meta: {} }],
    ]);
    const types = await q<{ column_name: string; data_type: string }>("SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'made' AND table_name = 'things' ORDER BY ordinal_position");
    expect(Object.fromEntries(types.map((t) => [t.column_name, t.data_type]))).toEqual({
      k: 'bigint', n: 'bigint', f: 'double precision', s: 'text', b: 'boolean', o: 'jsonb', l: 'jsonb', bin: 'bytea', nil: 'text', extra: 'text',
    });
    const pk = await q<{ col: string }>("SELECT a.attname AS col FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'made.things'::regclass AND i.indisprimary");
    expect(pk).toEqual([{ col: 'k' }]);
    expect(await q("SELECT k, o, l, encode(bin, 'hex') AS bin, extra FROM made.things ORDER BY k")).toEqual([
      { k: '1', o: { a: 1 }, l: [1, 2], bin: '00ff', extra: null },
      { k: '2', o: null, l: null, bin: null, extra: 'later' },
    ]);
  });

  it('says what to fix: missing table, unknown field, keys without a unique index', async () => {
    const missing = await sink({ table: 'copy.absent', createTable: false });
    await expect(missing.open()).rejects.toThrow(/nodes\[n1\]\.table: table copy\.absent not found \(tables there: copy\.items_copy, copy\.items_values, copy\.kv\); create it or set createTable: true/);
    const strict = await sink({ table: 'copy.kv', createTable: false });
    await strict.open();
    await expect(strict.write([{ op: 'c', key: { id: 9 }, value: { id: 9, zzz: 1 }, meta: {} }])).rejects.toThrow(/table copy\.kv has no column "zzz": add the column/);
    await strict.close();
    const badKeys = await sink({ table: 'copy.kv', keys: ['a'] });
    await expect(badKeys.open()).rejects.toThrow(/no PRIMARY KEY or UNIQUE index on \(a\): upserts need one/);
  });

  it('a value PostgreSQL refuses names the table, the column, its type, the record and the value: INSERT, COPY straight in, COPY + merge', async () => {
    await q('CREATE TABLE copy.strict (id int PRIMARY KEY, n integer, s varchar(3), d date, m text NOT NULL)');
    const ok = (id: number) => ({ id, n: 1, s: 'ab', d: '2026-01-02', m: 'x' });
    const batch = (bad: Record<string, unknown>, op: SluiceRecord['op'] = 'c'): SluiceRecord[] =>
      [ok(1), ok(2), { ...ok(3), ...bad }, ok(4)].map((value) => ({ op, key: { id: value.id }, value, meta: {} }));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ n: 'abc' }, /table copy\.strict, column n \(integer\), record with key \{"id":3\}: the value \(a string\) "abc" was refused: invalid input syntax for type integer/],
      [{ n: 99_999_999_999 }, /table copy\.strict, column n \(integer\), record with key \{"id":3\}: the value \(a number\) 99999999999 was refused: .*out of range for type integer/],
      // INSERT: never truncated to 'too' (an explicit cast to varchar(3) would); the row is not known there
      [{ s: 'toolong' }, /table copy\.strict, column s \(character varying\(3\)\).*value too long for type character varying\(3\)/],
      [{ d: 'nope' }, /table copy\.strict, column d \(date\), record with key \{"id":3\}: the value \(a string\) "nope" was refused: invalid input syntax for type date/],
      [{ m: null }, /table copy\.strict, column m \(text\).*NOT NULL/],
    ];
    for (const [threshold, op, path] of [[100_000, 'c', 'INSERT'], [1, 'c', 'COPY'], [1, 'u', 'COPY + merge']] as const) {
      for (const [bad, expected] of cases) {
        const s = await sink({ table: 'copy.strict', createTable: false, copyThreshold: threshold });
        await s.open();
        const err = await s.write(batch(bad, op)).then(() => undefined, (e: Error) => e);
        await s.close();
        expect(err, `${path} ${JSON.stringify(bad)}`).toBeInstanceOf(Error);
        expect(err!.message, `${path} ${JSON.stringify(bad)}`).toMatch(expected);
        expect(err!.message).toMatch(/^node n1: /);
      }
    }
    expect((await q('SELECT count(*)::int AS n FROM copy.strict'))[0].n).toBe(0); // each failed batch rolled back
  });
});

const registry = testRegistry();

function startFlow(doc: Record<string, unknown>, opts: { state?: string; log?: string[] } = {}) {
  const plan = compileFlow({ apiVersion: 'sluice/v1', ...doc }, registry, { env: { PG_URL: dbUrl } });
  const store = new SqliteCheckpointStore(opts.state ?? join(tempDir(), 'state.db'));
  const log = opts.log ?? [];
  const run = new FlowRun(plan, {
    store,
    log: { info: (m) => log.push(m), warn: (m) => log.push(`warn: ${m}`), error: (m) => log.push(`error: ${m}`) },
  });
  const done: Promise<RunSummary> = run.run().finally(() => store.close());
  return { run, done, log, store };
}

const slotState = async (slot: string) =>
  (await q<{ confirmed: string; active: boolean }>('SELECT confirmed_flush_lsn::text AS confirmed, active FROM pg_replication_slots WHERE slot_name = $1', [slot]))[0];
const lsnAtLeast = async (a: string, b: string) => (await q<{ ok: boolean }>('SELECT $1::pg_lsn >= $2::pg_lsn AS ok', [a, b]))[0].ok;

describe.skipIf(!PG.available)('postgres.source snapshot+cdc through the executor', () => {
  const connections = { shop: { type: 'postgres', url: '${env:PG_URL}' } };

  beforeAll(async () => {
    await q('CREATE TABLE copy.items (LIKE public.items INCLUDING ALL)');
    await q('CREATE TABLE copy.lines (LIKE public.lines INCLUDING ALL)');
    await q('ALTER TABLE public.lines REPLICA IDENTITY FULL');
  });

  it('snapshot, then inserts, updates, deletes, a key change and a 20,000-row transaction: the target equals the source', async () => {
    const items = collector('pg-items');
    const lines = collector('pg-lines');
    const { run, done, log } = startFlow({
      name: 'pg-cdc',
      settings: { batchSize: 500 },
      connections,
      nodes: [
        { id: 'items', type: 'postgres.source', config: { connection: 'shop', tables: 'public.items', mode: 'snapshot+cdc', chunkSize: 100, heartbeatIntervalMs: 200 } },
        { id: 'lines', type: 'postgres.source', config: { connection: 'shop', tables: ['lines'], mode: 'snapshot+cdc', heartbeatIntervalMs: 200 } },
        { id: 'items_out', type: 'postgres.sink', config: { connection: 'shop', table: 'copy.items' } },
        { id: 'lines_out', type: 'postgres.sink', config: { connection: 'shop', table: 'copy.lines' } },
        { id: 'items_seen', type: 'test.memory', config: { name: 'pg-items' } },
        { id: 'lines_seen', type: 'test.memory', config: { name: 'pg-lines' } },
      ],
      edges: [
        { from: 'items', to: 'items_out' },
        { from: 'items', to: 'items_seen' },
        { from: 'lines', to: 'lines_out' },
        { from: 'lines', to: 'lines_seen' },
      ],
    });
    // changes while the snapshot is being read: each lands in the snapshot or in the stream, never in neither
    await q("UPDATE public.items SET name = 'during the snapshot' WHERE id <= 10");
    await q(SEED_ITEMS(2001, 2010));
    await until(async () => (await diff('public.items', 'copy.items')) === 0 && (await diff('public.lines', 'copy.lines')) === 0, 'the snapshot');
    expect(run.status).toBe('running');

    await q(SEED_ITEMS(3001, 3005));
    await q("UPDATE public.items SET price = 12345678901234.123456, doc = '{\"deep\": {\"x\": [1, 2.5, null]}}', tags = ARRAY['u'], raw = '\\xdeadbeef', at = '1999-12-31 23:59:59.999999+00' WHERE id IN (1, 2, 3001)");
    await q('DELETE FROM public.items WHERE id IN (5, 3002)');
    await q('UPDATE public.lines SET qty = qty + 100 WHERE order_id = 2');
    await q('DELETE FROM public.lines WHERE order_id = 3');
    await q('UPDATE public.lines SET line_no = 99 WHERE order_id = 1 AND line_no = 1');
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query(SEED_ITEMS(10001, 30000));
      await client.query("UPDATE public.items SET name = 'in the big transaction' WHERE id BETWEEN 10001 AND 10100");
      await client.query('DELETE FROM public.items WHERE id BETWEEN 29901 AND 30000');
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await until(async () => (await diff('public.items', 'copy.items')) === 0 && (await diff('public.lines', 'copy.lines')) === 0, 'the changes', 40_000);
    expect((await q<{ n: string }>('SELECT count(*)::text AS n FROM copy.items'))[0].n).toBe(String(302 + 10 + 5 - 2 + 20_000 - 100));

    // the slots are confirmed as the sinks acknowledge, and idle slots move on with the server's WAL
    const walNow = (await q<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0].lsn;
    await until(async () => (await lsnAtLeast((await slotState('sluice_pg_cdc_items')).confirmed, walNow)) && (await lsnAtLeast((await slotState('sluice_pg_cdc_lines')).confirmed, walNow)), 'the slots to be confirmed past the last change');

    // record shapes
    const seenItems = flat(items);
    const itemDelete = seenItems.find((r) => r.op === 'd' && (r.key as { id: number }).id === 5)!;
    expect(itemDelete).toMatchObject({ key: { id: 5 }, value: null, meta: { source: 'items', table: 'public.items' } });
    expect(itemDelete.before).toBeUndefined(); // REPLICA IDENTITY DEFAULT: the key only
    const itemUpdate = seenItems.find((r) => r.op === 'u' && (r.key as { id: number }).id === 3001)!;
    expect(itemUpdate.value).toMatchObject({ price: '12345678901234.123456', doc: { deep: { x: [1, 2.5, null] } }, raw: { $base64: '3q2+7w==' }, at: '1999-12-31T23:59:59.999999Z' });
    expect(itemUpdate.meta.position).toMatchObject({ phase: 'cdc' });
    expect(seenItems.filter((r) => r.op === 'c' && (r.key as { id: number }).id > 10000)).toHaveLength(20_000);
    const seenLines = flat(lines);
    const lineUpdate = seenLines.find((r) => r.op === 'u' && (r.key as { order_id: number }).order_id === 2)!;
    expect(lineUpdate.before).toMatchObject({ order_id: 2, qty: lineUpdate.value!.qty as number - 100 }); // REPLICA IDENTITY FULL: before rows
    expect(seenLines.find((r) => r.op === 'd' && (r.key as { order_id: number }).order_id === 3)!.before).toMatchObject({ order_id: 3, sku: expect.any(String) });
    const keyChange = seenLines.filter((r) => r.op !== 'r' && (r.key as { order_id: number }).order_id === 1);
    expect(keyChange.map((r) => [r.op, r.key])).toEqual([
      ['d', { order_id: 1, line_no: 1 }],
      ['c', { order_id: 1, line_no: 99 }],
    ]);

    run.stop();
    const summary = await done;
    expect(summary.status, summary.error).toBe('stopped');
    expect(log.join('\n')).toMatch(/created replication slot sluice_pg_cdc_items/);
    expect(summary.positions.items).toMatchObject({ phase: 'cdc' });
  });
});

describe.skipIf(!PG.available)('postgres.source → postgres.sink createTable with declared types, snapshot then changes', () => {
  const types = async (table: string) =>
    Object.fromEntries(
      (
        await q<{ c: string; t: string; nn: boolean }>(
          'SELECT attname AS c, format_type(atttypid, atttypmod) AS t, attnotnull AS nn FROM pg_attribute WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
          [table],
        )
      ).map((r) => [r.c, `${r.t}${r.nn ? ' not null' : ''}`]),
    );

  it('a table created from a change batch, and columns added by ALTER TABLE on the source, get the declared types', async () => {
    await q('CREATE SCHEMA typed; CREATE SCHEMA typed_copy');
    await q('CREATE TABLE typed.accounts (id integer PRIMARY KEY, balance numeric(12,2) NOT NULL, opened timestamptz)');
    await q('CREATE TABLE typed.events (id bigint PRIMARY KEY, kind varchar(10) NOT NULL, at timestamp(3))'); // empty: created on the target by its first change
    await q("INSERT INTO typed.accounts SELECT g, g * 1.5, '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 hour' FROM generate_series(1, 250) g");
    const seen = collector('pg-typed');
    const { run, done } = startFlow({
      name: 'pg-typed',
      settings: { batchSize: 100 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'typed.*', mode: 'snapshot+cdc', chunkSize: 100, heartbeatIntervalMs: 200 } },
        { id: 'dst', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: 'typed_copy.{table}' } },
        { id: 'mem', type: 'test.memory', config: { name: 'pg-typed' } },
      ],
      edges: [
        { from: 'src', to: 'dst' },
        { from: 'src', to: 'mem' },
      ],
    });
    await until(async () => (await diff('typed.accounts', 'typed_copy.accounts').catch(() => -1)) === 0, 'the snapshot');
    expect(await types('typed_copy.accounts')).toEqual({ id: 'integer not null', balance: 'numeric(12,2)', opened: 'timestamp with time zone' });

    // the table is created from a change batch (from the values alone: kind text without NOT NULL, at text)
    await q("INSERT INTO typed.events VALUES (1, 'open', '2024-05-06 07:08:09.123'), (2, 'close', NULL)");
    await until(async () => (await diff('typed.events', 'typed_copy.events').catch(() => -1)) === 0, 'the events table');
    expect(await types('typed_copy.events')).toEqual({ id: 'bigint not null', kind: 'character varying(10)', at: 'timestamp(3) without time zone' });

    // ALTER TABLE on the source: the next change describes the new column, and the sink adds it with its type (nullable: the table has rows)
    await q('ALTER TABLE typed.accounts ADD COLUMN rate numeric(8,3)');
    await q("INSERT INTO typed.accounts VALUES (1001, 2.5, NULL, 12.345); UPDATE typed.accounts SET rate = 0.001 WHERE id = 1");
    await until(async () => (await diff('typed.accounts', 'typed_copy.accounts').catch(() => -1)) === 0, 'the added column');
    expect(await types('typed_copy.accounts')).toEqual({ id: 'integer not null', balance: 'numeric(12,2)', opened: 'timestamp with time zone', rate: 'numeric(8,3)' });

    // one transaction: a change, ALTER TABLE, a change with the new column. Its changes are split into two batches so that each carries
    // the schema that describes it (in one batch, the first record's schema would not know the new column and the sink would guess text)
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      await client.query('INSERT INTO typed.accounts (id, balance) VALUES (1002, 3)');
      await client.query('ALTER TABLE typed.accounts ADD COLUMN label varchar(30)');
      await client.query("INSERT INTO typed.accounts (id, balance, label) VALUES (1003, 4, 'third')");
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await until(async () => (await diff('typed.accounts', 'typed_copy.accounts').catch(() => -1)) === 0, 'the column added inside a transaction');
    expect((await types('typed_copy.accounts')).label).toBe('character varying(30)');

    // every batch: the first record of each table carries meta.schema, no other record does; a table's schema changes only with its columns
    const batches = seen.batches.filter((b) => b.length > 0);
    for (const b of batches) {
      const first = new Set<unknown>();
      for (const r of b) {
        const isFirst = !first.has(r.meta.table);
        first.add(r.meta.table);
        expect(r.meta.schema !== undefined, `${r.meta.table} ${JSON.stringify(r.key)}`).toBe(isFirst);
      }
    }
    const schemaOf = (id: number) => batches.find((b) => b.some((r) => (r.key as { id: number }).id === id && r.meta.table === 'typed.accounts'))!.find((r) => r.meta.table === 'typed.accounts')!.meta.schema as TableSchema;
    expect(schemaOf(1)).toBe(schemaOf(250)); // the snapshot's, shared
    expect(schemaOf(1001).columns.map((c) => c.name)).toEqual(['id', 'balance', 'opened', 'rate']);
    expect(schemaOf(1001).columns.slice(0, 3)).toEqual(schemaOf(1).columns); // unchanged columns keep their description (NOT NULL from the catalog)
    expect(schemaOf(1001).columns[3]).toEqual({ name: 'rate', kind: 'decimal', precision: 8, scale: 3, source: 'numeric(8,3)', nullable: true });
    expect(schemaOf(1002).columns.map((c) => c.name)).toEqual(['id', 'balance', 'opened', 'rate']);
    expect(schemaOf(1003).columns.map((c) => c.name)).toEqual(['id', 'balance', 'opened', 'rate', 'label']);
    expect(schemaOf(1003).columns[4]).toMatchObject({ kind: 'string', length: 30 });

    run.stop();
    const summary = await done;
    expect(summary.status, summary.error).toBe('stopped');
  });

  it('a batch never holds two schemas of one table: a change after ALTER TABLE starts a new batch, even inside one transaction', async () => {
    await q('CREATE SCHEMA split; CREATE TABLE split.t (id integer PRIMARY KEY, v integer)');
    const src = await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'split.t', mode: 'cdc', slotName: 'sluice_typed_split', publicationName: 'sluice_typed_split', heartbeatIntervalMs: 200 });
    await src.open(undefined);
    try {
      const next = async () => {
        for (;;) {
          const b = await src.read();
          if (!b || b.records.length > 0) return b!.records;
        }
      };
      await q('INSERT INTO split.t VALUES (1, 1)');
      const warm = await next(); // the stream is running now
      expect(warm.map((r) => [r.key, (r.meta.schema as TableSchema).columns.length])).toEqual([[{ id: 1 }, 2]]);
      const client = await db.connect();
      try {
        await client.query('BEGIN');
        await client.query('INSERT INTO split.t VALUES (2, 2), (3, 3)');
        await client.query('ALTER TABLE split.t ADD COLUMN w numeric(6,1)');
        await client.query('INSERT INTO split.t VALUES (4, 4, 4.5), (5, 5, 5.5)');
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      await new Promise((r) => setTimeout(r, 1000)); // no read pending: the stream buffers the whole transaction
      const before = await next();
      expect(before.map((r) => r.key)).toEqual([{ id: 2 }, { id: 3 }]);
      const after = await next();
      expect(after.map((r) => r.key)).toEqual([{ id: 4 }, { id: 5 }]);
      expect(before[0].meta.schema).toBe(warm[0].meta.schema);
      expect((after[0].meta.schema as TableSchema).columns.map((c) => `${c.name} ${c.source}`)).toEqual(['id integer', 'v integer', 'w numeric(6,1)']);
      expect([before[1].meta.schema, after[1].meta.schema]).toEqual([undefined, undefined]);
    } finally {
      await src.close();
    }
  });
});

describe.skipIf(!PG.available)('postgres.source guardrails', () => {
  it('confirms the slot only up to what every sink acknowledged', async () => {
    let open!: () => void;
    const gated = collector('pg-gated', { gate: new Promise<void>((r) => (open = r)) });
    await q('CREATE TABLE public.gated (id integer PRIMARY KEY, v text)');
    const { run, done, log } = startFlow({
      name: 'pg-gate',
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'gated', mode: 'cdc', heartbeatIntervalMs: 100, heartbeatTable: 'public.sluice_heartbeat', lagWarnMb: 1 } },
        { id: 'mem', type: 'test.memory', config: { name: 'pg-gated' } },
      ],
      edges: [{ from: 'src', to: 'mem' }],
    });
    await until(async () => (await slotState('sluice_pg_gate_src'))?.active === true, 'the stream to start');
    await q("INSERT INTO public.gated VALUES (1, 'a')");
    const lsn = (await q<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0].lsn;
    await until(() => gated.writes >= 1, 'the sink to receive the change');
    // the sink holds the batch: ten heartbeats (status updates to the server) go by without confirming it
    await new Promise((r) => setTimeout(r, 1000));
    expect(await lsnAtLeast((await slotState('sluice_pg_gate_src')).confirmed, lsn)).toBe(false);
    // meanwhile the server writes WAL elsewhere: the slot's lag is reported
    await q("CREATE TABLE public.noise AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 3000) g");
    await until(() => log.some((m) => /replication slot sluice_pg_gate_src is \d+ MB behind the server's WAL/.test(m)), 'the lag warning');
    expect((await q<{ slot: string }>('SELECT slot FROM public.sluice_heartbeat')).map((r) => r.slot)).toEqual(['sluice_pg_gate_src']);
    open();
    await until(async () => lsnAtLeast((await slotState('sluice_pg_gate_src')).confirmed, lsn), 'the slot to be confirmed once the sink acknowledged');
    expect(flat(gated).map((r) => [r.op, r.key])).toEqual([['c', { id: 1 }]]); // heartbeat rows are not records
    run.stop();
    expect((await done).status).toBe('stopped');
  });

  it('reconnects when its sessions are terminated mid-stream (a stand-in for a server restart) and loses nothing', async () => {
    await q('CREATE TABLE public.bulk (id integer PRIMARY KEY, v text)');
    await q('CREATE TABLE copy.bulk (LIKE public.bulk INCLUDING ALL)');
    const { run, done, log } = startFlow({
      name: 'pg-loss',
      settings: { batchSize: 200 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'bulk', mode: 'snapshot+cdc', heartbeatIntervalMs: 200 } },
        { id: 'out', type: 'postgres.sink', config: { url: '${env:PG_URL}', table: 'copy.bulk', copyThreshold: 100_000 } },
      ],
      edges: [{ from: 'src', to: 'out' }],
    });
    await until(async () => (await slotState('sluice_pg_loss_src'))?.active === true, 'the stream to start');
    await q("INSERT INTO public.bulk SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g");
    await until(async () => Number((await q<{ n: string }>('SELECT count(*)::text AS n FROM copy.bulk'))[0].n) > 1000, 'the first rows');
    const killed = await q<{ n: string }>("SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name LIKE 'sluice:pg-loss:%'");
    expect(Number(killed[0].n)).toBeGreaterThanOrEqual(2); // the walsender and the sink's session at least
    await q("UPDATE public.bulk SET v = 'after the loss' WHERE id % 1000 = 0");
    await q('DELETE FROM public.bulk WHERE id > 19990');
    await until(async () => (await diff('public.bulk', 'copy.bulk')) === 0, 'the target to catch up', 40_000);
    expect(log.join('\n')).toMatch(/replication stream lost .*; reconnecting from/);
    expect(log.join('\n')).toMatch(/replication stream resumed/);
    expect(run.status).toBe('running');
    run.stop();
    expect((await done).status).toBe('stopped');
  });

  it('reports progress: per-table rows read (going on after a resume), estimates after ANALYZE, the phase, and while streaming the slot and its lag', async () => {
    await q('CREATE SCHEMA conv');
    await q('CREATE TABLE conv.a (id integer PRIMARY KEY, v text)');
    await q('CREATE TABLE conv.b (id integer PRIMARY KEY, v text)');
    await q("INSERT INTO conv.a SELECT g, 'a' FROM generate_series(1, 1200) g");
    await q("INSERT INTO conv.b SELECT g, 'b' FROM generate_series(1, 300) g");
    await q('ANALYZE conv.a, conv.b');
    collector('pg-progress');
    const snapshot = startFlow({
      name: 'pg-progress',
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'conv.*', mode: 'snapshot', chunkSize: 500 } },
        { id: 'mem', type: 'test.memory', config: { name: 'pg-progress' } },
      ],
      edges: [{ from: 'src', to: 'mem' }],
    });
    const summary = await snapshot.done;
    expect(summary.status).toBe('completed');
    expect(summary.progress).toEqual({
      src: {
        tables: [
          { name: 'conv.a', phase: 'done', done: 1200, estimated: 1200, rowsPerSec: expect.any(Number) },
          { name: 'conv.b', phase: 'done', done: 300, estimated: 300, rowsPerSec: expect.any(Number) },
        ],
        rowsPerSec: expect.any(Number),
      },
    });

    // resumed mid-snapshot: counting goes on from the committed position (it carries the rows read)
    const first = await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'conv.*', chunkSize: 500 });
    await first.open(undefined);
    await first.read();
    const second = (await first.read())!;
    expect(first.progress!()!.tables).toEqual([
      { name: 'conv.a', phase: 'snapshot', done: 1000, estimated: 1200, rowsPerSec: expect.any(Number) },
      { name: 'conv.b', phase: 'pending', done: 0, estimated: 300 },
    ]);
    await first.close();
    const resumed = await create<SourceInstance>(postgresSource, { url: dbUrl, tables: 'conv.*', chunkSize: 500 });
    const rest = await readAll(resumed, second.position);
    expect(rest.records).toHaveLength(500);
    expect(resumed.progress!()!.tables).toEqual([
      { name: 'conv.a', phase: 'done', done: 1200, estimated: 1200, rowsPerSec: expect.any(Number) },
      { name: 'conv.b', phase: 'done', done: 300, estimated: 300, rowsPerSec: expect.any(Number) },
    ]);

    collector('pg-progress-cdc');
    const cdc = startFlow({
      name: 'pg-progress-cdc',
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'conv.b', mode: 'cdc', heartbeatIntervalMs: 200 } },
        { id: 'mem', type: 'test.memory', config: { name: 'pg-progress-cdc' } },
      ],
      edges: [{ from: 'src', to: 'mem' }],
    });
    await until(async () => (await slotState('sluice_pg_progress_cdc_src'))?.active === true, 'the stream to start');
    await q("UPDATE conv.b SET v = 'changed' WHERE id <= 10");
    await until(() => cdc.run.progress().src?.tables?.[0].done === 10, 'ten changes counted');
    const p = cdc.run.progress().src;
    expect(p.tables).toEqual([{ name: 'conv.b', phase: 'streaming', done: 10, estimated: 300, rowsPerSec: expect.any(Number) }]);
    expect(p.detail).toMatchObject({ slot: 'sluice_pg_progress_cdc_src', connected: true, confirmedLsn: expect.stringMatching(/^[0-9A-F]+\/[0-9A-F]+$/) });
    await until(() => cdc.run.progress().src?.lag?.bytes !== undefined, 'the slot lag measured');
    expect(cdc.run.progress().src.lag!.bytes).toBeGreaterThanOrEqual(0);
    cdc.run.stop();
    expect((await cdc.done).status).toBe('stopped');
    await until(() => db.query("SELECT pg_drop_replication_slot('sluice_pg_progress_cdc_src')").then(() => true, () => false), 'dropping the slot (its walsender exits)');
  });

  it('a dropped slot is an error that says so on the next start (no silent resync)', async () => {
    await q('CREATE TABLE public.dropme (id integer PRIMARY KEY)');
    const state = join(tempDir(), 'state.db');
    const doc = {
      name: 'pg-drop',
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:PG_URL}', tables: 'dropme', mode: 'cdc', heartbeatIntervalMs: 200 } },
        { id: 'mem', type: 'test.memory', config: { name: 'pg-drop' } },
      ],
      edges: [{ from: 'src', to: 'mem' }],
    };
    collector('pg-drop');
    const first = startFlow(doc, { state });
    await until(async () => (await slotState('sluice_pg_drop_src'))?.active === true, 'the stream to start');
    await q('INSERT INTO public.dropme VALUES (1)');
    await until(async () => (await first.store.load('pg-drop'))?.positions.src !== undefined, 'a committed position');
    first.run.stop();
    expect((await first.done).status).toBe('stopped');
    await until(() => db.query("SELECT pg_drop_replication_slot('sluice_pg_drop_src')").then(() => true, () => false), 'dropping the slot (its walsender exits)');
    const summary = await startFlow(doc, { state }).done;
    expect(summary.status).toBe('failed');
    expect(summary.userError).toBe(true);
    expect(summary.error).toMatch(
      /nodes\[src\]\.slotName: replication slot sluice_pg_drop_src no longer exists \(it was dropped\): changes after LSN [0-9A-F]+\/[0-9A-F]+ cannot be read any more and nothing was resynchronised\. .*sluice run --from-start/,
    );
    expect(await slotState('sluice_pg_drop_src')).toBeUndefined(); // not recreated behind the user's back
  });
});

describe.skipIf(!PG.available)('postgres connection errors and testConnection', () => {
  it('testConnection reports the server and CDC readiness, or the error with a hint', async () => {
    const ok = await testConnection({ url: dbUrl });
    expect(ok).toMatchObject({ ok: true, server: expect.stringMatching(/^15\./), cdc: { ready: true, problems: [] } });
    const fields = new URL(dbUrl);
    const ok2 = await testConnection({ type: 'postgres', host: fields.hostname, port: Number(fields.port || 5432), user: 'postgres', database: DB });
    expect(ok2.ok).toBe(true);
    const noRole = await testConnection({ url: dbUrl.replace('postgres@', 'nobody_here@') });
    expect(noRole).toEqual({ ok: false, error: expect.stringMatching(/cannot log in to nobody_here@.*role "nobody_here" does not exist/), hint: expect.stringMatching(/CREATE ROLE "nobody_here" LOGIN/) });
    const refused = await testConnection({ url: 'postgres://postgres@127.0.0.1:1/x' });
    expect(refused).toEqual({ ok: false, error: expect.stringMatching(/cannot connect to postgres@127\.0\.0\.1:1\/x \(connection "test"\): connection refused/), hint: expect.stringMatching(/is PostgreSQL running/) });
    const noDb = await testConnection({ url: dbUrl.replace(DB, 'no_such_db') });
    expect(noDb).toMatchObject({ ok: false, error: expect.stringMatching(/database "no_such_db" does not exist/) });
  });

  it('names the fix for a wrong user, a missing connection, and a missing REPLICATION privilege', async () => {
    const wrongUser = await create<SourceInstance>(postgresSource, { url: dbUrl.replace('postgres@', 'nobody_here@'), tables: 'items' });
    await expect(wrongUser.open(undefined)).rejects.toThrow(/nodes\[n1\]\.url: cannot log in to nobody_here@.*role "nobody_here" does not exist; fix the user of the url/);
    const noConn = await create<SourceInstance>(postgresSource, { connection: 'shop', tables: 'items' });
    await expect(noConn.open(undefined)).rejects.toThrow(/nodes\[n1\]\.connection: the flow has no connection named "shop"/);

    const role = `sluice_norepl_${randomBytes(3).toString('hex')}`;
    roles.push(role);
    await admin.query(`CREATE ROLE ${role} LOGIN`);
    await q(`CREATE TABLE public.owned (id integer PRIMARY KEY); ALTER TABLE public.owned OWNER TO ${role}`);
    const noCreate = await create<SourceInstance>(postgresSource, { url: dbUrl.replace('postgres@', `${role}@`), tables: 'owned', mode: 'cdc' });
    await expect(noCreate.open(undefined)).rejects.toThrow(/nodes\[n1\]\.publicationName: user .* may not create or change publication sluice_test_flow_n1 \(permission denied for database .*\): that needs CREATE on the database/);
    await q(`GRANT CREATE ON DATABASE ${DB} TO ${role}`);
    const src = await create<SourceInstance>(postgresSource, { url: dbUrl.replace('postgres@', `${role}@`), tables: 'owned', mode: 'snapshot+cdc' });
    await expect(src.open(undefined)).rejects.toThrow(new RegExp(`nodes\\[n1\\]\\.mode: user "${role}" may not create replication slot .*lacks the REPLICATION privilege\\. As a superuser run ALTER ROLE "${role}" WITH REPLICATION; or use mode: snapshot`));
    await q('DROP TABLE public.owned');
    await q(`DROP PUBLICATION sluice_test_flow_n1; REVOKE CREATE ON DATABASE ${DB} FROM ${role}`);
  });
});

describe.skipIf(!PG.available)('postgres.source through the CLI, killed and restarted', () => {
  it('SIGKILL mid-snapshot and mid-transaction: each restart resumes, and the target ends equal to the source', async () => {
    expect(existsSync(join(import.meta.dirname, '../../dist/nodes/postgres/source.js')), 'dist/ is built (npx tsc -p .; npm test does it)').toBe(true);
    await q('CREATE TABLE public.kill_src (id integer PRIMARY KEY, v text, n numeric)');
    await q("INSERT INTO public.kill_src SELECT g, 'v' || g, g / 3.0 FROM generate_series(1, 6000) g");
    await q('CREATE TABLE copy.kill_dst (LIKE public.kill_src INCLUDING ALL)');
    // every write statement into the target takes 20 ms: the flow moves about 5,000 rows/s, slow enough to kill it midway
    await q("CREATE FUNCTION copy.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.02); RETURN NULL; END $$");
    await q('CREATE TRIGGER slow AFTER INSERT ON copy.kill_dst FOR EACH STATEMENT EXECUTE FUNCTION copy.slow()');
    const dir = tempDir();
    const file = join(dir, 'flow.yaml');
    const state = join(dir, 'state.db');
    writeFileSync(
      file,
      `apiVersion: sluice/v1
name: pg-kill
settings: { batchSize: 100 }
connections:
  shop: { type: postgres, url: '\${env:PG_URL}' }
nodes:
  - id: src
    type: postgres.source
    config: { connection: shop, tables: public.kill_src, mode: snapshot+cdc, chunkSize: 100, heartbeatIntervalMs: 200 }
  - id: out
    type: postgres.sink
    config: { connection: shop, table: copy.kill_dst, copyThreshold: 100000 }
edges:
  - { from: src, to: out }
`,
    );
    const count = async () => Number((await q<{ n: string }>('SELECT count(*)::text AS n FROM copy.kill_dst'))[0].n);
    const position = async () => {
      const store = new SqliteCheckpointStore(state);
      try {
        return (await store.load('pg-kill'))?.positions.src as Record<string, unknown> | undefined;
      } finally {
        await store.close();
      }
    };
    const start = () => startCli(['run', file, '--state', state, '--quiet'], { env: { PG_URL: dbUrl } });

    // 1. killed in the middle of the snapshot
    const first = start();
    await until(async () => (await count()) >= 1000, 'the first rows of the snapshot');
    first.child.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');
    const afterFirst = await count();
    expect(afterFirst).toBeLessThan(6000);
    expect(await position()).toMatchObject({ phase: 'snapshot', table: 'public.kill_src', after: [expect.any(Number)] });

    // 2. resumes the snapshot, streams; killed in the middle of a 6,000-row transaction
    const second = start();
    await until(async () => (await count()) === 6000 && (await slotState('sluice_pg_kill_src'))?.active === true, 'the rest of the snapshot and the stream');
    await q("INSERT INTO public.kill_src SELECT g, 'tx' || g, g / 7.0 FROM generate_series(10001, 16000) g");
    await until(async () => (await count()) >= 7000, 'part of the transaction');
    second.child.kill('SIGKILL');
    await second.done;
    expect(await count()).toBeLessThan(12000);
    const mid = (await position()) as { phase: string; tx?: { done: number } };
    expect(mid).toMatchObject({ phase: 'cdc', tx: { done: expect.any(Number) } }); // committed mid-transaction

    // 3. resumes inside the transaction, skipping the changes already delivered; more changes; stopped gracefully
    const third = startCli(['run', file, '--state', state, '--json'], { env: { PG_URL: dbUrl } });
    await q("UPDATE public.kill_src SET v = 'updated' WHERE id % 500 = 0");
    await q('DELETE FROM public.kill_src WHERE id BETWEEN 5000 AND 5100');
    await until(async () => (await diff('public.kill_src', 'copy.kill_dst')) === 0, 'the target to equal the source', 40_000);
    third.child.kill('SIGTERM');
    const end = await third.done;
    expect(end.code, end.stderr).toBe(0);
    const summary = JSON.parse(end.stdout) as RunSummary;
    expect(summary.status).toBe('stopped');
    // the rest of the transaction, 24 updates and 101 deletes: nothing of the transaction read twice
    expect(summary.nodes.src.out).toBe(6000 - mid.tx!.done + 24 + 101);
    expect(await position()).toMatchObject({ phase: 'cdc' });
  });
});

/** PostgreSQL's server binaries, for a private scratch cluster (Debian layout) */
const PG_BIN = (() => {
  try {
    const version = readdirSync('/usr/lib/postgresql').sort((a, b) => Number(a) - Number(b)).pop();
    const dir = `/usr/lib/postgresql/${version}/bin`;
    return existsSync(`${dir}/initdb`) ? dir : undefined;
  } catch {
    return undefined;
  }
})();
if (PG.available && !PG_BIN) process.stderr.write('\n\x1b[33m!!! SKIPPING the wal_level test: no PostgreSQL server binaries in /usr/lib/postgresql/*/bin\x1b[0m\n\n');

/** a throw-away cluster with wal_level = replica and TLS (a self-signed certificate for 127.0.0.1) on a free port (about 2 s) */
async function scratchCluster(): Promise<{ url: string; cert: string; stop(): Promise<void> }> {
  const exec = promisify(execFile);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pgwal-'));
  const asRoot = process.getuid?.() === 0;
  const run = (bin: string, args: string[]) => (asRoot ? exec('runuser', ['-u', 'postgres', '--', `${PG_BIN}/${bin}`, ...args]) : exec(`${PG_BIN}/${bin}`, args));
  await exec('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', `${dir}/server.key`, '-out', `${dir}/server.crt`]);
  await exec('chmod', ['600', `${dir}/server.key`]);
  if (asRoot) await exec('chown', ['-R', 'postgres', dir]);
  const port = await new Promise<number>((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const p = (srv.address() as { port: number }).port;
      srv.close(() => resolve(p));
    });
  });
  await run('initdb', ['-D', `${dir}/data`, '-A', 'trust', '-U', 'postgres', '-N']);
  const ssl = `-c ssl=on -c ssl_cert_file=${dir}/server.crt -c ssl_key_file=${dir}/server.key`;
  await run('pg_ctl', ['-D', `${dir}/data`, '-w', '-l', `${dir}/log`, '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c wal_level=replica -c fsync=off ${ssl}`, 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    cert: `${dir}/server.crt`,
    async stop() {
      await run('pg_ctl', ['-D', `${dir}/data`, '-m', 'immediate', 'stop']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe.skipIf(!PG.available || !PG_BIN)('postgres.source on a server without wal_level = logical, with TLS', () => {
  it('cdc modes fail with the setting and the fix; snapshot still works; testConnection says CDC is not ready; TLS options', async () => {
    const cluster = await scratchCluster();
    try {
      const c = new pg.Client({ connectionString: cluster.url });
      await c.connect();
      await c.query('CREATE TABLE t (id integer PRIMARY KEY); INSERT INTO t VALUES (1), (2)');
      await c.end();
      const cdc = await create<SourceInstance>(postgresSource, { url: cluster.url, tables: 't', mode: 'snapshot+cdc' });
      await expect(cdc.open(undefined)).rejects.toThrow(`nodes[n1].mode: ${walLevelMessage('replica')}`);
      expect(walLevelMessage('replica')).toBe(
        'logical replication needs wal_level = logical, but the server runs with wal_level = replica: run ALTER SYSTEM SET wal_level = logical (or set it in postgresql.conf) and restart PostgreSQL; or use mode: snapshot',
      );
      const snap = await readAll(await create<SourceInstance>(postgresSource, { url: cluster.url, tables: 't' }));
      expect(snap.records.map((r) => r.key)).toEqual([{ id: 1 }, { id: 2 }]);
      const test = await testConnection({ url: cluster.url });
      expect(test).toMatchObject({ ok: true, cdc: { ready: false, problems: [walLevelMessage('replica')] } });

      // TLS: verified against the server's certificate (a file path), required without verification, refused when untrusted
      const c2 = new pg.Client({ connectionString: cluster.url });
      await c2.connect();
      const tlsSource = await create<SourceInstance>(postgresSource, { url: cluster.url, tls: { ca: cluster.cert }, tables: 't' });
      await tlsSource.open(undefined);
      const sessions = await c2.query("SELECT bool_and(s.ssl) AS ssl, count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = 'sluice:test-flow:n1'");
      expect(sessions.rows[0].ssl).toBe(true);
      expect(sessions.rows[0].n).toBeGreaterThan(0);
      expect((await tlsSource.read())!.records).toHaveLength(2);
      await tlsSource.close();
      expect(await testConnection({ url: `${cluster.url}?sslmode=require` })).toMatchObject({ ok: true });
      const untrusted = await create<SourceInstance>(postgresSource, { url: cluster.url, tls: {}, tables: 't' });
      await expect(untrusted.open(undefined)).rejects.toThrow(/nodes\[n1\]\.tls: TLS to postgres@127\.0\.0\.1:\d+\/postgres \(url\) failed: .*; set tls\.ca to the server's CA certificate/);
      const tlsSink = await create<SinkInstance>(postgresSink, { url: `${cluster.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(cluster.cert)}`, table: 'tls_out' });
      await writeAll(tlsSink, [snap.records]);
      expect((await c2.query('SELECT count(*)::int AS n FROM tls_out')).rows[0].n).toBe(2);
      await c2.end();
    } finally {
      await cluster.stop();
    }
  });
});

describe.skipIf(!PG.available)('core.denormalize lookup from a postgres reference table', () => {
  it('enriches records with matching rows (one query per batch), values as postgres.source reads them', async () => {
    await q('CREATE TABLE public.customers (id integer PRIMARY KEY, name text, credit numeric(10,2), since timestamptz)');
    await q("INSERT INTO public.customers VALUES (1, 'Ada', 10.50, '2026-01-01 00:00:00.5+00'), (2, 'Alan', NULL, NULL), (3, 'Grace', 7, NULL)");
    await q('CREATE TABLE public.addresses (aid integer PRIMARY KEY, customer_id integer, city text)');
    await q("INSERT INTO public.addresses VALUES (10, 1, 'London'), (11, 3, 'New York'), (12, 1, 'Bath')");
    const { denormalize } = await import('../../nodes/catalog.js');
    type Lookup = TransformInstance & { stats(): { queries: number } };
    const logs: string[] = [];
    const node = async (config: Record<string, unknown>) => {
      const n = await create<Lookup>(denormalize as never, { mode: 'lookup', ...config }, {
        connection: (name: string) => (name === 'shop' ? { type: 'postgres', url: dbUrl } : undefined),
        log: { info: () => undefined, warn: (m: string) => logs.push(m), error: () => undefined },
      });
      await n.open(undefined);
      return n;
    };
    const order = (id: number, customer_id: unknown): SluiceRecord => ({ key: { id }, value: { id, customer_id }, op: 'c', meta: {} });

    const one = await node({ as: 'customer', from: { type: 'postgres', connection: 'shop', table: 'customers' }, localKey: 'customer_id', foreignKey: 'id' });
    const { out, error } = await one.process([order(1, 3), order(2, '1'), order(3, 42), order(4, 'abc')], 'in');
    expect(error).toEqual([]);
    expect(out.map((r) => r.value!.customer)).toEqual([
      { id: 3, name: 'Grace', credit: '7.00', since: null },
      { id: 1, name: 'Ada', credit: '10.50', since: '2026-01-01T00:00:00.5Z' },
      null,
      null,
    ]);
    expect(one.stats().queries).toBe(1);
    await one.close();

    const many = await node({ as: 'addresses', from: { type: 'postgres', url: dbUrl, table: 'public.addresses' }, localKey: 'customer_id', foreignKey: 'customer_id', many: true });
    const r = await many.process([order(1, 1), order(2, 2)], 'in');
    expect(r.out.map((x) => x.value!.addresses)).toEqual([
      [
        { aid: 10, customer_id: 1, city: 'London' },
        { aid: 12, customer_id: 1, city: 'Bath' },
      ],
      [],
    ]);
    expect(logs.join('\n')).toMatch(/column customer_id of table public\.addresses has no usable index/);
    await many.close();

    const missing = await create<Lookup>(denormalize as never, { mode: 'lookup', as: 'c', from: { type: 'postgres', url: dbUrl, table: 'nope' }, localKey: 'customer_id', foreignKey: 'id' });
    await expect(missing.open(undefined)).rejects.toThrow(/nodes\[n1\]\.from\.table: table public\.nope not found at postgres@.*; tables there: .*public\.customers/);
  });
});
