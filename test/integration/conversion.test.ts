/**
 * Conversion mode: one source over several tables, one sink whose `table` holds `{table}`: every table
 * is created on the target (createTable) and copied; a stop in the middle and a second run finish the
 * copy; the status counts rows per table. PostgreSQL → PostgreSQL (another schema) and MySQL/MariaDB →
 * SQLite. What the target holds is read back with Sluice's own sources and compared value for value.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import type { RunSummary } from '../../runtime/executor/flow-run.js';
import type { SluiceRecord, SourceInstance } from '../../runtime/index.js';
import { postgresSource } from '../../nodes/postgres/source.js';
import { sqliteSource } from '../../nodes/sqlite/source.js';
import { mysqlSource } from '../../nodes/mysql/source.js';
import { resolveTableName } from '../../nodes/shared/table-router.js';
import { create, readAll, tempDir } from '../helpers/node-harness.js';
import { probeMysql, probePostgres, service } from '../helpers/services.js';
import { runFlow, scratchMysqlBlock, scratchPgBlock, withDb } from '../helpers/conversion-run.js';

const PG = await service('PostgreSQL', 'PG_URL', 'postgres://postgres@127.0.0.1:5432/postgres', probePostgres);
const MY = await service('MySQL/MariaDB', 'MYSQL_URL', 'mysql://root@127.0.0.1:3306/test', probeMysql);

const suffix = randomBytes(4).toString('hex');

const byKey = (records: SluiceRecord[]) => Object.fromEntries(records.map((r) => [JSON.stringify(r.key), r.value]));

describe('resolveTableName', () => {
  it('fills {table} and {schema} from the source table name', () => {
    expect(resolveTableName('copy.{table}', 'shop.orders')).toBe('copy.orders');
    expect(resolveTableName('{schema}_copy.{table}', 'shop.orders')).toBe('shop_copy.orders');
    expect(resolveTableName('{table}', 'orders')).toBe('orders');
  });
});

describe.skipIf(!PG.available)('conversion mode: PostgreSQL → PostgreSQL', () => {
  const DB = `sluice_conv_${suffix}`;
  const pgDb = scratchPgBlock(PG.url, DB, async (q) => {
    await q('CREATE SCHEMA shop; CREATE SCHEMA copy');
    await q(`CREATE TABLE shop.customers (id bigint PRIMARY KEY, name text NOT NULL, tags text[], joined timestamptz, balance numeric(20,6))`);
    await q(`CREATE TABLE shop.orders (id integer PRIMARY KEY, customer_id bigint, doc jsonb, amount numeric(12,2), ref uuid, paid boolean)`);
    await q(`CREATE TABLE shop.blobs (a integer, b integer, data bytea, PRIMARY KEY (a, b))`);
    await q(`INSERT INTO shop.customers SELECT g, 'c' || g, ARRAY['t' || (g % 3)], '2024-01-01T00:00:00Z'::timestamptz + g * interval '1 minute', g * 1.000001 FROM generate_series(1, 3000) g`);
    await q(`INSERT INTO shop.orders SELECT g, g % 3000 + 1, jsonb_build_object('n', g, 'nested', jsonb_build_object('x', g % 7)), g * 0.01, md5(g::text)::uuid, g % 2 = 0 FROM generate_series(1, 5000) g`);
    await q(`INSERT INTO shop.blobs SELECT g / 10, g % 10, decode(md5(g::text), 'hex') FROM generate_series(1, 800) g`);
    await q('ANALYZE shop.customers, shop.orders, shop.blobs');
  });
  const { url: dbUrl, q } = pgDb;

  it('creates every table on the target and copies it; a stop in the middle and a second run finish the copy', async () => {
    const doc = {
      name: 'pg-convert',
      settings: { batchSize: 500 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:DB_URL}', tables: 'shop.*', mode: 'snapshot', chunkSize: 500 } },
        { id: 'dst', type: 'postgres.sink', config: { url: '${env:DB_URL}', table: 'copy.{table}', createTable: true } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const state = join(tempDir(), 'state.db');
    const env = { DB_URL: dbUrl };
    const first = await runFlow(doc, state, env, async () => (await q("SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'copy'"))[0].n >= 1);
    expect(first.status).toBe('stopped');
    expect(first.progress!.src.tables!.map((t) => t.name)).toEqual(['shop.blobs', 'shop.customers', 'shop.orders']);
    expect(first.nodes.dst.in).toBeLessThan(8800); // stopped in the middle

    const second = await runFlow(doc, state, env);
    expect(second.status, second.error).toBe('completed');
    expect(second.resumedFrom).toBeDefined();
    expect(second.progress!.src.tables!.every((t) => t.phase === 'done')).toBe(true);

    // every table exists on the target with a primary key, and holds what the source holds
    const created = await q("SELECT table_name FROM information_schema.tables WHERE table_schema = 'copy' ORDER BY 1");
    expect(created.map((r) => r.table_name)).toEqual(['blobs', 'customers', 'orders']);
    for (const table of ['customers', 'orders', 'blobs']) {
      const read = async (schema: string) => byKey((await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: `${schema}.${table}` }))).records);
      const source = await read('shop');
      expect(Object.keys(source).length).toBeGreaterThan(0);
      expect(await read('copy'), table).toEqual(source);
    }
  });

  it('createTable gives every column its declared type (meta.schema): the primary key and its order kept (NOT NULL on key columns only), values equal row for row', async () => {
    await q('CREATE SCHEMA typed; CREATE SCHEMA typed_copy');
    await q(`CREATE TABLE typed.all_types (
      tenant smallint, id integer, big bigint NOT NULL, amount numeric(12,2) NOT NULL, exact numeric, r real, d double precision, flag boolean,
      name varchar(20), code char(3), note text, doc jsonb, raw bytea, day date, at timestamp(3), at_tz timestamptz, t time, uid uuid, nums int[],
      PRIMARY KEY (id, tenant))`);
    // from the values alone the created columns would be bigint (smallint, integer, whole reals), text (numeric, varchar, dates, uuid), jsonb (the array)
    await q(`INSERT INTO typed.all_types SELECT g % 3, g, g, g * 1.25, CASE WHEN g % 5 = 0 THEN NULL ELSE '123456789012345678901234567890.123456789'::numeric + g END,
        g * 0.5, g / 8.0, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END, 'name ' || g, lpad((g % 1000)::text, 3, '0'), repeat('x', g % 50),
        jsonb_build_object('g', g, 'a', jsonb_build_array(1, 'two', null)), decode(md5(g::text), 'hex'), '2024-02-29'::date + g,
        '2024-01-02 03:04:05.123'::timestamp + g * interval '1.001 second', '2024-01-02 03:04:05.123456+00'::timestamptz + g * interval '1 minute',
        '03:04:05.654321'::time + g * interval '1 second', md5(g::text)::uuid, ARRAY[g, NULL, -g]
      FROM generate_series(1, 1200) g`);
    await q(`INSERT INTO typed.all_types (tenant, id, big, amount, r, d, name, code, doc, at, at_tz, nums) VALUES
      (-32768, -2147483648, -9223372036854775808, -9999999999.99, 'NaN', '-Infinity', '', 'ab', '"just a string"', 'infinity', '1969-07-20 20:17:40.5+00', '{}'),
      (32767, 2147483647, 9223372036854775807, 9999999999.99, 3.4e38, 1e308, 'ünïcødé ✓ 20 chars..', 'xyz', '[]', '1999-12-31 23:59:59.999', '2038-01-19 03:14:08+00', '{{1,2},{3,4}}')`);
    const doc = {
      name: 'pg-typed',
      settings: { batchSize: 500 },
      nodes: [
        { id: 'src', type: 'postgres.source', config: { url: '${env:DB_URL}', tables: 'typed.*', chunkSize: 500 } },
        { id: 'dst', type: 'postgres.sink', config: { url: '${env:DB_URL}', table: 'typed_copy.{table}' } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const summary = await runFlow(doc, join(tempDir(), 'state.db'), { DB_URL: dbUrl });
    expect(summary.status, summary.error).toBe('completed');

    const columns = async (schema: string) =>
      (
        await pgDb.db.query<{ c: string; t: string; nn: boolean }>(
          "SELECT attname AS c, format_type(atttypid, atttypmod) AS t, attnotnull AS nn FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
          [`${schema}.all_types`],
        )
      ).rows.map((r) => `${r.c} ${r.t}${r.nn ? ' not null' : ''}`);
    expect(await columns('typed_copy')).toEqual([
      'tenant smallint not null',
      'id integer not null',
      'big bigint', // a declared NOT NULL is kept on key columns only
      'amount numeric(12,2)',
      'exact numeric',
      'r real',
      'd double precision',
      'flag boolean',
      'name character varying(20)',
      'code character(3)',
      'note text',
      'doc jsonb',
      'raw bytea',
      'day date',
      'at timestamp(3) without time zone',
      'at_tz timestamp with time zone',
      't time without time zone',
      'uid uuid',
      'nums jsonb', // arrays travel as JS arrays: json
    ]);
    // the same columns as the source, but for the array and the NOT NULL of columns outside the key
    expect((await columns('typed')).map((c) => c.replace('integer[]', 'jsonb').replace(/^(big|amount) (.*) not null$/, '$1 $2'))).toEqual(await columns('typed_copy'));
    const pk = async (schema: string) =>
      (
        await pgDb.db.query<{ c: string }>(
          'SELECT a.attname AS c FROM pg_index i CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(n, o) JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n WHERE i.indrelid = $1::regclass AND i.indisprimary ORDER BY k.o',
          [`${schema}.all_types`],
        )
      ).rows.map((r) => r.c);
    expect(await pk('typed_copy')).toEqual(['id', 'tenant']);

    const read = async (schema: string) => byKey((await readAll(await create<SourceInstance>(postgresSource, { url: dbUrl, tables: `${schema}.all_types` }))).records);
    const source = await read('typed');
    expect(Object.keys(source)).toHaveLength(1202);
    expect(await read('typed_copy')).toEqual(source);
    // and as PostgreSQL sees them: every column's text, the array's as its JSON
    const text = async (schema: string) =>
      (await pgDb.db.query({ text: `SELECT ${[...'tenant id big amount exact r d flag name code note doc raw day at at_tz t uid'.split(' ').map((c) => `${c}::text`), 'to_jsonb(nums)::text'].join(', ')} FROM ${schema}.all_types ORDER BY id`, rowMode: 'array' })).rows;
    expect(await text('typed_copy')).toEqual(await text('typed'));
  });
});

describe.skipIf(!PG.available || !MY.available)('conversion mode across servers: declared types', () => {
  const PGDB = `sluice_xconv_${suffix}`;
  const MYDB = `sluice_xconv_${suffix}`;
  const pgs = scratchPgBlock(PG.url, PGDB);
  const mys = scratchMysqlBlock(MY.url, MYDB, (my) => my.query(`SET time_zone = '+00:00'`), { dateStrings: true, supportBigNumbers: true, bigNumberStrings: true });
  const pgUrl = pgs.url;
  const myUrl = withDb(MY.url, MYDB);

  const pgColumns = async (table: string) =>
    (
      await pgs.db.query<{ c: string; t: string; nn: boolean }>(
        'SELECT attname AS c, format_type(atttypid, atttypmod) AS t, attnotnull AS nn FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum',
        [table],
      )
    ).rows.map((r) => `${r.c} ${r.t}${r.nn ? ' not null' : ''}`);

  it('MySQL/MariaDB → postgres.sink: DECIMAL(20,6), BIGINT UNSIGNED, TINYINT(1), DATETIME(3), TIMESTAMP, VARCHAR(50), JSON, VARBINARY become numeric(20,6), numeric(20,0), boolean ... values exact', async () => {
    await mys.db.query(`CREATE TABLE ${MYDB}.m2p (id BIGINT UNSIGNED PRIMARY KEY, amount DECIMAL(20,6) NOT NULL, flag TINYINT(1), made DATETIME(3), ts TIMESTAMP NULL,
      name VARCHAR(50) NOT NULL, doc JSON, bin VARBINARY(16), small SMALLINT UNSIGNED, dur TIME(2))`);
    const rows: unknown[][] = [];
    // first values that would mislead a value-based choice: small ids, whole amounts, null timestamps
    for (let i = 1; i <= 700; i++) {
      rows.push([i, `${i}.${String(i * 7).padStart(6, '0').slice(-6)}`, i % 3 === 0 ? null : i % 2, i % 4 === 0 ? null : `2024-02-03 04:05:06.${String(i % 1000).padStart(3, '0')}`,
        i % 5 === 0 ? null : `2024-03-04 05:06:${String(i % 60).padStart(2, '0')}`, `name ${i}`, JSON.stringify({ i, tags: ['a', i % 5, null] }), Buffer.from([i % 256, 0, 255]), i * 90, i % 6 === 0 ? null : `${i % 2 ? '-' : ''}${i % 839}:${String(i % 60).padStart(2, '0')}:01.${String(i % 100).padStart(2, '0')}`]);
    }
    rows.push(['18446744073709551615', '99999999999999.999999', 5, '9999-12-31 23:59:59.999', '2038-01-19 03:14:07', 'ünïcødé', '"just a string"', Buffer.alloc(0), 65535, '838:59:59.99']);
    rows.push(['9007199254740993', '-0.000001', 0, '1000-01-01 00:00:00.000', '1970-01-01 00:00:01', '', '[1, 2.5, {"x": null}]', Buffer.from('00ff', 'hex'), 0, '-838:59:59.99']);
    await mys.db.query(`INSERT INTO ${MYDB}.m2p VALUES ?`, [rows]);

    const summary = await runFlow(
      {
        name: 'my-to-pg',
        settings: { batchSize: 300 },
        nodes: [
          { id: 'src', type: 'mysql.source', config: { url: myUrl, tables: ['m2p'] } },
          { id: 'dst', type: 'postgres.sink', config: { url: pgUrl, table: 'public.{table}' } },
        ],
        edges: [{ from: 'src', to: 'dst' }],
      },
      join(tempDir(), 'state.db'),
      {},
    );
    expect(summary.status, summary.error).toBe('completed');
    expect(await pgColumns('public.m2p')).toEqual([
      'id numeric(20,0) not null',
      'amount numeric(20,6)',
      'flag boolean',
      'made timestamp(3) without time zone',
      'ts timestamp(0) with time zone',
      'name character varying(50)',
      'doc jsonb',
      'bin bytea',
      'small integer', // SMALLINT UNSIGNED goes to 65,535
      'dur interval', // a MySQL TIME is a duration of up to ±838 hours: PostgreSQL's time holds 00:00–24:00
    ]);
    // the key is the source table's
    expect((await pgs.db.query("SELECT a.attname AS c FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'public.m2p'::regclass AND i.indisprimary")).rows).toEqual([{ c: 'id' }]);

    // values, as each server prints them
    const [mine] = await mys.db.query<RowDataPacket[]>(
      `SELECT CAST(id AS CHAR) AS id, CAST(amount AS CHAR) AS amount, flag, DATE_FORMAT(made, '%Y-%m-%d %H:%i:%s.%f') AS made, UNIX_TIMESTAMP(ts) AS ts, name, CAST(doc AS CHAR) AS doc, HEX(bin) AS bin, small, TIME_TO_SEC(dur) AS dur FROM ${MYDB}.m2p ORDER BY id`,
    );
    const theirs = (
      await pgs.db.query(
        `SELECT id::text AS id, amount::text AS amount, flag, to_char(made, 'YYYY-MM-DD HH24:MI:SS.US') AS made, extract(epoch FROM ts)::bigint AS ts, name, doc, upper(encode(bin, 'hex')) AS bin, small, extract(epoch FROM dur)::float8 AS dur FROM public.m2p ORDER BY id`,
      )
    ).rows;
    expect(theirs).toHaveLength(rows.length);
    expect(theirs).toEqual(
      mine.map((r) => ({
        ...r,
        flag: r.flag === null ? null : r.flag !== 0, // TINYINT(1): 0 false, anything else true
        ts: r.ts === null ? null : String(Math.round(Number(r.ts))),
        doc: JSON.parse(r.doc),
        dur: r.dur === null ? null : Number(r.dur), // seconds, fraction included
      })),
    );
    expect(theirs.find((r) => r.id === '18446744073709551615')).toMatchObject({ amount: '99999999999999.999999', flag: true, made: '9999-12-31 23:59:59.999000', small: 65535 });
  });

  it('postgres.source → mysql.sink: the created MariaDB columns come from the PostgreSQL declared types (numeric(12,2) → DECIMAL(12,2), timestamptz → TIMESTAMP ...), values exact', async () => {
    await pgs.db.query(`CREATE TABLE public.p2m (id integer PRIMARY KEY, small smallint NOT NULL, big bigint, amount numeric(12,2) NOT NULL, r real, d double precision,
      flag boolean, name varchar(20), code char(3), note text, doc jsonb, raw bytea, day date, at timestamp(3), at_tz timestamptz, t time(2), uid uuid, nums int[])`);
    await pgs.db.query(`INSERT INTO public.p2m SELECT g, g % 100, g, g * 1.25, g * 0.5, g / 8.0, CASE WHEN g % 7 = 0 THEN NULL ELSE g % 2 = 0 END, 'name ' || g, lpad(g::text, 3, '0'),
        repeat('x', g % 50), jsonb_build_object('g', g, 'a', jsonb_build_array(1, 'two', null)), decode(md5(g::text), 'hex'), '2024-02-29'::date + g,
        '2024-01-02 03:04:05.123'::timestamp + g * interval '1.001 second', '2024-01-02 03:04:05.123456+00'::timestamptz + g * interval '1 minute',
        make_time(3, 4, 5 + (g % 9 + 1) * 0.11), overlay(overlay(md5(g::text) placing '4' from 13) placing '8' from 17)::uuid, ARRAY[g, NULL, -g]
      FROM generate_series(1, 700) g`);
    await pgs.db.query(`INSERT INTO public.p2m (id, small, big, amount, name, code, at, at_tz) VALUES (0, -32768, -9223372036854775808, -9999999999.99, '', 'ab', '1000-01-01 00:00:00', '1970-01-01 00:00:01+00'),
      (1000000, 32767, 9223372036854775807, 9999999999.99, 'ünïcødé ✓', 'xyz', '9999-12-31 23:59:59.999', '2038-01-19 03:14:07.999999+00')`);

    const summary = await runFlow(
      {
        name: 'pg-to-my',
        settings: { batchSize: 300 },
        nodes: [
          { id: 'src', type: 'postgres.source', config: { url: pgUrl, tables: 'public.p2m', chunkSize: 300 } },
          { id: 'dst', type: 'mysql.sink', config: { url: myUrl, table: '{table}' } },
        ],
        edges: [{ from: 'src', to: 'dst' }],
      },
      join(tempDir(), 'state.db'),
      {},
    );
    expect(summary.status, summary.error).toBe('completed');
    const [cols] = await mys.db.query<RowDataPacket[]>(
      'SELECT COLUMN_NAME AS c, COLUMN_TYPE AS t, IS_NULLABLE AS n, COLUMN_KEY AS k FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION',
      [MYDB, 'p2m'],
    );
    expect(cols.map((r) => `${r.c} ${String(r.t).replace(/^(bigint|int|smallint)\(\d+\)/, '$1')}${r.n === 'NO' ? ' not null' : ''}${r.k === 'PRI' ? ' pk' : ''}`)).toEqual([
      'id int not null pk',
      'small smallint',
      'big bigint',
      'amount decimal(12,2)',
      'r float',
      'd double',
      'flag tinyint(1)',
      'name varchar(20)',
      'code char(3)',
      'note longtext',
      'doc longtext', // MariaDB's JSON
      'raw longblob',
      'day date',
      'at datetime(3)',
      'at_tz timestamp(6)',
      't time(2)',
      'uid uuid',
      'nums longtext', // JSON: the array
    ]);
    const [mine] = await mys.db.query<RowDataPacket[]>(
      `SELECT id, small, CAST(big AS CHAR) AS big, CAST(amount AS CHAR) AS amount, r, d, flag, name, code, note, CAST(doc AS CHAR) AS doc, HEX(raw) AS raw, CAST(day AS CHAR) AS day,
        DATE_FORMAT(at, '%Y-%m-%d %H:%i:%s.%f') AS at, DATE_FORMAT(at_tz, '%Y-%m-%d %H:%i:%s.%f') AS at_tz, CAST(t AS CHAR) AS t, CAST(uid AS CHAR) AS uid, CAST(nums AS CHAR) AS nums FROM ${MYDB}.p2m ORDER BY id`,
    );
    const theirs = (
      await pgs.db.query(
        `SELECT id, small, big::text AS big, amount::text AS amount, r, d, flag, name, code::text AS code, note, doc, upper(encode(raw, 'hex')) AS raw, day::text AS day,
          to_char(at, 'YYYY-MM-DD HH24:MI:SS.US') AS at, to_char(at_tz AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') AS at_tz, t::text AS t, uid::text AS uid, nums FROM public.p2m ORDER BY id`,
      )
    ).rows;
    expect(mine).toHaveLength(702);
    expect(mine.map((r) => ({ ...r, flag: r.flag === null ? null : r.flag === 1, doc: r.doc === null ? null : JSON.parse(r.doc), nums: r.nums === null ? null : JSON.parse(r.nums) }))).toEqual(theirs);
  });
});

describe.skipIf(!MY.available)('conversion mode: MySQL/MariaDB → SQLite', () => {
  const DB = `sluice_conv_${suffix}`;
  scratchMysqlBlock(MY.url, DB, async (db) => {
    await db.query(`USE ${DB};
      CREATE TABLE items (id BIGINT UNSIGNED PRIMARY KEY, price DECIMAL(20,6), made DATETIME(6), doc JSON, note VARCHAR(200), data BLOB);
      CREATE TABLE stock (sku VARCHAR(20), site INT, qty INT, PRIMARY KEY (sku, site));`);
    const items = Array.from({ length: 2500 }, (_, i) => [i + 1, `${i}.123456`, `2024-02-03 04:05:06.${String(i % 1000000).padStart(6, '0')}`, JSON.stringify({ i, tags: ['a', i % 5] }), i % 4 ? `note ${i}` : null, Buffer.from([i % 256, 0, 255])]);
    await db.query(`INSERT INTO ${DB}.items VALUES ?`, [items]);
    const stock = Array.from({ length: 900 }, (_, i) => [`sku${i % 300}`, Math.floor(i / 300), i]);
    await db.query(`INSERT INTO ${DB}.stock VALUES ?`, [stock]);
  });

  it('creates each table in SQLite and copies it; a stop in the middle and a second run finish the copy', async () => {
    const dir = tempDir();
    const target = join(dir, 'copy.db');
    const doc = {
      name: 'my-convert',
      settings: { batchSize: 200 },
      nodes: [
        { id: 'src', type: 'mysql.source', config: { url: '${env:MY_URL}', tables: [`${DB}.*`], chunkSize: 200 } },
        { id: 'dst', type: 'sqlite.sink', config: { path: target, table: '{table}' } },
      ],
      edges: [{ from: 'src', to: 'dst' }],
    };
    const state = join(dir, 'state.db');
    const env = { MY_URL: withDb(MY.url, DB) };
    const first = await runFlow(doc, state, env, async () => {
      const d = new (await import('better-sqlite3')).default(target, { readonly: true, fileMustExist: true });
      try {
        return (d.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'items'").get() as { n: number }).n > 0;
      } finally {
        d.close();
      }
    });
    expect(first.status).toBe('stopped');
    expect(first.nodes.dst.in).toBeLessThan(3400); // stopped in the middle
    const second = await runFlow(doc, state, env);
    expect(second.status, second.error).toBe('completed');
    expect(second.resumedFrom).toBeDefined();
    expect(second.progress!.src.tables!.map((t) => [t.name, t.phase])).toEqual([
      [`${DB}.items`, 'done'],
      [`${DB}.stock`, 'done'],
    ]);
    // rows read per table across the two runs: every row at least once (what the stop left unacknowledged is read again)
    const readOf = (s: RunSummary, t: string) => s.progress!.src.tables!.find((x) => x.name === `${DB}.${t}`)!.done;
    expect(readOf(first, 'items') + readOf(second, 'items')).toBeGreaterThanOrEqual(2500);
    expect(readOf(first, 'stock') + readOf(second, 'stock')).toBeGreaterThanOrEqual(900);
    expect(second.progress!.src.tables!.every((t) => typeof t.estimated === 'number')).toBe(true);
    // what Sluice reads back from SQLite is what it read from MySQL (JSON comes back as its text)
    for (const [table, id] of [['items', (v: Record<string, unknown>) => String(v.id)], ['stock', (v: Record<string, unknown>) => `${v.sku}/${v.site}`]] as const) {
      const byId = (records: SluiceRecord[]) => Object.fromEntries(records.map((r) => [id(r.value as Record<string, unknown>), r.value]));
      const source = byId((await readAll(await create<SourceInstance>(mysqlSource, { url: withDb(MY.url, DB), tables: [table] }))).records);
      const copy = byId((await readAll(await create<SourceInstance>(sqliteSource, { path: target, table }))).records);
      expect(Object.keys(copy).sort(), table).toEqual(Object.keys(source).sort());
      for (const [k, v] of Object.entries(source)) {
        const got = { ...(copy[k] as Record<string, unknown>) };
        for (const [f, x] of Object.entries(v as Record<string, unknown>)) if (x !== null && typeof x === 'object' && !('$base64' in x) && typeof got[f] === 'string') got[f] = JSON.parse(got[f] as string);
        expect(got, `${table} ${k}`).toEqual(v);
      }
    }
  });
});
